"""An exploration that judged nothing is "not judged": shown apart, and never a pass.

``migration-kit checklist --migrator cmd:true`` used to print "[x] 14 ... passed" (2 cases,
2 ok): a migrator that changes nothing has no file operation to fail, so every case "held".
"""

from __future__ import annotations

from pathlib import Path

from fixtures.build import build
from fixtures.spec import TreeSpec, UserSpec
from harness.explore.results import ExploreReport, nothing_judged_reason
from harness.judge.snapshot import Snapshot
from harness.report.checklist import (
    ChecklistRun,
    ItemStatus,
    ScenarioResult,
    checklist_lines,
    item_outcomes,
    markdown,
    verdict_line,
)

REASON = "the fault-free run changed nothing in the tree (exit status 0): ..."


def _result(
    nodeid: str, outcome: str, marker: str, item: int, message: str = "", *, unjudged=False
) -> ScenarioResult:
    return ScenarioResult(nodeid, outcome, (marker,), (item,), message=message, not_judged=unjudged)


PASSED_1 = _result("scenarios/test_01_small_db.py::test_small", "passed", "small_db", 1)
UNJUDGED = _result(
    "scenarios/test_faults_explore.py::test_fault_case[0-kill]",
    "skipped",
    "faults",
    14,
    f"not judged: {REASON}",
    unjudged=True,
)


def test_an_item_not_judged_is_shown_apart_and_is_no_pass() -> None:
    run = ChecklistRun("cmd:true", 1.0, (PASSED_1, UNJUDGED))
    by_number = {o.item.number: o for o in item_outcomes(run.results)}
    item = by_number[14]
    assert item.status == ItemStatus.NOT_JUDGED
    assert item.box == "[?]"
    assert item.summary().startswith("NOT JUDGED: the fault-free run changed nothing")
    assert not run.failed and run.unjudged_items == [14]  # the checklist command exits 1
    assert verdict_line(run).startswith("NOT JUDGED: item(s) 14")
    lines = "\n".join(checklist_lines(run))
    assert "[?] 14." in lines and "[x] 14." not in lines
    assert f"not judged: {REASON}" in markdown(run)


def test_a_failure_still_reads_failed_beside_an_item_not_judged() -> None:
    failed = _result("scenarios/test_01_small_db.py::test_small", "failed", "small_db", 1)
    run = ChecklistRun("x", 1.0, (failed, UNJUDGED))
    assert verdict_line(run).startswith("FAILED: item(s) 1 broken; item(s) 14 not judged")


def test_a_run_that_changes_nothing_or_never_ends_cannot_be_judged(tmp_path: Path) -> None:
    root = tmp_path / "data"
    build(TreeSpec(users=(UserSpec("alice", items=5, images=1),), seed=3), root)
    before = Snapshot.take(root)
    assert "changed nothing" in (nothing_judged_reason(before, Snapshot.take(root), 0) or "")
    assert "did not finish" in (nothing_judged_reason(before, before, -9) or "")
    (root / "alice" / "peek.db").unlink()
    assert nothing_judged_reason(before, Snapshot.take(root), 0) is None


def test_an_exploration_report_not_judged_fails_the_explore_command() -> None:
    report = ExploreReport(
        target={"migrator": "cmd:true"}, baseline=(), results=(), nothing_judged=REASON
    )
    assert report.exit_status == 1
    assert f"NOT JUDGED: {REASON}" in report.render()
    assert ExploreReport.from_json(report.to_json()).nothing_judged == REASON
