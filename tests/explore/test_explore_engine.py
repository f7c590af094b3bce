"""The fault explorer's engine: recordings that every process agrees on, cases, and verdicts
that catch the migrators each rule is about (and pass the reference)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import harness.explore
from fixtures.spec import TreeSpec, UserSpec
from harness.explore.backends import moved_dirs, private_tmp, process_of
from harness.explore.baseline import Baseline, baseline, cache_key
from harness.explore.cases import run_case
from harness.explore.exploration import Exploration, ExploreError
from harness.explore.fingerprint import kit_files
from harness.explore.results import BROKEN, NOT_JUDGED, OK
from harness.faults.injection import inject
from harness.faults.plan import parse_plan
from harness.judge.snapshot import Snapshot
from harness.store import codec
from tests.explore.explore_cases import (
    R1_WAL_DROPPED,
    R5_BOTH_AS_MIGRATED,
    R10_BACKUP_IN_PLACE,
    R12_NO_EXDEV_FALLBACK,
    REFERENCE,
    SMALL_TREE,
    find_case,
)

pytestmark = pytest.mark.usefixtures("needs_strace")


def _ids(base: Baseline) -> list[tuple[str, str, tuple[str, ...]]]:
    """Each case's id, operation and paths in the data dir (scratch elsewhere has random
    names, which is why no case targets an operation that touches only scratch)."""
    return [
        (c.id, c.operation, tuple(p for p in c.paths if not p.startswith("/")))
        for c in base.cases()
    ]


def test_two_recordings_list_the_same_cases(tree_factory, tmp_path: Path) -> None:
    """xdist workers must agree on the case list, so a recording must repeat itself."""
    exploration = Exploration(tree=SMALL_TREE)
    one = baseline(exploration, factory=tree_factory, root=tmp_path / "one")
    two = baseline(exploration, factory=tree_factory, root=tmp_path / "two")
    assert one.recorded_root != two.recorded_root  # really two recordings
    assert _ids(one) == _ids(two)
    assert len(one.cases()) > 50


def test_processes_asking_at_once_share_one_recording(tmp_path: Path) -> None:
    """Workers collecting together: one records under the lock, the others read it."""
    code = (
        "import sys; from pathlib import Path; from harness.explore.baseline import baseline; "
        "from harness.explore.exploration import Exploration; "
        "from fixtures.spec import TreeSpec; "
        "e = Exploration(tree=TreeSpec.from_json(sys.argv[2])); "
        "print(baseline(e, root=Path(sys.argv[1])).recorded_root)"
    )
    argv = [sys.executable, "-c", code, str(tmp_path / "cache"), SMALL_TREE.to_json()]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    roots = {p.communicate(timeout=300)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(roots) == 1, roots
    entries = [p for p in (tmp_path / "cache").iterdir() if p.name != "locks"]
    assert len(entries) == 1, entries


def test_a_changed_migrator_is_recorded_again(tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "migrate.sh"
    script.write_text('touch "$DATA_DIR/done"\n')
    monkeypatch.chdir(tmp_path)
    exploration = Exploration(migrator="cmd:sh migrate.sh")
    before = cache_key(exploration)
    script.write_text('touch "$DATA_DIR/done"; touch "$DATA_DIR/more"\n')
    assert cache_key(exploration) != before
    assert cache_key(Exploration(effects=("kill",))) == cache_key(Exploration(effects=("EIO",))), (
        "effects only filter cases: they share a recording"
    )


def test_distinct_kills_leave_out_only_kills_that_repeat_the_next_one(
    baseline_of, tree_factory, tmp_path: Path
) -> None:
    """The default suite's reduction rests on one claim: killed just before an fsync, the
    migrator leaves the tree it leaves when killed just before the next operation."""
    base = baseline_of(REFERENCE)
    every = base.cases()
    fewer = dataclasses.replace(
        base, exploration=dataclasses.replace(base.exploration, distinct_kills=True)
    ).cases()
    dropped = sorted(set(every) - set(fewer), key=lambda c: c.index)
    assert dropped and all(c.effect == "kill" for c in dropped)
    assert {c.operation for c in dropped} <= {"fsync", "unlink", "rmdir", "open_write"}
    fsync = next(c for c in dropped if c.operation == "fsync")
    following = base.case(f"{fsync.index + 1}:kill")
    trees = []
    for case in (fsync, following):
        tree = tmp_path / f"kill-{case.index}" / "tree"
        tree_factory.make(base.exploration.tree, tree)
        migrator = base.exploration.open_migrator()
        argv, env = process_of(migrator, tree, private_tmp(tree.parent))
        plan = parse_plan(case.plan)
        moved = moved_dirs(Path(base.recorded_root), tree)
        run = inject(argv, plan, base.trace, env=env, moved=moved)
        assert run.killed and run.landed
        snap = Snapshot.take(tree)
        trees.append({p: (e.kind, e.sha256) for p, e in snap.entries.items()})
    assert trees[0] == trees[1]


def test_scratch_outside_the_data_dir_is_not_a_case(baseline_of) -> None:
    """The reference copies system.db to a tempfile directory to read it: random names that
    no later run repeats, so no case targets them, and the report says so."""
    base = baseline_of(REFERENCE)
    assert "outside the data dir" in base.not_explored()
    assert all(any(not p.startswith("/") for p in c.paths) for c in base.cases())
    # ... while every kind of operation on the tree is one, on a RAM disk as on a disk
    kinds = {c.operation for c in base.cases()}
    assert {"write", "fsync", "copy", "rename", "unlink", "mkdir", "open_write"} <= kinds


@pytest.mark.parametrize(
    ("operation", "path", "effect"),
    [
        ("copy", "ann/peek.db.pre-migration-backup*", "kill"),
        ("rename", "ann/profiles/default/datastore.sqlite", "kill"),
        ("rename", "ann/profiles/default/datastore.sqlite", "EXDEV"),
        ("rename", "ann/profiles/default/images", "EXDEV"),
        ("copy", "ann/.peek-migration.migrating/peek.db", "ENOSPC"),
        ("unlink", "ann/peek.db", "EACCES"),
        ("open_write", "system.db-wal", "EIO"),
    ],
)
def test_the_reference_survives(baseline_of, operation: str, path: str, effect: str) -> None:
    base = baseline_of(REFERENCE)
    case = find_case(base, operation, path, effect)
    result = run_case(base, case)
    assert result.outcome == OK, result.error()
    if effect == "EXDEV":  # into profiles/: R12's own verdict was given, and held
        assert any(v.rule == "R12" and "copy, verify" in v.expected for v in result.verdicts)


def test_a_backup_written_in_place_is_caught_by_a_kill(baseline_of) -> None:
    """Killed mid-copy, the backup is left partial at its final name; the next run trusts it."""
    base = baseline_of(R10_BACKUP_IN_PLACE)
    case = find_case(base, "copy", "ann/peek.db.pre-migration-backup", "kill")
    result = run_case(base, case)
    assert result.outcome == BROKEN
    assert "R10" in result.rules_broken
    assert f"--case {case.id}" in result.replay
    broken = [v for v in result.verdicts if not v.ok]
    assert any("peek.db.pre-migration-backup" in v.details for v in broken)


def test_no_copy_fallback_is_caught_by_exdev(baseline_of) -> None:
    base = baseline_of(R12_NO_EXDEV_FALLBACK)
    case = find_case(base, "rename", "ann/profiles/default/datastore.sqlite", "EXDEV")
    result = run_case(base, case)
    assert result.outcome == BROKEN
    assert result.rules_broken == ("R12",)
    assert [v.user for v in result.verdicts if not v.ok] == ["ann"]


def test_a_resume_that_trusts_a_placed_db_is_caught_by_a_kill(baseline_of) -> None:
    """Killed after the new DB is in place but before the old one is gone, a migrator that
    takes "both present" for "migrated" never finishes: peek.db and the images stay."""
    base = baseline_of(R5_BOTH_AS_MIGRATED)
    case = find_case(base, "rename", "ann/profiles/default/images", "kill")
    result = run_case(base, case)
    assert result.outcome == BROKEN and result.rules_broken == ("R10",)
    details = "\n".join(v.details for v in result.verdicts if not v.ok)
    assert "ann/peek.db: not in the fault-free result" in details


def test_an_error_neither_reported_nor_repaired_breaks_r9(baseline_of) -> None:
    """Exit 0 after a failed step: SPEC's contract says non-zero when a user failed."""
    base = baseline_of('cmd:mkdir "$DATA_DIR/ann/marker" || true')
    case = find_case(base, "mkdir", "ann/marker", "EIO")
    result = run_case(base, case)
    assert result.outcome == BROKEN
    broken = [v for v in result.verdicts if not v.ok]
    assert [(v.rule, v.found) for v in broken] == [("R9", "exit 0, tree unfinished")]


def test_a_file_named_after_the_pid_is_the_same_call_in_every_run(baseline_of) -> None:
    """A file named after the process id is another file in every run; with the pid masked
    the recorded call is found again, and the fault lands on it."""
    base = baseline_of('cmd:touch "$DATA_DIR/stamp-$$"')
    case = find_case(base, "open_write", "stamp-*", "EIO")
    result = run_case(base, case)
    assert result.outcome != NOT_JUDGED, result.fault
    assert "landed on the target" in result.fault


def test_a_fault_that_cannot_be_placed_is_not_judged_not_passed(baseline_of) -> None:
    """A name no mask knows (nanoseconds) is another file in every run: the recorded call
    never comes again. The case proved nothing: it is not judged, neither a pass nor a
    failure of the migrator, and only --strict-coverage makes it fail the exploration."""
    base = baseline_of('cmd:touch "$DATA_DIR/stamp-$(date +%N)"')
    case = find_case(base, "open_write", "stamp-*", "EIO")
    result = run_case(base, case)
    assert result.outcome == NOT_JUDGED
    assert "not judged: this run never made the recorded call" in result.fault
    report = base.report([result])
    assert report.exit_status == 0 and report.status(strict_coverage=True) == 1
    assert "1 case(s), judged 0 of 1: 0 ok, 0 broke a rule, 1 not judged" in report.render()


def test_content_lost_without_a_fault_is_reported_once(baseline_of) -> None:
    """A migrator that drops the WAL loses rows on every run: that is the fault-free run's
    verdict, not every case's."""
    base = baseline_of(R1_WAL_DROPPED)
    lost = [v for v in base.verdicts if not v.ok]
    assert [v.user for v in lost] == ["ann"]
    case = find_case(base, "rename", "ann/profiles/default/datastore.sqlite", "kill")
    result = run_case(base, case)
    assert not any(v.expected == lost[0].expected for v in result.verdicts)
    assert base.report([result]).exit_status == 1


def test_the_inprocess_backend_catches_the_same_backup(baseline_of) -> None:
    good = baseline_of(REFERENCE, backend="inprocess")
    bad = baseline_of(R10_BACKUP_IN_PLACE, backend="inprocess")
    assert good.trace.events == ()  # recorded by patching Python, not by strace
    backup = "ann/peek.db.pre-migration-backup*"
    ok = run_case(good, find_case(good, "copy", backup, "kill"))
    assert ok.outcome == OK, ok.error()
    case = find_case(bad, "copy", "ann/peek.db.pre-migration-backup", "kill")
    result = run_case(bad, case)
    assert result.outcome == BROKEN and "R10" in result.rules_broken
    assert "--backend inprocess" in result.replay


def test_lost_content_is_reported_per_user(baseline_of, tmp_path: Path) -> None:
    """A migrator that parks the DB under a name nobody looks at on its way: killed there,
    the user's rows are in no old DB, new DB or backup."""
    tree = TreeSpec(users=(UserSpec("ann", items=10, images=1),), seed=3)
    parks = (
        'cmd:cd "$DATA_DIR/ann" && mkdir -p profiles/default && mv peek.db peek.tmp '
        "&& mv peek.tmp profiles/default/datastore.sqlite"
    )
    base = baseline_of(parks, tree)
    assert all(v.ok for v in base.verdicts)  # without a fault nothing is lost
    case = find_case(base, "rename", "ann/profiles/default/datastore.sqlite", "kill")
    result = run_case(base, case, tmp_path / "kept")
    assert result.outcome == BROKEN
    assert [loss.user for loss in result.lost] == ["ann"]
    assert result.lost[0].rows or result.lost[0].note
    assert (tmp_path / "kept" / "tree").is_dir()  # a workdir given is kept for a person
    assert json.loads(codec.to_json(result))["lost"][0]["user"] == "ann"


def test_record_needs_a_process_for_strace() -> None:
    migrator = Exploration(backend="inprocess").open_migrator()
    with pytest.raises(ExploreError, match="inprocess"):
        process_of(migrator, Path(os.devnull))


def test_exdev_beside_an_orphan_is_judged_against_the_fault_free_exit(baseline_of) -> None:
    """Found by the property scenario: an orphan user makes every run exit 1, the fault-free
    one included; R12 asks that the crossing rename be copied in the same run, not that the
    whole run exit 0."""
    tree = TreeSpec(
        users=(
            UserSpec("orphan", items=0, images=0, quirks=("no_users_row",)),
            UserSpec("ann", items=3, images=0, wal_share=0.9),
        )
    )
    base = baseline_of(REFERENCE, tree=tree, backend="inprocess")
    assert base.exit_status != 0
    case = find_case(base, "rename", "ann/profiles/default/datastore.sqlite", "EXDEV")
    result = run_case(base, case)
    assert result.outcome == OK, result.error()


def test_the_kit_fingerprint_covers_every_module_of_the_packages_that_record() -> None:
    """No hand-kept list: a module added to harness/run, faults or explore counts."""
    root = Path(harness.explore.__file__).parent.parent
    wanted = {p for d in ("run", "faults", "explore") for p in (root / d).rglob("*.py")}
    assert set(kit_files()) == wanted
    assert root / "explore" / "powerloss" / "judge.py" in wanted
