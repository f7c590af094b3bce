"""Checklist item 9: "Verify backup doesn't exist when old DB missing".

A user who signed up and never saved anything has a folder and no ``peek.db``. The risk: a
migrator that makes a backup (or a new DB, or a profile folder) for them anyway creates an
empty database that later passes for the user's data: the clean-up's age check, a restore,
or the next migration takes it for something real. SPEC R6: nothing created for that user.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_exit_status, check_r1, check_r6
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.no_backup_without_db


def test_users_without_a_database_get_nothing(trial: Trial) -> None:
    """R6: no backup, no new DB, nothing at all in their folders; the others migrated."""
    tree = trial.tree(trees.users_without_db())
    step = trial.migrate(tree)
    trial.judge(step, check_r6(*step), check_r1(*step), check_exit_status(step.run))


def test_nor_on_a_second_run(trial: Trial) -> None:
    """R6 across two runs: a later start does not create what the first did not."""
    tree = trial.tree(trees.users_without_db())
    first = trial.migrate(tree)
    second = trial.migrate(tree)
    trial.judge(second, check_r6(first.before, second.after, second.run))
