"""The two things a scenario holds: a built ``Tree`` and a ``Step`` (one run between two
snapshots). Plain frozen data, so a step can be judged, printed or kept for later."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fixtures.manifest import Manifest
from fixtures.spec import TreeSpec
from harness.judge.snapshot import Snapshot
from harness.judge.verdict import Verdict
from harness.run.process import RunResult

SPEC_SHOWN = 2000  # characters of a tree's spec JSON shown in a failure


@dataclass(frozen=True)
class Tree:
    """A data dir built from ``spec``: where it is, and the fixture's answer key."""

    path: Path
    spec: TreeSpec
    manifest: Manifest

    def snapshot(self) -> Snapshot:
        return Snapshot.take(self.path)

    def db_bytes(self, user_id: str) -> int:
        """The size of the user's live database as built: peek.db (or the new DB) and its
        -wal, which is what "a small database" or "a large database" means to a person."""
        names = {"peek.db", "peek.db-wal", "datastore.sqlite", "datastore.sqlite-wal"}
        files = self.manifest.user(user_id).files
        return sum((self.path / f).stat().st_size for f in files if f.rsplit("/", 1)[-1] in names)

    def describe(self) -> str:
        """Where the tree is and the spec that rebuilds it (``migration-kit fixtures build``)."""
        spec = self.spec.to_json()
        if len(spec) > SPEC_SHOWN:
            spec = spec[:SPEC_SHOWN] + f" ... ({len(spec) - SPEC_SHOWN} more characters)"
        return f"data dir: {self.path}\nspec: {spec}"


@dataclass(frozen=True)
class Step:
    """One or more migrator runs on ``tree`` between the ``before`` and ``after`` snapshots.

    Iterating gives ``(before, after, run)``, the arguments of every ``check_rN`` oracle,
    so a scenario reads ``check_r1(*step)``. ``runs`` has several entries only for runs
    started together (R15).
    """

    tree: Tree
    before: Snapshot
    after: Snapshot
    runs: tuple[RunResult, ...]
    notes: tuple[tuple[str, str], ...] = ()  # extra titled blocks for a failure report
    # R18: the user's after-check, run on a copy of the tree after ``after`` was taken
    # (None: no check given, or the migration did not succeed); ``check`` is its spec.
    checked: RunResult | None = None
    check: str = ""

    @property
    def run(self) -> RunResult:
        return self.runs[-1]

    def __iter__(self) -> Iterator[object]:
        return iter((self.before, self.after, self.run))

    def output(self) -> str:
        """What the migrator printed, each run introduced by how it ended."""
        if len(self.runs) == 1:
            return f"{self.run.describe()}\n{self.run.output}"
        return "\n\n".join(
            f"run {i} of {len(self.runs)}: {r.describe()}\n{r.output}"
            for i, r in enumerate(self.runs, 1)
        )


def as_rule(rule: str, verdicts: Iterable[Verdict]) -> list[Verdict]:
    """The same verdicts filed under ``rule``: R1's outcome judged for R12 or R8, say, so a
    report names the checklist's rule rather than the oracle that happened to judge it."""
    return [dataclasses.replace(v, rule=rule) for v in verdicts]
