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
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from fixtures.build import remove_tree
from harness.explore import engine as explore
from harness.explore.powerloss.image import CrashImage
from harness.explore.powerloss.materialise import materialise
from harness.explore.results import (
    OUTPUT_TAIL,
    Loss,
    losses,
    verdict_from_dict,
    verdict_to_dict,
)
from harness.judge.oracles import check_converged, check_no_content_lost
from harness.judge.snapshot import Snapshot, diff
from harness.judge.verdict import Verdict

RULE = "R17"
# Free space a tmpfs must have to hold crash states (a small tree needs a few MB each).
_SCRATCH_FREE = 512 << 20


def scratch_root() -> str | None:
    """Where crash states are written out and re-run: a tmpfs when there is one.

    Each re-run fsyncs as the migrator always does; on a tmpfs that costs nothing, and
    what the re-run's own fsyncs would protect is not what is judged. None: the system
    temp dir.
    """
    shm = "/dev/shm"
    if (
        os.path.isdir(shm)
        and os.access(shm, os.W_OK)
        and shutil.disk_usage(shm).free > _SCRATCH_FREE
    ):
        return shm
    return None


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdicts": [verdict_to_dict(v) for v in self.verdicts],
            "lost": [x.to_dict() for x in self.lost],
            "crashed": self.crashed,
            "rerun": self.rerun,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Judgement:
        return cls(
            verdicts=tuple(verdict_from_dict(v) for v in data["verdicts"]),
            lost=tuple(Loss.from_dict(x) for x in data["lost"]),
            crashed=data["crashed"],
            rerun=data["rerun"],
        )


class JudgementStore:
    """Judgements by image digest in a directory that several processes share.

    The first process to want a digest judges it under a per-digest file lock; the others
    wait and read its JSON. Only for one test session (keys are not versioned by code).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def get(self, digest: str, judge: Any) -> Judgement:
        path = self.directory / f"{digest}.json"
        with FileLock(str(self.directory / f"{digest}.lock")):
            if path.exists():
                return Judgement.from_dict(json.loads(path.read_text()))
            found = judge()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(found.to_dict()))
            tmp.replace(path)
            return found


class Judge:
    """Judges crash images of one baseline, each distinct tree once."""

    def __init__(
        self,
        base: explore.Baseline,
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
