"""The two ways a migrator's run is recorded and faulted.

``syscall`` (strace): any migrator that is a process, SQLite's own writes included, a real
SIGKILL. ``inprocess``: a ``py:`` callable in this process; Python's file calls only, a
simulated kill; fast enough for Hypothesis. Each backend does two things: record a
fault-free run (:func:`record_run`) and run again with one fault (:func:`run_syscall`,
:func:`run_inprocess`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.explore.exploration import ExploreError
from harness.explore.results import OUTPUT_TAIL
from harness.faults import inprocess, strace
from harness.faults.availability import Availability
from harness.faults.injection import inject
from harness.faults.plan import FaultPlan
from harness.faults.trace import Trace, record
from harness.run.adapters import CommandMigrator, Migrator, PythonMigrator
from harness.run.process import RunResult


def backend_available(backend: str) -> Availability:
    """Whether ``backend`` can run here (strace installed and permitted, for ``syscall``)."""
    return inprocess.backend_available() if backend == "inprocess" else strace.backend_available()


def private_tmp(workdir: Path) -> dict[str, str]:
    """``TMPDIR`` in ``workdir``: a killed migrator's ``tempfile`` scratch (the reference
    copies system.db there) goes with the case instead of piling up in /tmp."""
    tmp = Path(workdir) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {"TMPDIR": str(tmp)}


def process_of(
    migrator: Migrator, data_dir: Path, more: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and full environment ``migrator.run(data_dir, env=more)`` starts with."""
    if not isinstance(migrator, CommandMigrator) and not (
        isinstance(migrator, PythonMigrator) and not migrator.inprocess
    ):
        raise ExploreError(f"{migrator.spec} does not run as a process; use --backend inprocess")
    child = migrator.process(data_dir, env=more)
    return child.argv, child.env


@dataclass(frozen=True)
class RecordedRun:
    """A fault-free run and its trace."""

    trace: Trace
    exit_status: int
    output: str


def record_run(backend: str, migrator: Migrator, tree: Path, workdir: Path) -> RecordedRun:
    """Run ``migrator`` on ``tree`` once, without a fault, recording its file operations
    (``workdir`` holds a process's private ``TMPDIR``)."""
    if backend == "inprocess":
        with inprocess.record() as recording:
            run = migrator.run(tree)
        return RecordedRun(Trace(ops=tuple(recording.ops), cwd=os.getcwd()), *_ended(run))
    argv, env = process_of(migrator, tree, private_tmp(workdir))
    recorded = record(argv, cwd=os.getcwd(), env=env, timeout=migrator.timeout)
    done = recorded.run
    return RecordedRun(recorded.trace, done.returncode, done.stdout + done.stderr)


def _ended(run: RunResult) -> tuple[int, str]:
    return run.exit_status, run.output


@dataclass(frozen=True)
class FaultedRun:
    """The run with the fault: how it ended, and whether the fault hit the recorded call."""

    exit_status: int  # negative: killed by that signal
    output: str
    landed: bool
    fault: str  # a description of where the fault went, for the report

    def describe(self) -> str:
        end = f"killed by signal {-self.exit_status}" if self.exit_status < 0 else ""
        return f"{end or f'exit status {self.exit_status}'}\n{self.output[-OUTPUT_TAIL:]}"


def run_syscall(
    migrator: Migrator,
    tree: Path,
    plan: FaultPlan,
    recording: tuple[Trace, str],
    more: dict[str, str] | None,
    *,
    reset: Callable[[], None] | None = None,
) -> FaultedRun:
    """Run ``migrator`` on ``tree`` under strace with ``plan``'s one fault. ``recording``
    is the fault-free trace and the data dir it was made in (the plan targets a call of
    it, wherever the tree is now); ``more`` joins the process's environment. ``reset``
    rebuilds the tree for a second run (:func:`harness.faults.injection.inject`)."""
    trace, recorded_root = recording
    argv, env = process_of(migrator, tree, more)
    injected = inject(
        argv,
        plan,
        trace,
        cwd=os.getcwd(),
        env=env,
        timeout=migrator.timeout,
        moved=moved_dirs(Path(recorded_root), tree),
        reset=reset,
    )
    run = injected.run
    return FaultedRun(run.returncode, run.stdout + run.stderr, injected.landed, injected.describe())


def moved_dirs(recorded_root: Path, tree: Path) -> dict[str, str]:
    """Where the recorded run's directories are now: the data dir, and the work directory
    around it when both have the same layout (the private ``TMPDIR`` is beside the tree, so
    a scratch file's path maps too; only its random name is left to differ)."""
    if recorded_root.name == tree.name:
        return {str(recorded_root.parent): str(tree.parent)}
    return {str(recorded_root): str(tree)}


def run_inprocess(migrator: Migrator, tree: Path, plan: FaultPlan, index: int) -> FaultedRun:
    """Run the ``py:`` callable ``migrator`` on ``tree`` in this process with ``plan``'s one
    fault; it landed when it fired at operation ``index`` of the recording."""
    crash: inprocess.SimulatedCrash | None = None
    run: RunResult | None = None
    with inprocess.inject(plan) as fault:
        try:
            run = migrator.run(tree)
        except inprocess.SimulatedCrash as exc:
            crash = exc
    fired = fault.fired
    landed = fired is not None and fired.index == index
    where = "did not fire" if fired is None else f"fired at {fired.describe()}"
    text = f"plan: {plan.format()} ({plan.describe()}); {where}"
    if crash is not None or run is None:
        return FaultedRun(-9, f"(simulated kill: {crash})", landed, text)
    return FaultedRun(run.exit_status, run.output, landed, text)
