"""``Trial``: what one scenario uses to build a tree, run the migrator and judge the result.

A scenario reads like the checklist because the Trial carries everything that is not the
scenario's own business: the migrator under test, the tree factory (cached trees), a private
directory, the seed every tree is generated from, and the one command that replays the
scenario. ``judge`` turns the oracles' verdicts into a single ``RuleBroken`` carrying the
rule, the user, expected and found, the diff, the migrator's output, the tree, the seed and
that replay command, so a failure can be acted on without rerunning anything.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from pathlib import Path

from fixtures.factory import TreeFactory
from fixtures.spec import TreeSpec
from harness.judge.oracles import check_stayed_inside
from harness.judge.oracles.rules import check_r18
from harness.judge.snapshot import diff
from harness.judge.verdict import Verdict, raise_if_broken
from harness.run.adapters import Migrator, run_together
from harness.scenario.aftercheck import run_after_check
from harness.scenario.model import Step, Tree

Verdicts = Verdict | Iterable[Verdict]


class Trial:
    """One scenario's view of the kit. Not thread-safe; one per test."""

    def __init__(
        self,
        migrator: Migrator,
        factory: TreeFactory,
        workdir: Path,
        *,
        seed: int = 0,
        replay: str | None = None,
        after_check: Migrator | None = None,
    ) -> None:
        self.migrator = migrator
        self.after_check = after_check
        self.factory = factory
        self.workdir = Path(workdir)
        self.seed = seed
        self.replay = replay
        self._numbers = itertools.count(1)

    def tree(self, spec: TreeSpec, *, seed: int | None = None) -> Tree:
        """A private copy of ``spec``'s tree, generated from the trial's seed.

        The seed is replaced here, not by each scenario, so ``--mk-seed`` reaches every
        tree; a Hypothesis-generated spec passes its own (``seed=spec.seed``).
        """
        spec = dataclasses.replace(spec, seed=self.seed if seed is None else seed)
        path, manifest = self.factory.make(spec, self.workdir / f"tree{next(self._numbers)}")
        return Tree(path, spec, manifest)

    def migrate(
        self,
        tree: Tree,
        *,
        dry_run: bool = False,
        grace_days: float | None = None,
        migrator: Migrator | None = None,
    ) -> Step:
        """Snapshot, run the migrator once, snapshot."""
        before = tree.snapshot()
        run = (migrator or self.migrator).run(tree.path, dry_run=dry_run, grace_days=grace_days)
        step = self._finished(Step(tree, before, tree.snapshot(), (run,)))
        return step if dry_run else self.check_app(step)

    def check_app(self, step: Step) -> Step:
        """``step`` with the after-check's run (R18), when one is given and every run of
        the step succeeded: the app started on a copy of the migrated tree, which
        :meth:`judge` then judges with the step's other verdicts."""
        if self.after_check is None or not all(r.ok for r in step.runs):
            return step
        scratch = self.workdir / f"after-check{next(self._numbers)}"
        checked = run_after_check(self.after_check, step.tree.path, scratch)
        return dataclasses.replace(step, checked=checked, check=self.after_check.spec)

    def migrate_together(self, tree: Tree, count: int = 2) -> Step:
        """Snapshot, start ``count`` migrator processes at once (R15), snapshot."""
        before = tree.snapshot()
        runs = run_together([self.migrator] * count, tree.path)
        return self._finished(Step(tree, before, tree.snapshot(), tuple(runs)))

    def _finished(self, step: Step) -> Step:
        """``step``, unless a run did not finish in time: then that is the scenario's one
        finding, "the migrator did not finish in N s" with its command and last lines of
        output; the rules would only judge a tree it was killed in the middle of."""
        late = [r for r in step.runs if r.timed_out]
        if not late:
            return step
        verdicts = [
            Verdict(
                "contract",
                None,
                False,
                f"the run to end within {r.timeout_s:g} s" if r.timeout_s else "the run to end",
                f"{r.describe()}; command: {r.command}; last lines of its output:\n"
                f"{r.tail() or '(none)'}",
            )
            for r in late
        ]
        self.judge(step, verdicts)
        raise AssertionError("unreachable: a verdict failed")  # pragma: no cover

    def judge(self, step: Step, *verdicts: Verdicts) -> list[Verdict]:
        """Raise ``RuleBroken`` if any verdict failed; return them all when every one held."""
        flat: list[Verdict] = []
        for v in verdicts:
            flat.extend([v] if isinstance(v, Verdict) else v)
        if step.checked is not None:
            flat.extend(check_r18(step.checked, spec=step.check))
        flat.extend(check_stayed_inside(step.runs))
        if all(v.ok for v in flat):
            return flat
        commands = "\n".join(dict.fromkeys(r.replay for r in step.runs))
        raise_if_broken(
            flat,
            diff=diff(step.before, step.after),
            output=step.output(),
            seed=self.seed,
            replay=self.replay,
            context=(
                *step.notes,
                ("Tree", step.tree.describe()),
                ("The migrator's command", commands),
                ("Sandbox", "; ".join(dict.fromkeys(r.protection for r in step.runs))),
            ),
            size=step.before.size,
        )
        raise AssertionError("unreachable: a verdict failed")  # pragma: no cover
