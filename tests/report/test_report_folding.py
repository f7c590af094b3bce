"""How results fold into checklist items and render (``harness.report.checklist``), and which
of the explorer's cases a ``FaultSite`` picks: the logic, without child processes."""

from __future__ import annotations

import json

from harness.explore.results import Case
from harness.explore.sites import FaultSite
from harness.faults.plan import KILL, Operation, applicable_effects
from harness.report.checklist import (
    ChecklistRun,
    ScenarioResult,
    checklist_lines,
    item_outcomes,
    markdown,
)

REPLAY = "pytest --pyargs scenarios.test_04_rollback::test_x --migrator cmd:x --mk-seed 3"


def result(nodeid: str, outcome: str, marker: str, number: int, **kw) -> ScenarioResult:
    return ScenarioResult(nodeid, outcome, (marker,), (number,), seed=3, **kw)


RUN = ChecklistRun(
    "cmd:x",
    12.5,
    (
        result("s/t1.py::a", "passed", "small_db", 1),
        result("s/t2.py::a", "skipped", "large_db", 2, message="a > 100 MB tree: --large"),
        result("s/t4.py::a", "passed", "rollback", 4),
        result(
            "s/t4.py::b",
            "failed",
            "rollback",
            4,
            rules_broken=("R10",),
            users=("bob",),
            replay=REPLAY,
            message="R10 BROKEN for user bob: expected ...",
        ),
        result("s/t4.py::c", "failed", "rollback", 4, rules_broken=("R9", "R12")),
        result("s/t5.py::a", "skipped", "dry_run", 5, message="x"),
        result("s/t5.py::b", "passed", "dry_run", 5),
    ),
)


def test_items_fold_failed_over_passed_over_skipped() -> None:
    by_number = {o.item.number: o for o in item_outcomes(RUN.results)}
    assert by_number[1].status == "passed" and by_number[1].box == "[x]"
    assert by_number[2].status == "skipped" and by_number[2].box == "[-]"
    assert by_number[2].summary() == "skipped: a > 100 MB tree: --large"
    assert by_number[4].status == "failed" and by_number[4].box == "[ ]"
    assert by_number[4].rules_broken == ("R9", "R10", "R12")  # by number, not as text
    assert by_number[4].summary() == "FAILED: R9, R10, R12 (2 of 3 scenarios)"
    assert by_number[5].summary() == "passed (2 scenarios, 1 skipped)"
    assert by_number[3].status == "not run"


def test_checklist_lines_name_the_failed_scenario_and_its_replay() -> None:
    lines = checklist_lines(RUN, replays=True)
    assert lines[0] == "migrator: cmd:x, seed 3"
    failed = lines.index(next(line for line in lines if " 4. " in line))
    assert lines[failed + 1].strip() == "s/t4.py::b (R10)"
    assert lines[failed + 2].strip() == f"replay: {REPLAY}"
    assert lines[-1] == "FAILED: item(s) 4 broken; 2 distinct findings"


def test_json_round_trip_keeps_every_field() -> None:
    data = json.loads(RUN.to_json())
    assert set(data) == {"migrator", "duration_s", "results"}
    assert data["results"][3]["rules_broken"] == ["R10"]
    assert ChecklistRun.from_json(RUN.to_json()) == RUN


def test_markdown_has_the_table_the_rules_and_the_replays() -> None:
    text = markdown(RUN)
    assert "- Result: **FAILED**: item(s) 4 broken" in text
    assert "| 4 | Test migration rollback on failure | FAILED: R9, R10, R12 (2 of 3" in text
    assert "- R10 (the process killed at any single file operation): same as R9" in text
    assert f"```sh\n{REPLAY}\n```" in text
    assert "`s/t2.py::a` skipped: a > 100 MB tree: --large" in text


def test_a_failure_outside_every_item_fails_the_run() -> None:
    broken = ScenarioResult("scenarios/test_x.py", "error", message="error collecting: boom")
    run = ChecklistRun("cmd:x", 1.0, (result("s/t1.py::a", "passed", "small_db", 1), broken))
    assert run.failed and run.outside_items == [broken]
    lines = checklist_lines(run)
    assert "  [!] scenarios/test_x.py: error collecting: boom" in lines
    assert lines[-1] == "FAILED: 1 failure outside the items; 1 distinct finding"


# ---------------------------------------------------------------------------------------------


def op(index: int, operation: Operation, *paths: str) -> list[Case]:
    """Operation ``index`` of a recorded run as the explorer lists it: one case per effect."""
    return [Case(index, e, operation.value, paths) for e in applicable_effects(operation)]


CASES = (
    *op(0, Operation.RENAME, "alice/a", "alice/b"),
    *op(1, Operation.OPEN_WRITE, "bob/peek.db.pre-migration-backup.migrating"),
    *op(2, Operation.WRITE, "bob/peek.db.pre-migration-backup.migrating"),
    *op(3, Operation.RENAME, "bob/x", "bob/profiles/default/datastore.sqlite"),
    *op(4, Operation.UNLINK, "bob/peek.db"),
    *op(5, Operation.RENAME, "bob/images", "bob/profiles/default/images"),
    *op(6, Operation.WRITE, "bobby/peek.db"),  # another user whose name starts like bob's
    *op(7, Operation.UNLINK, "/tmp/scratch/bob/peek.db"),  # outside the data dir
)


def picked(site: FaultSite, user: str = "bob") -> str | None:
    case = site.pick(CASES, user)
    return None if case is None else case.id


def test_a_site_is_ranked_among_all_operations_of_its_kind() -> None:
    assert picked(FaultSite("EIO", (Operation.RENAME,), "first")) == "3:EIO"  # not alice's
    assert picked(FaultSite("EXDEV", (Operation.RENAME,), "last")) == "5:EXDEV"


def test_a_site_on_a_file_glob_and_any_operation() -> None:
    backup = FaultSite(KILL, (Operation.WRITE,), "first", file="peek.db.pre-migration-backup*")
    assert picked(backup) == "2:kill"
    assert picked(FaultSite("EACCES", (Operation.UNLINK,), file="peek.db")) == "4:EACCES"
    assert picked(FaultSite(KILL, (), "middle")) == "3:kill"  # ops 1-5: the 3rd is op 3


def test_a_site_the_run_never_reaches_has_no_case() -> None:
    assert picked(FaultSite("EIO", (Operation.FSYNC,))) is None
    assert picked(FaultSite("EIO", (Operation.UNLINK,), file="peek.db"), "alice") is None
    assert picked(FaultSite("EIO"), "carol") is None
    assert picked(FaultSite("EXDEV", (Operation.UNLINK,))) is None  # no such effect there
