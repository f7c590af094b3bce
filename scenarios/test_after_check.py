"""R18: the app works on the migrated tree (``--after-check SPEC``; skipped without one).

The risk, from the field: after the seed's migration the Peek server's daily backup still
looked for ``<user>/peek.db`` and printed "No database found for user alice, skipping
backup" on every start. Every rule on the tree held; the app did not. The user's check (the
server started once more, or a script that reads every datastore through the app's own code)
runs with ``DATA_DIR`` on a copy of the migrated tree, after every successful migration in
every scenario (:meth:`harness.scenario.Trial.check_app`); this scenario makes sure it runs
at least once, on trees of every schema generation, and reports under R18 alone.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_exit_status
from harness.run.adapters import Migrator
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.after_check


@pytest.mark.parametrize("shape", ["small_users", "three_users"])
def test_the_app_works_on_the_migrated_tree(
    trial: Trial, after_check: Migrator | None, shape: str
) -> None:
    """R18: the check passes (exit 0, no JSON error event, no --fail-line match) on the tree
    the migrator left."""
    if after_check is None:
        pytest.skip("no app to check: give --after-check SPEC (or after-check in config)")
    tree = trial.tree(getattr(trees, shape)())
    step = trial.migrate(tree)
    trial.judge(step, check_exit_status(step.run))
