"""Judge one crash state: nothing lost in it, and a clean re-run reaches the fault-free result.

For a crash image: write it out as a real tree, check SPEC's "no content lost at any
moment" against the tree before the run, run the migrator on it (a real process, exactly as
any run), and check the tree it leaves equals the fault-free result. Both under R17.

Many crash points leave the same tree (between two fsyncs nothing new becomes durable), so
a judgement is keyed by the image's digest and made once per process, or once per test
session when a :class:`JudgementStore` directory is shared by pytest-xdist workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.explore.baseline import Baseline
from harness.explore.powerloss.image import CrashImage
from harness.explore.powerloss.materialise import materialise
from harness.explore.results import OUTPUT_TAIL, Loss, losses
from harness.judge.oracles import check_converged, check_no_content_lost
from harness.judge.snapshot import Snapshot, diff
from harness.judge.verdict import Verdict
from harness.store import codec
from harness.store.once import once
from harness.store.scratch import remove_tree

RULE = "R17"


@dataclass(frozen=True)
class Judgement:
    """What one crash state came to: the verdicts, what was lost, and the evidence."""

    verdicts: tuple[Verdict, ...]
    lost: tuple[Loss, ...] = ()
    crashed: str = ""  # the crash state compared with the tree before the run (failures)
    rerun: str = ""  # how the clean re-run ended, and its output (failures)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


class JudgementStore:
    """Judgements by image digest in a directory that several processes share.

    The first process to want a digest judges it (:func:`harness.store.once.once`); the
    others wait and read its JSON. Only for one test session (keys are not versioned by code).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def get(self, digest: str, judge: Callable[[], Judgement]) -> Judgement:
        """The judgement of ``digest``: ``judge()``'s, made here or by another process."""
        path = self.directory / f"{digest}.json"
        made: list[Judgement] = []

        def write(staging: Path) -> None:
            made.append(judge())
            staging.write_text(codec.to_json(made[0]))

        once(path, write, lock=self.directory / f"{digest}.lock")
        return made[0] if made else codec.from_json(Judgement, path.read_text())


class Judge:
    """Judges crash images of one baseline, each distinct tree once."""

    def __init__(
        self,
        base: Baseline,
        workdir: Path,
        *,
        store: JudgementStore | None = None,
    ) -> None:
        self.base = base
        self.workdir = Path(workdir)
        self.store = store
        self.known: dict[str, Judgement] = {}
        self._count = 0

    def __call__(self, image: CrashImage) -> Judgement:
        found = self.known.get(image.digest)
        if found is None:
            if self.store is not None:
                found = self.store.get(image.digest, lambda: self._judge(image))
            else:
                found = self._judge(image)
            self.known[image.digest] = found
        return found

    def _judge(self, image: CrashImage) -> Judgement:
        self._count += 1
        tree = self.workdir / f"state{self._count}-{image.digest[:12]}"
        try:
            materialise(image, tree)
            return self._judge_tree(tree)
        finally:
            with contextlib.suppress(OSError):
                remove_tree(tree)

    def _judge_tree(self, tree: Path) -> Judgement:
        base = self.base
        crashed = Snapshot.take(tree)
        # A user the fault-free run already loses is judged once, by the baseline.
        already = {(v.user, v.expected) for v in base.verdicts if not v.ok}
        verdicts = [
            v
            for v in check_no_content_lost(base.before, crashed, rule=RULE)
            if (v.user, v.expected) not in already
        ]
        rerun = base.exploration.open_migrator().run(tree)
        final = Snapshot.take(tree)
        verdicts += check_converged(final, base.reference, rule=RULE)
        if all(v.ok for v in verdicts):
            return Judgement(tuple(verdicts))
        users = sorted({v.user for v in verdicts if not v.ok and v.user in base.before.users})
        crashed_diff = diff(base.before, crashed)
        return Judgement(
            verdicts=tuple(verdicts),
            lost=losses(crashed_diff, users),
            crashed=str(crashed_diff),
            rerun=f"{rerun.describe()}\n{rerun.output[-OUTPUT_TAIL:]}",
        )
