"""One run cut into N slices (a CI job matrix), and the slices checked before they are merged.

An exhaustive exploration grows with users x operations x effects, and a checklist with its
scenarios; a team that outgrows one machine already has a distributed engine: its CI's job
matrix. Shard ``K/N`` (1-based) runs the items at positions ``K-1, K-1+N, K-1+2N, ...`` of
the whole selection, in the order pytest collects them (which the same code and arguments
make the same on every machine). Round-robin rather than a hash of the test id: the slices
stay within one item of each other in size, so no job of the matrix waits on a fat one.

Every slice writes :class:`ShardResults`: which shard of how many, what was run (the
``target``: migrator, tree, effects, selection options), the whole selection's size and a
digest of its ids in order (so slices recorded on machines that collected different cases,
say a different trace, are refused rather than merged into nonsense), and the run's own
report (the ``--json`` / ``--checklist-json`` data the kit writes anyway).
:func:`check` is what ``migration-kit merge`` asks before it folds them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.contract.errors import UsageError
from harness.store import codec

T = TypeVar("T")
FORMAT = "migration-kit shard results 1"


class ShardError(UsageError):
    """A bad ``--shard``, or slices that do not make one whole run (exit 2)."""


@dataclass(frozen=True)
class Shard:
    """Slice ``k`` (1-based) of ``n``."""

    k: int
    n: int

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise ShardError(f"shard {self.k}/{self.n}: expected K/N with 1 <= K <= N")

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    def pick(self, items: Sequence[T]) -> list[T]:
        """This slice of ``items`` (in their order): every N-th, from the K-th."""
        return list(items[self.k - 1 :: self.n])


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> ``Shard(2, 4)``; a :class:`ShardError` saying the form otherwise."""
    k, sep, n = text.strip().partition("/")
    if not sep or not k.isdigit() or not n.isdigit():
        raise ShardError(f"--shard {text!r}: expected K/N, e.g. 2/4 (slice 2 of 4)")
    return Shard(int(k), int(n))


def digest(ids: Iterable[str]) -> str:
    """A short fingerprint of a selection's ids in order: equal on two machines only when
    both selected the same cases in the same order."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Slice:
    """What a sharded pytest session ran: slice ``k`` of ``n`` of a selection of
    ``selected`` tests whose ids, in order, have the digest ``selection``."""

    k: int
    n: int
    selected: int
    selection: str


@dataclass(frozen=True)
class ShardResults:
    """One slice's results, what ``--results FILE`` writes and ``merge`` reads."""

    kind: str  # "explore", "power-loss" or "checklist": what report ``report`` holds
    shard: Shard
    target: Mapping[str, Any]  # what was run: slices of different targets never merge
    selected: int | None  # the whole selection's size; None: this slice saw no item
    selection: str  # digest() of the whole selection's ids ("" when selected is None)
    report: Any  # ExploreReport or ChecklistRun data
    format: str = FORMAT

    def to_json(self) -> str:
        return codec.to_json(self, indent=1) + "\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ShardResults:
        """The slice in ``path``; a :class:`ShardError` naming the file when it is none."""
        not_one = f"{path}: not a shard's results (write them with --shard K/N --results)"
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError:
            raise ShardError(not_one) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ShardError(not_one)
        try:
            return codec.from_data(cls, data)
        except (ValueError, codec.CodecError) as exc:
            raise ShardError(f"{path}: {exc}") from None


def check(slices: Sequence[ShardResults], ran: Sequence[Sequence[str]]) -> None:
    """Raise a :class:`ShardError` unless ``slices`` are the N slices of one run: one kind,
    one target, one N, each K once, one selection, and (``ran``: each slice's ids) no id run
    twice and, together, as many as the whole selection holds."""
    if not slices:
        raise ShardError("merge: no shard results given")
    first = slices[0]
    for s in slices[1:]:
        if s.kind != first.kind:
            raise ShardError(f"merge: a {s.kind} slice and a {first.kind} slice")
        if dict(s.target) != dict(first.target):
            keys = {*s.target, *first.target}
            diff = sorted(k for k in keys if s.target.get(k) != first.target.get(k))
            raise ShardError(f"merge: slices of different runs (they differ in {', '.join(diff)})")
        if s.shard.n != first.shard.n:
            raise ShardError(f"merge: slices of {first.shard.n} and of {s.shard.n} shards")
    counts = Counter(s.shard.k for s in slices)
    twice = sorted(k for k, c in counts.items() if c > 1)
    if twice:
        names = ", ".join(f"{k}/{first.shard.n}" for k in twice)
        raise ShardError(f"merge: shard {names} given twice")
    missing = sorted(set(range(1, first.shard.n + 1)) - set(counts))
    if missing:
        names = ", ".join(f"{k}/{first.shard.n}" for k in missing)
        raise ShardError(f"merge: shard {names} missing")
    seen = {(s.selected, s.selection) for s in slices if s.selected is not None}
    if len(seen) > 1:
        raise ShardError(
            "merge: the slices selected different cases (a different recording, code or "
            "options on some machine): rerun every shard from one commit"
        )
    ids = Counter(i for one in ran for i in one)
    repeated = sorted(i for i, c in ids.items() if c > 1)
    if repeated:
        raise ShardError(f"merge: {repeated[0]} ran in two slices ({len(repeated)} such)")
    if seen:
        ((selected, _),) = seen
        if len(ids) != selected:
            raise ShardError(f"merge: the slices ran {len(ids)} of {selected} selected")
