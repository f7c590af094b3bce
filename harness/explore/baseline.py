"""The baseline: one fault-free run of an exploration, recorded, and the cases it offers.

Build the tree, run the migrator on it once without a fault while recording its file
operations (the trace). The tree it leaves is the fault-free result every faulted run must
converge to. Recorded once per tree spec, migrator and code version (:func:`cache_key`), and
kept on disk (:func:`harness.store.once.once`), so that every pytest-xdist worker lists the
very same cases and none of them records it again.

The cases (:meth:`Baseline.cases`): every operation k of the trace times every effect that
operation can suffer (:func:`harness.faults.points.fault_points`): an errno, or a kill just
before it. With the ``syscall`` backend, operations outside the data dir (a ``tempfile``
scratch copy, say) are not cases: their paths are random names that a later run does not
repeat, so no recording can target them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fixtures.cache import cache_key as tree_cache_key
from fixtures.cache import copy_tree, default_cache_dir
from fixtures.factory import TreeFactory
from harness.explore.backends import record_run
from harness.explore.exploration import Exploration, ExploreError
from harness.explore.fingerprint import code_fingerprint
from harness.explore.results import (
    Case,
    CaseResult,
    ExploreReport,
    Step,
    owner_of,
    parse_case_id,
)
from harness.faults.plan import FaultPlan, Operation, PlanError
from harness.faults.points import FaultPoint, fault_points, plan_at
from harness.faults.trace import TRACED, Trace, TraceOp
from harness.judge.oracles import check_no_content_lost
from harness.judge.snapshot import Snapshot
from harness.judge.verdict import Verdict
from harness.store.once import once
from harness.store.scratch import ram_scratch, remove_tree


def snapshot(root: Path) -> Snapshot:
    """``Snapshot.take`` with its scratch copies of the databases where scratch trees go."""
    scratch = ram_scratch()
    return Snapshot.take(root, scratch=Path(scratch) if scratch else None)


@dataclass(frozen=True)
class Baseline:
    """A fault-free run of the exploration's migrator on its tree, and its trace.

    ``before_dir`` and ``result_dir`` are read-only copies of the tree before and after that
    run (in the cache, shared by processes): never run anything in them.
    """

    exploration: Exploration
    trace: Trace
    recorded_root: str  # where the tree was when recorded: the trace's paths start here
    before_dir: Path
    result_dir: Path
    exit_status: int
    output: str

    @cached_property
    def before(self) -> Snapshot:
        return snapshot(self.before_dir)

    @cached_property
    def reference(self) -> Snapshot:
        """The fault-free result a faulted tree must converge to after a clean re-run."""
        return snapshot(self.result_dir)

    @cached_property
    def verdicts(self) -> tuple[Verdict, ...]:
        """The fault-free run judged on its own: does it keep every user's content?

        A user whose content the fault-free run already loses (a migrator that drops the
        WAL, say) is reported once, here, rather than as a failure of every case.
        """
        return tuple(check_no_content_lost(self.before, self.reference, rule="content"))

    def targetable(self, op: TraceOp) -> bool:
        """Whether a run can be made to fail at ``op`` again (see the module docstring)."""
        if self.exploration.backend == "inprocess":
            return True
        root = self.recorded_root.rstrip("/") + "/"
        return any(p == self.recorded_root or p.startswith(root) for p in op.paths)

    @cached_property
    def points(self) -> tuple[FaultPoint, ...]:
        ops, exploration = self.trace.ops, self.exploration
        every = fault_points(ops, exploration.effects, every_write=exploration.every_write)
        last = ops[-1].index if ops else -1
        return tuple(
            p
            for p in every
            if self.targetable(p.op)
            and not (
                exploration.distinct_kills
                and p.plan.is_kill
                and p.op.index != last
                and changes_nothing(p.op)
            )
        )

    def cases(self) -> tuple[Case, ...]:
        """Every case of the exploration, in trace order (the same in every process)."""
        return tuple(self._case(p.op, p.plan) for p in self.points)

    def case(self, case_id: str) -> Case:
        """Case ``K:EFFECT``: operation K of the trace with any effect a plan can have."""
        try:
            index, effect = parse_case_id(case_id)
            if index >= len(self.trace.ops):
                raise ExploreError(
                    f"case {case_id}: the trace has {len(self.trace.ops)} operations (0 to "
                    f"{len(self.trace.ops) - 1})"
                )
            return self._case(self.trace.ops[index], plan_at(self.trace.ops, index, effect))
        except (ValueError, PlanError) as exc:
            raise ExploreError(str(exc)) from None

    def not_explored(self) -> str:
        """The operations no case targets, and why (for the report)."""
        left = [op for op in self.trace.ops if not self.targetable(op)]
        if not left:
            return ""
        return (
            f"{len(left)} of {len(self.trace.ops)} operations are outside the data dir "
            "(scratch files with random names, which a later run does not repeat)"
        )

    def _case(self, op: TraceOp, plan: FaultPlan) -> Case:
        return Case(
            index=op.index,
            effect=plan.effect,
            operation=op.operation.value,
            paths=tuple(_relative(p, self.recorded_root) for p in op.paths),
            syscall=op.syscall,
            plan=plan.format(),
        )

    def steps(self) -> tuple[Step, ...]:
        """The recorded run's operations as a report draws them (every one, explored or not)."""
        return tuple(self.step(op) for op in self.trace.ops)

    def step(self, op: TraceOp) -> Step:
        paths = tuple(_relative(p, self.recorded_root) for p in op.paths)
        return Step(op.index, op.operation.value, paths, op.syscall, owner_of(paths))

    def report(self, results: Sequence[CaseResult]) -> ExploreReport:
        return ExploreReport(
            target=self.exploration.target(),
            baseline=self.verdicts,
            results=tuple(sorted(results, key=lambda r: (r.case.index, r.case.effect))),
            not_explored=self.not_explored(),
            steps=self.steps(),
        )


def changes_nothing(op: TraceOp) -> bool:
    """Whether ``op`` left the tree as it was (for a kill, see ``distinct_kills``)."""
    return op.operation == Operation.FSYNC or isinstance(op.result, str)


def _relative(path: str, root: str) -> str:
    """``path`` relative to the data dir (``.`` for the dir itself), absolute elsewhere."""
    inside = path == root or path.startswith(root.rstrip("/") + "/")
    return os.path.relpath(path, root) if inside else path


def record_baseline(exploration: Exploration, workdir: Path, factory: TreeFactory) -> Baseline:
    """Record the fault-free run now; ``workdir`` (empty or absent) keeps both trees.

    The run itself happens where the cases run (:func:`harness.store.scratch.ram_scratch`),
    so that the trace is made on the same kind of filesystem as the runs it is compared with.
    """
    migrator = exploration.open_migrator()
    before_dir, result_dir = Path(workdir) / "before", Path(workdir) / "tree"
    factory.make(exploration.tree, before_dir)
    with tempfile.TemporaryDirectory(prefix="mk-explore-record-", dir=ram_scratch()) as tmp:
        tree = Path(tmp) / "tree"
        factory.make(exploration.tree, tree)
        run = record_run(exploration.backend, migrator, tree, Path(tmp))
        copy_tree(tree, result_dir)
        remove_tree(tree)  # read-only folders (a quirk) would stop TemporaryDirectory
    return Baseline(
        exploration, run.trace, str(tree), before_dir, result_dir, run.exit_status, run.output
    )


def cache_key(exploration: Exploration) -> str:
    """What decides a trace: the tree, the migrator and its code, the directory it runs in,
    the backend and the kit.

    The effects do not (they only filter cases), so explorations that differ only in
    effects share one recording. The directory does: a migrator runs where the kit was
    started, and a trace's relative paths (and the directory its ``*at`` calls name) are
    that directory's; a recording made elsewhere would place no fault.
    """
    parts = (
        tree_cache_key(exploration.tree),  # the tree's bytes (spec, kit, Faker, SQLite)
        exploration.migrator,
        os.getcwd(),
        exploration.backend,
        code_fingerprint(exploration.migrator),
        sys.version,
        ",".join(TRACED),  # what a recording holds (execve since the exec shim)
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def cache_root(root: Path | None = None) -> Path:
    """Where recordings are kept: ``explore/`` in the fixtures cache (``$MIGRATION_KIT_CACHE``)."""
    return Path(root) if root is not None else default_cache_dir() / "explore"


_META = "baseline.json"
_TRACE = "trace.json"


def baseline(
    exploration: Exploration,
    *,
    factory: TreeFactory | None = None,
    root: Path | None = None,
) -> Baseline:
    """The exploration's baseline, recorded on first use and read from the cache after."""
    return cached_baseline(exploration, cache_key(exploration), record_baseline, factory, root)


def cached_baseline(
    exploration: Exploration,
    key: str,
    recorder: Callable[[Exploration, Path, TreeFactory], Baseline],
    factory: TreeFactory | None = None,
    root: Path | None = None,
    meta: dict[str, Any] | None = None,
) -> Baseline:
    """The baseline cached under ``key``: ``recorder(exploration, workdir, factory)``
    records it on first use (``meta`` joins what is kept with it), later calls read it.

    Safe to call from many processes at once (:func:`harness.store.once.once`): one
    records, the others wait and read what it wrote.
    """
    factory = factory or TreeFactory()
    root = cache_root(root)
    entry = root / key

    def record_into(staging: Path) -> None:
        recorded = recorder(exploration, staging, factory)
        (staging / _TRACE).write_text(recorded.trace.to_json())
        kept = {
            "exploration": exploration.target(),
            "recorded_root": recorded.recorded_root,
            "exit_status": recorded.exit_status,
            "output": recorded.output,
            **(meta or {}),
        }
        (staging / _META).write_text(json.dumps(kept, indent=1))

    once(entry, record_into, lock=root / "locks" / f"{key}.lock")
    return load_baseline(entry, exploration)


def load_baseline(entry: Path, exploration: Exploration) -> Baseline:
    """A baseline written by :func:`baseline` (``exploration`` may differ in effects)."""
    meta = json.loads((entry / _META).read_text())
    return Baseline(
        exploration=exploration,
        trace=Trace.from_json((entry / _TRACE).read_text()),
        recorded_root=meta["recorded_root"],
        before_dir=entry / "before",
        result_dir=entry / "tree",
        exit_status=meta["exit_status"],
        output=meta["output"],
    )
