"""Checklist item 4's runs: a migrator under the syscall backend, with one fault or none.

A fault is placed by *where it falls in the migrator's own run*, not by a syscall number
known in advance: ``record_run`` runs the migrator on a tree under strace without a fault (that
run is also the fault-free result a faulted tree must converge to), and a ``FaultSite``
("the first rename in bob's folder", "the middle operation") picks its target in that
recording. ``inject_run`` then runs the migrator on a fresh copy of the same tree with exactly
that operation failing (or the process group killed just before it). Any migrator the
harness can start as a process works: ``cmd:`` commands in any language, and ``py:``
callables through the child-process runner (never in-process: strace needs a process).
"""

from __future__ import annotations

import fnmatch
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.faults.injection import inject
from harness.faults.plan import KILL, FaultPlan, Operation
from harness.faults.points import plan_at
from harness.faults.strace import TracedRun
from harness.faults.trace import Trace, TraceOp, record
from harness.judge.snapshot import Snapshot
from harness.run.adapters import CommandMigrator, Migrator, PythonMigrator
from harness.run.process import RunResult
from harness.scenario.model import Step, Tree


@dataclass(frozen=True)
class Process:
    """How to start a migrator on one tree: argv, full environment, the directory it runs
    in, a replay line and the seconds it is given."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    replay: str
    cwd: str
    timeout: float


def process_of(migrator: Migrator, data_dir: Path) -> Process:
    """The process ``migrator.run(data_dir)`` would start, for a backend that starts it.

    A ``py:`` migrator runs through ``harness.run.pyrunner`` in a child, exactly as its normal
    runs do, so what is traced is the same code path the other scenarios judge.
    """
    if not isinstance(migrator, (CommandMigrator, PythonMigrator)):
        raise TypeError(f"cannot start {migrator!r} as a process for the syscall backend")
    child = migrator.process(data_dir)
    return Process(tuple(child.argv), child.env, child.replay, child.cwd, migrator.timeout)


@dataclass(frozen=True)
class Recording:
    """A fault-free run under strace: its trace, and the step it made (the reference)."""

    step: Step
    trace: Trace

    @property
    def tree(self) -> Tree:
        return self.step.tree

    @property
    def after(self) -> Snapshot:
        """The fault-free result a faulted tree must converge to after a clean re-run."""
        return self.step.after


def _result(process: Process, run: TracedRun, started_at: float, took: float) -> RunResult:
    return RunResult(
        exit_status=run.returncode,
        output=run.stdout + run.stderr,
        duration_s=took,
        peak_rss_bytes=None,
        command=shlex.join(process.argv),
        replay=process.replay,
        started_at=started_at,
        timed_out=run.timed_out,
        timeout_s=process.timeout,
    )


def record_run(migrator: Migrator, tree: Tree) -> Recording:
    """Run ``migrator`` on ``tree`` under strace, no fault: the trace and the result."""
    process = process_of(migrator, tree.path)
    before = tree.snapshot()
    started_at, start = time.time(), time.monotonic()
    recorded = record(
        list(process.argv), cwd=process.cwd, env=process.env, timeout=process.timeout
    )
    run = _result(process, recorded.run, started_at, time.monotonic() - start)
    return Recording(Step(tree, before, tree.snapshot(), (run,)), recorded.trace)


def inject_run(migrator: Migrator, tree: Tree, plan: FaultPlan, recording: Recording) -> Step:
    """Run ``migrator`` on ``tree`` (a fresh copy of the recorded tree) with ``plan``."""
    process = process_of(migrator, tree.path)
    moved = {str(recording.tree.path): str(tree.path)}
    before = tree.snapshot()
    started_at, start = time.time(), time.monotonic()
    injected = inject(
        list(process.argv),
        plan,
        recording.trace,
        cwd=process.cwd,
        env=process.env,
        timeout=process.timeout,
        moved=moved,
    )
    run = _result(process, injected.run, started_at, time.monotonic() - start)
    notes = (("Fault injected", injected.describe()),)
    return Step(tree, before, tree.snapshot(), (run,), notes, injected)


WHICH = ("first", "middle", "last")


@dataclass(frozen=True)
class FaultSite:
    """Where a scenario wants its one fault, in terms any migrator's run has.

    One of ``operations`` (empty: any file operation) on a path inside the target user's
    folder (``file``: only on paths in the folder matching that glob, e.g. ``peek.db`` or
    ``peek.db.pre-migration-backup*`` for the backup and its temporary names), the ``which``
    of those the recorded run made, failing with ``effect`` (an errno name, or ``kill``).
    """

    effect: str
    operations: tuple[Operation, ...] = ()
    which: str = "first"
    file: str | None = None

    def __post_init__(self) -> None:
        if self.which not in WHICH:
            raise ValueError(f"which must be one of {WHICH}, not {self.which!r}")

    @property
    def rule(self) -> str:
        """SPEC's rule for this fault: R10 for a kill, R9 for an I/O error."""
        return "R10" if self.effect == KILL else "R9"

    @property
    def id(self) -> str:
        """A short test id: ``kill-first-rename``, ``EACCES-first-unlink-peek.db``."""
        ops = "+".join(o.value for o in self.operations) or "op"
        where = [self.file.rstrip("*")] if self.file else []
        return "-".join([self.effect, self.which, ops, *where])

    def describe(self) -> str:
        what = " or ".join(o.value for o in self.operations) or "file operation"
        on = f" on {self.file.rstrip('*')}" if self.file else " in the user's folder"
        how = "the process killed just before" if self.effect == KILL else f"{self.effect} at"
        return f"{how} the {self.which} {what}{on}"

    def plan(self, recording: Recording, user: str) -> FaultPlan | None:
        """The plan that hits this site in ``user``'s folder, or None if the run has none."""
        ops = recording.trace.ops
        folder = str(recording.tree.path / user)
        chosen = [i for i, op in enumerate(ops) if self._matches(op, folder)]
        if not chosen:
            return None
        index = {"first": chosen[0], "middle": chosen[len(chosen) // 2], "last": chosen[-1]}
        return plan_at(ops, index[self.which], self.effect)

    def _matches(self, op: TraceOp, folder: str) -> bool:
        if self.operations and op.operation not in self.operations:
            return False
        inside = [p[len(folder) + 1 :] for p in op.paths if p.startswith(folder + "/")]
        if self.file is None:
            return bool(inside)
        return any(fnmatch.fnmatchcase(p, self.file) for p in inside)
