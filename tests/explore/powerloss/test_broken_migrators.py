"""The defects only a power cut reveals, each caught by the power-loss exploration with
the exact point and what was lost; and the reference, on the same tree, not caught.

Each exploration includes the failed-fsync cases (``K:EIO+power-loss``): a migrator that
retries a failed fsync is caught by those alone, one that stops at it passes them.

The tree is one legacy user with rows in the WAL and an image: the smallest on which every
step of the migration (copy, backup, place, images, remove the old DB) happens.
"""

from __future__ import annotations

import pytest

from fixtures.spec import TreeSpec, UserSpec
from harness.explore.exploration import Exploration
from harness.explore.powerloss.baseline import power_baseline
from harness.explore.powerloss.explorer import EFFECTS, explore_power_loss
from harness.explore.powerloss.failed_fsync import effect_of
from harness.explore.powerloss.image import COMMITTED, REORDERED, SYNCED
from harness.explore.powerloss.profiles import DEFAULT_FS, Fs
from harness.explore.results import BROKEN, NOT_JUDGED, OK, ExploreReport
from harness.faults.plan import Operation
from harness.run.adapters import DEFAULT_MIGRATOR

TREE = TreeSpec(users=(UserSpec("alice", items=10, images=1, wal_share=0.5),), seed=3)
NEW_DB = "alice/profiles/default/datastore.sqlite"
WORK = "alice/.peek-migration.migrating"
STAGED_DB = f"{WORK}/peek.db"
FAILED_FSYNC = effect_of("EIO")
PLAIN = {EFFECTS[SYNCED], EFFECTS[COMMITTED]}


def explored(migrator: str, fs: Fs = DEFAULT_FS) -> tuple[Exploration, ExploreReport]:
    exploration = Exploration(migrator=migrator, tree=TREE)
    return exploration, explore_power_loss(exploration, fs=fs)


def op_index(exploration: Exploration, operation: Operation, *paths: str) -> int:
    """The index of the (first) operation of the recorded run on these tree paths."""
    base = power_baseline(exploration)
    wanted = tuple(f"{base.recorded_root}/{p}" for p in paths)
    return next(
        op.index for op in base.trace.ops if op.operation == operation and op.paths == wanted
    )


@pytest.fixture(scope="module")
def never_fsync(strace_backend: None) -> tuple[Exploration, ExploreReport]:
    return explored("py:tests.explore.powerloss.broken_never_fsync:migrate")


@pytest.fixture(scope="module")
def skips_a_dir(strace_backend: None) -> tuple[Exploration, ExploreReport]:
    return explored("py:tests.explore.powerloss.broken_skips_a_dir_fsync:migrate")


@pytest.fixture(scope="module")
def rename_first(strace_backend: None) -> tuple[Exploration, ExploreReport]:
    return explored("py:tests.explore.powerloss.broken_rename_before_fsync:migrate")


def test_a_migrator_that_never_fsyncs_loses_the_user_after_the_old_db_is_removed(
    never_fsync: tuple[Exploration, ExploreReport],
) -> None:
    exploration, report = never_fsync
    assert report.exit_status == 1
    # Nothing of the migrator's is ever durable, so "only what was synced survives" is
    # the tree before the run: only the committed kind (directory changes on disk, data
    # not) shows the defect. (The failed-fsync cases, whose power cut leaves the committed
    # kind at the end of the run, show the same defect again: SQLite's own fsyncs fail.)
    assert {r.case.effect for r in report.broken} & PLAIN == {EFFECTS[COMMITTED]}
    losing = [r for r in report.broken if any(loss.rows for loss in r.lost)]
    unlink = op_index(exploration, Operation.UNLINK, "alice/peek.db")
    # The exact point: the first crash point after the unlink of peek.db.
    assert losing[0].case.index == min(
        r.case.index for r in report.results if r.case.index > unlink
    )
    (loss,) = losing[0].lost
    assert loss.user == "alice" and loss.rows["items"] == 10
    assert f"{NEW_DB}: never fsynced: empty on disk" in (loss.note or "")
    assert "alice/peek.db.pre-migration-backup: never fsynced: empty on disk" in (loss.note or "")
    assert losing[0].replay.endswith(f"--case {losing[0].case.id}")


def test_a_migrator_that_renames_before_fsyncing_leaves_an_empty_new_db(
    rename_first: tuple[Exploration, ExploreReport],
) -> None:
    exploration, report = rename_first
    assert report.exit_status == 1
    rename = op_index(
        exploration, Operation.RENAME, "alice/.peek-migration.migrating/peek.db", NEW_DB
    )
    fsync = op_index(exploration, Operation.FSYNC, NEW_DB)
    # Every broken case lies between the rename into place and the late fsync, and the
    # last of them is exactly "only what was synced survives" just before that fsync.
    assert report.broken and all(rename < r.case.index <= fsync for r in report.broken)
    at_fsync = [r for r in report.broken if r.case.id == f"{fsync}:{EFFECTS[SYNCED]}"]
    assert len(at_fsync) == 1
    result = at_fsync[0]
    assert result.outcome == BROKEN
    # peek.db is still whole (no row, no image lost); the re-run cannot finish from an
    # empty new DB beside it, so the tree never reaches the fault-free result.
    (loss,) = result.lost
    assert loss.user == "alice" and not loss.rows and not loss.images
    assert f"{NEW_DB}: never fsynced: empty on disk" in (loss.note or "")
    converged = [v for v in result.verdicts if v.expected.startswith("the same as after")]
    assert [v.user for v in converged if not v.ok][:1] == ["alice"]


def test_a_migrator_that_skips_one_directory_fsync_strands_the_user_once_the_unlink_is_durable(
    skips_a_dir: tuple[Exploration, ExploreReport],
) -> None:
    """The verified backup still holds every row (so no content is lost), but the user is
    left with neither peek.db nor a new DB, which the next run cannot finish from."""
    exploration, report = skips_a_dir
    assert report.exit_status == 1
    # No failed-fsync case; under posix-minimal the reordered kind sees it too, earlier.
    assert {r.case.effect for r in report.broken} == {EFFECTS[SYNCED], EFFECTS[REORDERED]}
    # The exact point: the first crash point after the fsync of alice/ that made the
    # unlink of peek.db durable (the new DB's name in profiles/default never was).
    unlink = op_index(exploration, Operation.UNLINK, "alice/peek.db")
    base = power_baseline(exploration)
    user_dir = f"{base.recorded_root}/alice"
    synced = next(
        op.index
        for op in base.trace.ops[unlink:]
        if op.operation == Operation.FSYNC and op.paths == (user_dir,)
    )
    first = next(r for r in report.broken if r.case.effect == EFFECTS[SYNCED])
    assert first.case.index == min(r.case.index for r in report.results if r.case.index > synced)
    (loss,) = first.lost
    assert loss.user == "alice" and not loss.rows
    assert f"{NEW_DB}: file not on disk: its directory not fsynced" in (loss.note or "")


@pytest.fixture(scope="module")
def retries_fsync(strace_backend: None) -> tuple[Exploration, ExploreReport]:
    return explored("py:tests.explore.powerloss.broken_retries_fsync:migrate")


def test_a_migrator_that_retries_a_failed_fsync_trusts_pages_that_never_reached_the_disk(
    retries_fsync: tuple[Exploration, ExploreReport],
) -> None:
    """R17: the retry succeeds (the kernel marked the pages clean) and the staged DB is
    renamed into place; after a power cut its pages are zeros, and the re-run cannot reach
    the fault-free result. Only the failed-fsync cases show it: without a failed fsync
    this migrator is the reference."""
    exploration, report = retries_fsync
    assert report.exit_status == 1
    assert {r.case.effect for r in report.broken} == {FAILED_FSYNC}
    fsync = op_index(exploration, Operation.FSYNC, STAGED_DB)
    (staged,) = [r for r in report.results if r.case.id == f"{fsync}:{FAILED_FSYNC}"]
    assert staged.outcome == BROKEN
    (loss,) = staged.lost
    assert loss.user == "alice"
    assert f"{NEW_DB}: fsync #{fsync} (EIO) failed: " in (loss.note or "")
    assert "page(s) never reached the disk" in (loss.note or "")
    assert staged.replay.endswith(f"--case {fsync}:{FAILED_FSYNC}")


def test_a_migrator_that_stops_at_a_failed_fsync_passes_every_case(strace_backend: None) -> None:
    """The fix: the first fsync error ends the run, the next one starts the user over."""
    _, report = explored("py:tests.explore.powerloss.fsync_error_fatal:migrate")
    assert report.exit_status == 0, report.render()
    failed = [r for r in report.results if r.case.effect == FAILED_FSYNC]
    assert failed and all(r.outcome == OK for r in failed), report.render()


def test_the_reference_survives_every_power_cut_on_the_same_tree(strace_backend: None) -> None:
    _, report = explored(DEFAULT_MIGRATOR)
    assert report.exit_status == 0, report.render()
    assert report.results
    # Every fsync of a file failed in turn, each judged (its error landed where meant).
    failed = [r for r in report.results if r.case.effect == FAILED_FSYNC]
    assert any(r.case.paths == (STAGED_DB,) for r in failed)
    assert all(r.outcome != NOT_JUDGED for r in failed), report.render()


def test_a_migrator_relying_on_auto_da_alloc_passes_ext4_and_is_caught_without_it(
    strace_backend: None,
) -> None:
    """A copy renamed over the new DB without an fsync: ext4 (data=ordered, auto_da_alloc)
    writes the copy before the rename commits, xfs, btrfs and POSIX do not."""
    migrator = "py:tests.explore.powerloss.broken_replace_without_fsync:migrate"
    _, on_ext4 = explored(migrator, Fs.EXT4_ORDERED)
    assert on_ext4.exit_status == 0, on_ext4.render()
    assert on_ext4.target["fs"] == "ext4-ordered"
    exploration, report = explored(migrator, Fs.POSIX_MINIMAL)
    assert report.exit_status == 1
    compact = op_index(exploration, Operation.RENAME, f"{WORK}/datastore.compact", NEW_DB)
    # From the rename over the new DB on, the name is on disk and the copy's bytes not.
    plain = [r for r in report.broken if r.case.effect in PLAIN]
    assert plain and all(r.case.index > compact for r in plain)
    assert EFFECTS[COMMITTED] in {r.case.effect for r in plain}
    notes = " ".join(loss.note or "" for r in plain for loss in r.lost)
    assert f"{NEW_DB}: never fsynced: empty on disk" in notes


def test_a_migrator_that_never_fsyncs_a_directory_is_caught_only_without_ordered_metadata(
    strace_backend: None,
) -> None:
    """Every file fsynced before its rename, no directory ever: safe where metadata is
    journalled in order; under posix-minimal the user's folder (the unlink of peek.db)
    reaches the disk ahead of profiles/default (the new DB's name)."""
    migrator = "py:tests.explore.powerloss.broken_no_dir_fsync:migrate"
    _, on_ext4 = explored(migrator, Fs.EXT4_ORDERED)
    assert on_ext4.exit_status == 0, on_ext4.render()
    exploration, report = explored(migrator, Fs.POSIX_MINIMAL)
    assert report.exit_status == 1
    assert {r.case.effect for r in report.broken} & PLAIN == set()
    reordered = [r for r in report.broken if r.case.effect == EFFECTS[REORDERED]]
    unlink = op_index(exploration, Operation.UNLINK, "alice/peek.db")
    # By the first crash point after the unlink of peek.db at the latest: the user's folder
    # ahead of profiles/ and profiles/default/ (the new DB's name and the moved images).
    assert reordered[0].case.index <= min(
        r.case.index for r in report.results if r.case.index > unlink
    )
    notes = " ".join(loss.note or "" for r in reordered for loss in r.lost)
    assert f"{NEW_DB}: file not on disk: its directory not fsynced" in notes
