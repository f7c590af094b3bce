"""Checklist item 1: "Test migration with small database (< 1MB)".

The risk, in the seed's words: the migration "uses fs.renameSync() which is a MOVE operation,
not a copy. This poses data loss risks if something goes wrong during migration." Most users
of a real server are small, so this is where a broken migration first loses someone's data:
rows that still sit in peek.db-wal, images left behind, a profile row never created.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_exit_status, check_r1
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.small_db

MB = 1_000_000


def test_small_users_are_migrated_whole(trial: Trial) -> None:
    """R1: every user's rows (the -wal's included), images, profile row and backup."""
    tree = trial.tree(trees.small_users())
    assert max(tree.db_bytes(u.user_id) for u in tree.manifest.users) < MB, "precondition"
    step = trial.migrate(tree)
    trial.judge(step, check_r1(*step), check_exit_status(step.run))
