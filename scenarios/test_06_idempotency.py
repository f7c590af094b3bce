"""Checklist item 6: "Test migration idempotency (run twice)".

The migration runs at every server start, so it always runs twice. The risk: a second run
that redoes work, re-creates the backup (which restarts its 30-day grace clock, so it is
never cleaned up, or worse, overwrites a good backup with whatever is there now), moves
images again, or adds a second profile row. SPEC R3: the second run changes nothing,
backup mtimes included.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fixtures.spec import TreeSpec
from harness.judge.oracles import check_exit_status, check_r1, check_r3
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.idempotency


def _name(tree: Callable[[], TreeSpec]) -> str:
    return tree.__name__


def test_second_run_changes_nothing(trial: Trial) -> None:
    """R3 on a first deploy: the first run migrates everyone (R1), the second succeeds
    and leaves the tree exactly as the first left it."""
    tree = trial.tree(trees.legacy_only())
    first = trial.migrate(tree)
    trial.judge(first, check_r1(*first), check_exit_status(first.run))
    second = trial.migrate(tree)
    trial.judge(second, check_r3(first.after, second.after, second.run, original=first.before))
    trial.judge(second, check_exit_status(second.run))


@pytest.mark.parametrize(
    "spec", [trees.mixed_states, trees.half_migrated, trees.seed_folders], ids=_name
)
def test_second_run_changes_nothing_after_half_states(
    trial: Trial, spec: Callable[[], TreeSpec]
) -> None:
    """R3 where the first run finishes interrupted migrations or refuses users: whatever
    it left, a second run leaves alone."""
    tree = trial.tree(spec())
    first = trial.migrate(tree)
    second = trial.migrate(tree)
    trial.judge(second, check_r3(first.after, second.after, second.run, original=first.before))
