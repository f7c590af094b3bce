"""Beyond the checklist: rows that sit only in ``peek.db-wal``.

The seed moves ``peek.db`` with ``fs.renameSync`` and never mentions its ``-wal``. A server
in WAL mode that was killed (or is simply running) keeps its most recent rows in
``peek.db-wal`` until a checkpoint; a migration that moves or copies the main file alone
loses them, and a backup made with ``fs.copyFileSync(oldDbPath, ...)`` does not have them
either. Nothing looks wrong until a user asks where last week went. SPEC R1 ("content"
includes the rows still in the -wal), and R2: a dry run must not checkpoint the -wal into
the main file either (that changes the tree it promised not to touch).
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_exit_status, check_r1, check_r2
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.wal


def test_rows_only_in_the_wal_are_migrated(trial: Trial) -> None:
    """R1 for users with 95% and 100% of their rows in the -wal, and a calm one."""
    tree = trial.tree(trees.wal_heavy())
    step = trial.migrate(tree)
    trial.judge(step, check_r1(*step), check_exit_status(step.run))


def test_dry_run_leaves_the_wal_alone(trial: Trial) -> None:
    """R2: opening a WAL-heavy DB in place (even read-only) checkpoints or writes -shm."""
    tree = trial.tree(trees.wal_heavy())
    dry = trial.migrate(tree, dry_run=True)
    trial.judge(dry, check_r2(*dry))
