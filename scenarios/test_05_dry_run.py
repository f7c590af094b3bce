"""Checklist item 5: "Test dry-run mode".

The seed's deployment plan says: "Run dry-run on production to verify what would be
migrated", with ``MIGRATION_DRY_RUN=true npm start``. The risk is a dry run that is not dry:
the field's failure was a dry run that created an empty new database, which the real run
then took for a finished migration (the "dry-run trap"), so the users' real data was never
moved and later deleted with the backups. SPEC R2: the whole tree untouched (no new dirs,
no sidecars, no backups, no checkpointed -wal) and a log line per user it would migrate.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_r1, check_r2
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.dry_run


def test_dry_run_changes_nothing_and_names_each_user(trial: Trial) -> None:
    """R2: byte for byte, mtimes and system.db included; each legacy user named."""
    tree = trial.tree(trees.mixed_states())
    dry = trial.migrate(tree, dry_run=True)
    trial.judge(dry, check_r2(*dry))


def test_real_run_after_a_dry_run_migrates_everyone(trial: Trial) -> None:
    """The trap itself: after a dry run, the real run still migrates every legacy user
    whole (R1 against the tree as it was before the dry run)."""
    tree = trial.tree(trees.mixed_states())
    dry = trial.migrate(tree, dry_run=True)
    real = trial.migrate(tree)
    trial.judge(real, check_r2(*dry), check_r1(dry.before, real.after, real.run))
