"""Checklist item 3: "Test migration with disk nearly full".

The risk: the seed's plan makes a full copy (``fs.copyFileSync(oldDbPath, backupPath)``)
before moving anything, on the server's own disk. On a nearly full disk that copy fails half
way; the seed then "rolls back" by copying again, and a half-written backup or database is
left where the next start takes it for the user's data. SPEC R8: a user that does not fit is
left untouched, with no partial file anywhere, the error is reported, the users that do fit
are migrated, and once space is freed a re-run migrates the rest.

The disk is real: DATA_DIR is a file system of its own (``harness.faults.mounts``; tmpfs, or
with ``--disk ext4|xfs`` a loop-mounted image), filled (free space measured by statvfs) so that
``LEAVE_FREE`` bytes remain: less than one copy of the big user's database, several times
what a small user needs. Where mounting is not permitted the scenario skips with the reason.
"""

from __future__ import annotations

import pytest

from harness.faults import mounts
from harness.judge.oracles import check_exit_status, check_r1, check_r8
from harness.scenario import Tree, Trial, as_rule
from scenarios import trees

pytestmark = [pytest.mark.disk_full, pytest.mark.usefixtures("needs_mounts")]

MIB = 1 << 20
BIG_DB = 6 * MIB
LEAVE_FREE = 4 * MIB  # < the big user's DB alone; > 2x a small user's DB plus 1 MiB
SMALL = ("alice", "bob")


def disk_size(tree: Tree) -> int:
    """The tree, the free space left, and room for the whole migration once space is freed."""
    used = sum(p.stat().st_size for p in tree.path.rglob("*") if p.is_file())
    return used + LEAVE_FREE + 4 * tree.db_bytes("big") + 16 * MIB


def test_user_that_does_not_fit_is_untouched_then_migrated_after_space_is_freed(
    trial: Trial, disk: mounts.FsKind
) -> None:
    """R8: the big user untouched and reported, no partial file, the small users migrated
    (R1); after the filler is deleted, a re-run migrates everyone (R8's last clause)."""
    tree = trial.tree(trees.one_big_user_among_small(BIG_DB))
    with mounts.volume(tree.path, disk_size(tree), kind=disk, keep_contents=True):
        filler = mounts.fill(tree.path, LEAVE_FREE)
        full = trial.migrate(tree)
        trial.judge(full, check_r8(*full), check_r1(*full, users=SMALL))

        filler.unlink()
        freed = trial.migrate(tree)
        migrated = check_r1(full.before, freed.after, freed.run)
        trial.judge(freed, as_rule("R8", migrated), check_exit_status(freed.run))
