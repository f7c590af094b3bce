"""Reports the HTML tests render: built by hand (no migrator runs), with every outcome a
picture colours, and a user whose id is markup (user ids come from the tree under test)."""

from __future__ import annotations

from harness.explore.results import Case, CaseResult, ExploreReport, Loss, Step
from harness.judge.verdict import Damage, Verdict
from harness.report.checklist import ChecklistRun, ScenarioResult

HOSTILE = '<script>alert("x")</script>'  # a user folder's name, as the tree has it
REPLAY = "migration-kit explore --case {}"


def lost_rows(user: str) -> Verdict:
    return Verdict(
        "R10",
        user,
        False,
        "every row carried",
        "3 rows missing",
        damage=Damage.ROWS_LOST.value,
        place="new DB",
        rows=(("items", 3),),
        evidence=(f"{user}/datastore.sqlite: items: 3 rows missing",),
    )


def left_over(user: str) -> Verdict:
    return Verdict(
        "R9",
        user,
        False,
        "no scratch file left",
        "1 file left",
        damage=Damage.LEFT_OVER.value,
        place=f"{user}/.migrating",
        evidence=(f"{user}/.migrating: left over",),
    )


def _case(index: int, effect: str, user: str, operation: str = "rename") -> Case:
    return Case(index, effect, operation, (f"{user}/peek.db", f"{user}/new.db"), "renameat2")


def explore_report() -> ExploreReport:
    """Two users (alice, and one named :data:`HOSTILE`), five operations, one case of each
    outcome and an ok one."""
    users = ("alice", HOSTILE)
    ops = [("rename", users[0]), ("write", users[0]), ("rename", users[1]), ("unlink", users[1])]
    steps = (
        *(Step(i, op, (f"{u}/peek.db",), "renameat2", u) for i, (op, u) in enumerate(ops)),
        Step(4, "write", ("system.db",), "write", ""),
    )
    results = (
        CaseResult(_case(0, "EIO", "alice"), "ok", (), REPLAY.format("0:EIO")),
        CaseResult(
            _case(0, "kill", "alice"),
            "broken",
            (lost_rows("alice"),),
            REPLAY.format("0:kill"),
            lost=(Loss("alice", {"items": 3}),),
        ),
        CaseResult(
            _case(2, "kill", HOSTILE), "broken", (left_over(HOSTILE),), REPLAY.format("2:kill")
        ),
        CaseResult(
            _case(3, "ENOSPC", HOSTILE),
            "not judged",
            (),
            REPLAY.format("3:ENOSPC"),
            fault="the fault did not land",
        ),
    )
    target = {"migrator": "py:m:f", "tree": "{}", "backend": "syscall", "effects": []}
    return ExploreReport(target, (), results, steps=steps)


def checklist_run() -> ChecklistRun:
    """One failing scenario of item 11 (rows lost by the hostile user), one passing."""
    return ChecklistRun(
        "py:m:f",
        1.0,
        (
            ScenarioResult(
                "scenarios/test_wal.py::test_wal[<b>]",
                "failed",
                ("wal",),
                (11,),
                rules_broken=("R10",),
                users=(HOSTILE,),
                replay="pytest 'scenarios/test_wal.py::test_wal[<b>]'",
                message="R10 broken",
                verdicts=(lost_rows(HOSTILE),),
                size=(1, 10),
            ),
            ScenarioResult("scenarios/test_dry.py::test_dry", "passed", ("dry_run",), (5,)),
        ),
    )
