"""Beyond the checklist: two migrator processes started together.

The migration runs "at server start", and servers are started twice: a supervisor's
restart overlapping the old process, two replicas on one volume, a person running the
migration by hand while the service starts. The seed has no lock: both processes see every
user as legacy, both copy a backup, both rename; the slower one finds ``peek.db`` gone and
"rolls back" over a half-moved user. SPEC R15: each user migrated exactly once, nothing
lost; and by the external contract neither process reports a failure, since no user failed.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_exit_status, check_no_content_lost, check_r15
from harness.scenario import Trial, as_rule
from scenarios import trees

pytestmark = pytest.mark.concurrency


def test_two_processes_migrate_each_user_once(trial: Trial) -> None:
    """R15: six users with enough data that the runs overlap; after both, every user
    migrated once (one profile row, no second copy or backup), no content lost, and
    neither run reports a failure: one migrates, the other waits or finds nothing left to
    do. A run that fails because the other moved a file under it has raced it, even when
    the tree happens to end up right. "One migration's files" are what the same migrator
    leaves when it runs alone on an identical tree, whatever it names them."""
    alone = trial.migrate(trial.tree(trees.busy_server()))
    trial.judge(alone, check_exit_status(alone.run))
    tree = trial.tree(trees.busy_server())
    step = trial.migrate_together(tree, 2)
    trial.judge(
        step,
        check_r15(step.before, step.after, step.runs, alone=alone.after),
        check_no_content_lost(step.before, step.after, rule="R15"),
        as_rule("R15", [check_exit_status(run) for run in step.runs]),
    )
