"""Turn an oracle's verdicts into a pass or a ``RuleBroken`` a person can act on."""

from __future__ import annotations

from collections.abc import Sequence

from harness.judge.snapshot import Snapshot, diff
from harness.judge.verdict import Verdict, raise_if_broken
from harness.run.process import RunResult


def assert_verdicts(
    verdicts: Sequence[Verdict],
    *,
    before: Snapshot,
    after: Snapshot,
    run: RunResult | None = None,
    seed: int | None = None,
    context: Sequence[tuple[str, str]] = (),
) -> None:
    """Raise ``RuleBroken`` when any verdict failed, with the diff, output and replay.

    The diff is only computed for a failure: it is the expensive part, and a passing
    scenario has no reader for it.
    """
    if all(v.ok for v in verdicts):
        return
    raise_if_broken(
        verdicts,
        diff=diff(before, after),
        output=None if run is None else f"{run.describe()}\n{run.output}",
        seed=seed,
        replay=None if run is None else run.replay,
        context=context,
    )
