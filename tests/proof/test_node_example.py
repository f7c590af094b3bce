"""The kit, pointed at the Node example (the seed's proposed migrator), reports the
proposal's defects: each rule below is broken in a *failed* scenario of the marker named,
and the rules the proposal keeps are judged in a *passed* scenario and reported nowhere
(the kit does not cry wolf).

``examples/node/README.md`` ("Defects the kit reports") lists the same findings with a line
of evidence each. Needs ``node`` and ``examples/node/node_modules`` (``npm ci``, see that
README); without them the tests skip, unless ``MK_REQUIRE_NODE=1`` (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from harness.judge.verdict import Damage
from harness.report.checklist import ChecklistRun
from harness.report.findings import Finding, Source
from tests.proof.kitrun import ROOT, KitRun, run_scenarios

pytestmark = pytest.mark.proof

EXAMPLE = ROOT / "examples" / "node"
MIGRATOR = f"cmd:node {EXAMPLE / 'migrate.js'}"

# rule -> the checklist marker of a failed scenario that must report it (README's numbers).
REPORTED = {
    "R1": "wal",  # 1: rows still in peek.db-wal lost (only peek.db is copied and moved)
    "R4": "skip_migrated",  # 6: a migrated user without a profile row never gets one
    "R5": "integrity",  # 5: both DBs present: skipped silently, exit 0
    "R7": "integrity",  # 8: a corrupt peek.db is backed up, moved and "rolled back"
    "R11": "backup_cleanup",  # 3: the clean-up only sees backups it has just made
    "R12": "rollback",  # 11: profiles/ on another filesystem: renameSync fails, no copy
    "R13": "hostile",  # new: backups/ and .cache/ are taken for users and moved
    "R14": "hostile",  # 7: the DB moved before the profile insert fails on the foreign key
    "R15": "concurrency",  # 13: no lock (its oracle includes R1's outcome, so 1 counts too)
}
# rule -> the marker of a scenario that judges it and passes: the proposal keeps these.
KEPT = {
    "R2": "dry_run",  # 9: the dry run leaves the tree untouched
    "R3": "idempotency",  # a second run after the half states changes nothing
    "R6": "no_backup_without_db",  # no peek.db: nothing created
}
MARKERS = tuple(sorted({*REPORTED.values(), *KEPT.values()}))
# 10: the backup is written in place and an existing one is trusted: the fault explorer kills
# the process at each file operation; a kill inside the backup's copy leaves a partial backup
# that the clean re-run keeps (R10). Only the kill cases, to keep the proof short.
FAULTS = ("-m", "faults", "-k", "test_fault_case and kill")


def _node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (EXAMPLE / "node_modules" / "better-sqlite3").is_dir():
        return (
            "examples/node/node_modules is missing: run "
            "`cd examples/node && npm_config_nodedir=... npm ci` (see its README)"
        )
    return None


def _run_on_node(tmp_path_factory: pytest.TempPathFactory, select: tuple[str, ...]) -> KitRun:
    missing = _node_missing()
    if missing:
        if os.environ.get("MK_REQUIRE_NODE") == "1":
            pytest.fail(f"MK_REQUIRE_NODE=1 but {missing}")
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("node") / "checklist.json"
    run = run_scenarios(MIGRATOR, select, out)
    assert run.report, f"no --checklist-json written\n{run.output[-4000:]}"
    assert run.report["migrator"] == MIGRATOR
    return run


@pytest.fixture(scope="module")
def node_run(tmp_path_factory: pytest.TempPathFactory) -> KitRun:
    """The scenarios of every marker above, on the Node example, in one child pytest."""
    return _run_on_node(tmp_path_factory, ("-m", " or ".join(MARKERS)))


@pytest.fixture(scope="module")
def node_faults_run(tmp_path_factory: pytest.TempPathFactory) -> KitRun:
    return _run_on_node(tmp_path_factory, FAULTS)


def test_the_checklist_fails_the_node_example(node_run: KitRun) -> None:
    assert node_run.returncode == 1, node_run.summary()


@pytest.mark.parametrize(("rule", "marker"), sorted(REPORTED.items()))
def test_the_kit_reports(rule: str, marker: str, node_run: KitRun) -> None:
    hits = [
        r
        for r in node_run.with_outcome("failed")
        if rule in r["rules_broken"] and marker in r["markers"]
    ]
    assert hits, f"{rule} is not reported by a failed '{marker}' scenario\n{node_run.summary()}"


@pytest.mark.parametrize(("rule", "marker"), sorted(KEPT.items()))
def test_the_kit_does_not_report(rule: str, marker: str, node_run: KitRun) -> None:
    judged = [r for r in node_run.with_outcome("passed") if marker in r["markers"]]
    assert judged, f"no '{marker}' scenario passed, so {rule} was not judged\n{node_run.summary()}"
    assert rule not in node_run.rules_broken(), node_run.summary()


# What a clean re-run after a kill still differs in (SPEC R10), as the child's report words it.
AFTER_A_KILL = {
    "partial_backup": "peek.db.pre-migration-backup: different database content",  # 10
    "never_finished": "images: not in the fault-free result",  # the re-run skips the user
}


@pytest.mark.parametrize("finding", sorted(AFTER_A_KILL))
def test_the_fault_explorer_reports(finding: str, node_faults_run: KitRun) -> None:
    assert "R10" in node_faults_run.rules_broken(), node_faults_run.summary()
    assert AFTER_A_KILL[finding] in node_faults_run.output, node_faults_run.summary()


# ---------------------------------------------------------------------------------------------
# The same run, folded into findings (harness.report.findings): one finding per root cause,
# content lost first, each with its count and its smallest replay.


def _findings(node_run: KitRun) -> list[Finding]:
    return ChecklistRun.from_json(json.dumps(node_run.report)).findings


def test_the_wal_loss_is_one_finding_first(node_run: KitRun) -> None:
    """Defect 1 (rows in peek.db-wal not carried): every legacy user with -wal rows, in
    every scenario that has one, is the first finding, not a wall of failures."""
    found = _findings(node_run)
    wal = found[0]
    assert (wal.key.rule, wal.key.damage, wal.key.place) == (
        "R1",
        Damage.ROWS_LOST,
        "new DB and backup",
    ), [f.title() for f in found]
    assert "items" in dict(wal.rows)
    assert wal.count(Source.SCENARIO) >= 2  # the same root cause, folded
    assert any("test_wal.py" in o.source for o in wal.observations)
    smallest, _ = wal.smallest
    sizes = [o.size for o in wal.observations if o.size is not None]
    assert smallest.size == min(sizes) and smallest.replay and "--migrator" in smallest.replay
    content = [f.key.damage in (Damage.ROWS_LOST, Damage.IMAGES_LOST) for f in found]
    assert content == sorted(content, reverse=True), "content lost comes first"


@pytest.mark.parametrize(
    ("rule", "damage", "user"),
    [
        ("R1", Damage.LEFT_OVER, "all-in-wal"),  # 1: peek.db-wal and -shm left behind
        ("R11", Damage.BACKUP_KEPT, "migrated-40d"),  # 3: backups never cleaned up
        ("R4", Damage.PROFILE_ROW, "moved-no-profile"),  # 6: the profile row not ensured
    ],
)
def test_each_known_defect_is_one_finding(
    rule: str, damage: str, user: str, node_run: KitRun
) -> None:
    found = [f for f in _findings(node_run) if (f.key.rule, f.key.damage) == (rule, damage)]
    assert len(found) == 1, [f.title() for f in _findings(node_run)]
    assert user in found[0].users and found[0].smallest[0].replay


def test_the_terminal_opens_with_the_findings(node_run: KitRun) -> None:
    summary = node_run.output[node_run.output.index("server migration checklist") :]
    first = summary.splitlines()[1]
    assert re.fullmatch(r"\d+ distinct findings, \d+ losing content \(content lost first\)", first)
    assert summary.index("distinct findings") < summary.index("Testing Checklist:")
