"""Checklist item 8: "Test backup cleanup after grace period".

The seed deletes ``peek.db.pre-migration-backup`` when it is older than
``GRACE_PERIOD_DAYS = 30``, from a ``setTimeout`` right after the migration, the one moment
every backup is seconds old: so it never deletes anything, and backups pile up forever. The
opposite risk is worse: deleting the backup of a user whose migration did not finish, the
only good copy of their data. SPEC R11: a backup older than the grace period of a fully
migrated user is deleted by the next run, a younger one is kept untouched, and the backup
of a user not fully migrated is never deleted. The grace period is
``MIGRATION_BACKUP_GRACE_DAYS`` (default 30); ages are simulated by moving mtimes back.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_r1, check_r11
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.backup_cleanup


def test_backups_past_the_default_grace_period_are_deleted(trial: Trial) -> None:
    """R11 at 30 days: the 40-day backup deleted, the 10-day one kept, the stranded
    user's 40-day backup kept; the legacy user's new backup made and kept (R1)."""
    tree = trial.tree(trees.aged_backups(ages=(10.0, 40.0)))
    step = trial.migrate(tree)
    trial.judge(step, check_r11(*step), check_r1(*step))


def test_grace_period_from_the_environment(trial: Trial) -> None:
    """R11 with MIGRATION_BACKUP_GRACE_DAYS=5: the 10- and 40-day backups deleted, the
    2-day one kept, the stranded user's backup kept."""
    tree = trial.tree(trees.aged_backups(ages=(2.0, 10.0, 40.0)))
    step = trial.migrate(tree, grace_days=5)
    trial.judge(step, check_r11(*step, grace_days=5), check_r1(*step))
