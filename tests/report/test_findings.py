"""Failures folded into findings (``harness.report.findings``): the Node seed migrator's known
defects, as the oracles word them, fold into one finding each, content lost first, each with
its counts, users and smallest replay; and the reports open with them."""

from __future__ import annotations

import json

from harness.explore.results import Case, CaseResult, ExploreReport
from harness.judge.oracles.invariants import difference_order
from harness.judge.verdict import Damage, Verdict
from harness.report import findings as fnd
from harness.report.checklist import ChecklistRun, ScenarioResult, markdown, summary_lines
from harness.store import codec

ROWS = (("item_tags", 6), ("items", 3))


def wal_lost(rule: str, user: str, rows=ROWS) -> list[Verdict]:
    """What R1's outcome says of a user whose -wal rows were not carried (the Node seed)."""
    lost = ", ".join(f"{t} {n}" for t, n in rows)
    return [
        Verdict(rule, user, False, "new DB with the old content", f"rows missing: {lost}",
                damage=Damage.ROWS_LOST, place="new DB", rows=rows),
        Verdict(rule, user, False, "backup with the old content", f"rows missing: {lost}",
                damage=Damage.ROWS_LOST, place="backup", rows=rows),
        Verdict(rule, user, False, "no peek.db, -wal, -shm left", "left: peek.db-wal, peek.db-shm",
                damage=Damage.LEFT_OVER, place="peek.db-wal, peek.db-shm",
                evidence=("left: peek.db-wal", "left: peek.db-shm")),
    ]  # fmt: skip


def never_cleaned(user: str) -> Verdict:
    return Verdict("R11", user, False, "the backup (40.0 days old, grace 30) deleted",
                   "still there", damage=Damage.BACKUP_KEPT)  # fmt: skip


def scenario(nodeid: str, marker: str, item: int, verdicts, size, **kw) -> ScenarioResult:
    return ScenarioResult(
        nodeid, "failed", (marker,), (item,),
        rules_broken=tuple(dict.fromkeys(v.rule for v in verdicts)),
        users=tuple(sorted({v.user for v in verdicts if v.user})),
        replay=f"pytest --pyargs {nodeid}", verdicts=tuple(verdicts), size=size, **kw,
    )  # fmt: skip


RUN = ChecklistRun(
    "cmd:node migrate.js",
    3.0,
    (
        scenario("s/test_wal.py::big", "wal", 11, wal_lost("R1", "busy"), (4, 9000)),
        scenario(
            "s/test_01_small.py::a",
            "small_db",
            1,
            wal_lost("R1", "alice", (("items", 2),)),
            (2, 40),
            output="Migrating alice\nBackup created for alice\nMigrated alice\nother line",
        ),
        scenario(
            "s/test_08_backup_cleanup.py::a",
            "backup_cleanup",
            8,
            [never_cleaned("migrated-40d"), never_cleaned("migrated-90d")],
            (3, 30),
        ),
        ScenarioResult("s/t5.py::a", "passed", ("dry_run",), (5,)),
    ),
)


def test_the_seed_defects_fold_into_one_finding_each_content_first() -> None:
    found = RUN.findings
    titles = [f.title() for f in found]
    assert titles == [
        "R1: rows lost: new DB and backup (item_tags, items)",
        "R1: files left over: peek.db-wal, peek.db-shm",
        "R11: backup not cleaned up",
    ]
    wal = found[0]
    assert wal.count(fnd.Source.SCENARIO) == 2 and wal.users == ("alice", "busy")
    assert wal.rows == (("item_tags", 6), ("items", 3))  # the most one user lost, per table
    smallest, facts = wal.smallest  # the fewest users and rows: 2 users, 40 rows
    assert smallest.source == "s/test_01_small.py::a"
    assert smallest.replay == "pytest --pyargs s/test_01_small.py::a"
    assert [f.user for f in facts] == ["alice"]
    assert found[2].users == ("migrated-40d", "migrated-90d")  # two users, one scenario
    assert found[2].count(fnd.Source.SCENARIO) == 1


def test_the_terminal_and_the_report_open_with_the_findings() -> None:
    lines = summary_lines(RUN)
    assert lines[0] == "3 distinct findings, 1 losing content (content lost first)"
    assert lines[1] == "  1. R1: rows lost: new DB and backup (item_tags, items)"
    assert "     smallest: s/test_01_small.py::a (2 users, 40 rows)" in lines
    assert lines[-1] == (
        "FAILED: item(s) 1, 8, 11 broken; 3 distinct findings, 1 losing content "
        "(content lost first)"
    )
    text = markdown(RUN)
    first_section = text.split("\n## ", 2)[1]
    assert first_section.startswith("3 distinct findings")
    assert "| 1 | R1: rows lost: new DB and backup (item_tags, items) | 2 | 0 | alice, busy |" in (
        text
    )
    # The migrator's output around the user of the smallest reproduction.
    assert "Migrating alice\nBackup created for alice\nMigrated alice\nother line" in text
    assert "`migration-kit rules R1`" in text


def test_every_difference_is_listed_losses_before_leftovers() -> None:
    text = markdown(RUN)
    section = text[text.index("`s/test_wal.py::big`:") :]
    rows, left = section.index("rows missing"), section.index("left: peek.db-wal")
    assert rows < left


def test_json_keeps_the_verdicts_and_old_files_still_read() -> None:
    again = ChecklistRun.from_json(RUN.to_json())
    assert again == RUN
    assert [f.title() for f in again.findings] == [f.title() for f in RUN.findings]
    old = json.loads(RUN.to_json())
    for r in old["results"]:
        for key in ("verdicts", "size", "output"):
            del r[key]
    assert ChecklistRun.from_json(json.dumps(old)).results[0].verdicts == ()


def test_a_partial_run_says_what_did_not_run() -> None:
    run = ChecklistRun("cmd:x", 1.0, (ScenarioResult("s/t5.py::a", "passed", ("dry_run",), (5,)),))
    assert summary_lines(run)[-1] == (
        "PASSED: 1 checklist item ran and passed; 9 not run (of 10), none fails"
    )


def test_explore_cases_fold_by_operation_and_the_report_opens_with_them() -> None:
    def case(index: int, operation: str, user: str) -> CaseResult:
        broken = Verdict(
            "R10", user, False, "the same as after a fault-free run", "2 difference(s)",
            damage=Damage.NOT_CONVERGED,
            evidence=(f"{user}/images: not in the fault-free result",
                      f"{user}/profiles/default/images: missing"),
        )  # fmt: skip
        c = Case(index, "kill", operation, (f"{user}/images", f"{user}/profiles/default/images"))
        return CaseResult(c, "broken", (broken,), f"migration-kit explore --case {c.id}")

    report = ExploreReport(
        {"migrator": "cmd:node migrate.js", "backend": "syscall", "tree": "default"},
        baseline=tuple(wal_lost("content", "alice")),
        results=(case(20, "rename", "alice"), case(40, "rename", "bob"), case(7, "write", "bob")),
    )
    found = report.findings
    assert [f.title() for f in found] == [
        "content: rows lost: new DB and backup (item_tags, items)",
        "R10: not the fault-free result after a re-run, at a fault in a rename",
        "R10: not the fault-free result after a re-run, at a fault in a write",
        "content: files left over: peek.db-wal, peek.db-shm",
    ]
    assert found[1].count(fnd.Source.CASE) == 2 and found[1].users == ("alice", "bob")
    text = report.render()
    assert text.splitlines()[4] == "4 distinct findings, 1 losing content (content lost first)"
    assert found[1].smallest[0].replay == "migration-kit explore --case 20:kill"


def test_differences_from_the_fault_free_result_come_losses_first() -> None:
    found = [
        "alice/images: not in the fault-free result",
        "alice/peek.db-wal: not in the fault-free result",
        "alice/profiles/default/images: missing",
        "alice/peek.db.pre-migration-backup: different database content",
    ]
    assert sorted(found, key=difference_order) == [
        "alice/peek.db.pre-migration-backup: different database content",
        "alice/profiles/default/images: missing",
        "alice/images: not in the fault-free result",
        "alice/peek.db-wal: not in the fault-free result",
    ]


def test_output_around_keeps_the_lines_near_the_user() -> None:
    out = "\n".join([*(f"line {i}" for i in range(10)), "Failed to migrate bob: EIO", "end"])
    assert (
        fnd.output_around(out, ["bob"], context=1) == "...\nline 9\nFailed to migrate bob: EIO\nend"
    )
    assert fnd.output_around(out, ["bobby"], limit=2) == "...\nFailed to migrate bob: EIO\nend"
    assert fnd.capped([str(i) for i in range(20)], 5)[-1] == "and 15 more"


def test_a_verdict_crosses_to_the_xdist_controller() -> None:
    """execnet, which carries user_properties from a worker, refuses enum members."""
    import execnet.gateway_base as gb

    (v,) = [x for x in wal_lost("R1", "alice") if x.place == "backup"]
    assert type(v.damage) is str
    assert codec.from_data(Verdict, gb.loads(gb.dumps(codec.to_data(v)))) == v
