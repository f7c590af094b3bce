"""How results fold into checklist items and render (``harness.report.checklist``), and where a
``FaultSite`` puts its fault in a recorded run: the logic, without child processes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from harness.faults.plan import KILL, FaultPlan, Operation
from harness.faults.trace import Trace, TraceOp
from harness.report.checklist import (
    ChecklistRun,
    ScenarioResult,
    checklist_lines,
    item_outcomes,
    markdown,
)
from harness.scenario import FaultSite

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
    assert lines[-1] == "FAILED: item(s) 4 broken"


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
    assert lines[-1] == "FAILED: 1 failure outside the items"


# ---------------------------------------------------------------------------------------------


def op(index: int, operation: Operation, *paths: str) -> TraceOp:
    return TraceOp(index, operation, operation.value, paths, pid=1, result=0)


OPS = (
    op(0, Operation.RENAME, "/d/alice/a", "/d/alice/b"),
    op(1, Operation.OPEN_WRITE, "/d/bob/peek.db.pre-migration-backup.migrating"),
    op(2, Operation.WRITE, "/d/bob/peek.db.pre-migration-backup.migrating"),
    op(3, Operation.RENAME, "/d/bob/x", "/d/bob/profiles/default/datastore.sqlite"),
    op(4, Operation.UNLINK, "/d/bob/peek.db"),
    op(5, Operation.RENAME, "/d/bob/images", "/d/bob/profiles/default/images"),
    op(6, Operation.WRITE, "/d/bobby/peek.db"),  # another user whose name starts like bob's
)
RECORDING = SimpleNamespace(trace=Trace(OPS), tree=SimpleNamespace(path=Path("/d")))


def test_a_site_is_ranked_among_all_operations_of_its_kind() -> None:
    first = FaultSite("EIO", (Operation.RENAME,), "first").plan(RECORDING, "bob")
    last = FaultSite("EXDEV", (Operation.RENAME,), "last").plan(RECORDING, "bob")
    assert first == FaultPlan(Operation.RENAME, 2, "EIO")  # alice's rename is the 1st
    assert last == FaultPlan(Operation.RENAME, 3, "EXDEV")


def test_a_site_on_a_file_glob_and_any_operation() -> None:
    backup = FaultSite(KILL, (Operation.WRITE,), "first", file="peek.db.pre-migration-backup*")
    assert backup.plan(RECORDING, "bob") == FaultPlan(Operation.WRITE, 1, KILL)
    old_db = FaultSite("EACCES", (Operation.UNLINK,), file="peek.db")
    assert old_db.plan(RECORDING, "bob") == FaultPlan(Operation.UNLINK, 1, "EACCES")
    middle = FaultSite(KILL, (), "middle").plan(RECORDING, "bob")  # ops 1-5: the 3rd is op 3
    assert middle == FaultPlan(Operation.RENAME, 2, KILL)


def test_a_site_the_run_never_reaches_has_no_plan() -> None:
    assert FaultSite("EIO", (Operation.FSYNC,)).plan(RECORDING, "bob") is None
    assert FaultSite("EIO", (Operation.UNLINK,), file="peek.db").plan(RECORDING, "alice") is None
    assert FaultSite("EIO").plan(RECORDING, "carol") is None
