"""Beyond the checklist: the rules hold for every tree, not just the ones we thought of.

Hypothesis generates small data dirs (``fixtures.strategies.tree_specs``): any mix of user
states, half states, damage, WAL shares, quirks, aged backups and hostile extras. On every
one, the migrator must lose no content (SPEC's "no content lost"), finish every plain legacy
user (R1) and leave the tree alone on a second run (R3). A failure shrinks to the smallest
tree that still breaks a rule, and replays from the seed (``--mk-seed``), from which
Hypothesis' seeds are derived here; the example database is off, so a run never depends on
an earlier one. The examples are split into parts (``harness.scenario.parts``), each its own
test, so that pytest-xdist workers share them.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, seed, settings

from fixtures import strategies
from fixtures.spec import TreeSpec
from harness.judge.oracles import check_no_content_lost, check_r1, check_r3
from harness.scenario import Trial, parts

pytestmark = pytest.mark.property

EXAMPLES = 12
PARTS = 4  # tests of 3 examples each: about a second apiece


@pytest.mark.parametrize("part", range(PARTS), ids=parts.ids(PARTS))
def test_rules_hold_on_generated_trees(trial: Trial, part: int) -> None:
    """No content lost, R1 and R3 on each generated tree (this part's share of them)."""

    @seed(parts.part_seed(trial.seed, part, PARTS))
    @settings(
        max_examples=parts.examples(EXAMPLES, part, PARTS),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(spec=parts.excluding_simplest(strategies.tree_specs(max_users=4), part))
    def rules_hold(spec: TreeSpec) -> None:
        tree = trial.tree(spec, seed=spec.seed)
        first = trial.migrate(tree)
        trial.judge(first, check_no_content_lost(first.before, first.after), check_r1(*first))
        second = trial.migrate(tree)
        trial.judge(second, check_r3(first.after, second.after, second.run, original=first.before))

    rules_hold()
