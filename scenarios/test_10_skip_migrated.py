"""Checklist item 10: "Verify migration skips if already migrated".

The seed skips a user when ``fs.existsSync(newDbPath)``. The risk: a migrator that does not
skip re-migrates (moving an old database over the live one, or making a fresh backup of a
user whose data moved months ago), or one that skips too much and never creates the
profile row the new server needs. SPEC R4: an already migrated user (new DB only) is left
untouched, no backup created, and the profile row ensured.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_exit_status, check_r1, check_r4
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.skip_migrated

MIGRATED = ("moved", "moved-wal", "moved-backup", "moved-plain", "moved-no-profile")


def test_migrated_users_are_left_alone(trial: Trial) -> None:
    """R4 for every migrated user (rows in the new DB's -wal, a young backup, no images,
    no profile row yet: it is created); the legacy user beside them migrated (R1)."""
    tree = trial.tree(trees.already_migrated())
    step = trial.migrate(tree)
    trial.judge(step, check_r4(*step, users=MIGRATED), check_r1(*step), check_exit_status(step.run))


SEEDED = ("seeded", "seeded-wal")


def test_seed_profile_folders_follow_the_layout(trial: Trial) -> None:
    """R4 through the layout in force: users in the seed's profiles/default are left alone
    under peek-slug, and renamed to profiles/<row id> under peek-uuid (a copy that leaves
    both folders, or loses images or -wal rows, fails); the legacy user migrated (R1)."""
    tree = trial.tree(trees.seed_folders())
    step = trial.migrate(tree)
    trial.judge(step, check_r4(*step, users=SEEDED), check_r1(*step), check_exit_status(step.run))
