"""What a scenario is made of: a ``Trial`` that builds trees, runs the migrator between two
snapshots (``Step``) and turns the oracles' verdicts into one ``RuleBroken``.

It works without pytest (the plugin only constructs it), so a script or a notebook can run a
scenario's steps by hand. Runs with an injected fault are the fault explorer's
(``harness.explore``): checklist item 4 picks its cases with ``harness.explore.sites``.
"""

from harness.scenario.model import Step, Tree, as_rule
from harness.scenario.replay_command import replay_command
from harness.scenario.trial import Trial

__all__ = [
    "Step",
    "Tree",
    "Trial",
    "as_rule",
    "replay_command",
]
