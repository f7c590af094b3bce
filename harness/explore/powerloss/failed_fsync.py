"""A failed fsync, then a power cut: what the fault explorer and the power-loss model show together.

On Linux, when the write-back behind an fsync fails (EIO, ENOSPC), the kernel reports the
error once and marks the dirty pages clean: a retried fsync succeeds, yet those bytes never
reach the disk and are gone at the next power cut (PostgreSQL lost data this way; Rebello et
al., "Can Applications Recover from fsync Failures?", USENIX ATC 2020). A migrator that
retries the fsync and goes on trusts a file that is not on disk (SPEC R17: "a failed fsync is
not retried as if the data were safe").

Neither explorer shows it alone: the fault explorer's EIO leaves the page cache whole (a kill
or a clean exit keeps it), and the power-loss replay of the fault-free run never sees an
fsync fail. So each case here is both:

1. **the faulted run** (:func:`failed_run`): the exploration's migrator on a fresh copy of its
   tree, under the power-loss recorder (every written byte, file positions), with strace
   failing one fsync of a file in the tree: the fault-free run's op ``K`` (same numbering as
   both explorers). strace counts ``when`` per thread and per syscall, so without ``-P`` (which
   would narrow the whole recording) the target is that thread's Nth call of the syscall; the
   recorded events say which call was really failed (:func:`landing`), and a fault that landed
   anywhere else makes the case ``not judged``. Recorded once per case and cached like the
   baselines (pytest-xdist workers share it);
2. **the power cut** (:func:`crash_image`): the faulted trace replayed onto the page-cache model,
   where the failed fsync loses the file's dirty pages for good
   (:meth:`~harness.explore.powerloss.model.FileSystem.fsync_failed`), imaged at the end of the
   run in the ``committed`` kind: every directory change on disk, file data as of its last
   fsync. The end is the bounded choice: by then the migrator has done everything it does
   after the error (retried and carried on, or failed the user), so whatever it removed
   trusting the failed file is gone too, and every other file it synced is on disk.

The case ``K:EIO+power-loss`` is judged like every power-loss case (R17): no content lost in
that state, and a clean re-run from it reaches the fault-free result.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fixtures.factory import TreeFactory
from harness.explore.baseline import Baseline, cached_baseline
from harness.explore.exploration import Exploration
from harness.explore.powerloss.baseline import DATA_LIMIT, record_baseline
from harness.explore.powerloss.baseline import cache_key as power_cache_key
from harness.explore.powerloss.image import COMMITTED, CrashImage
from harness.explore.powerloss.trace_replay import (
    WRITEBACK_ERRORS,
    CrashPoint,
    Replayer,
    inside,
    relative,
    replay_images,
)
from harness.faults.exec_shim import (
    ExecTarget,
    ShimUnavailable,
    exec_target,
    make_shim,
    new_directory,
)
from harness.faults.masking import mask_path, same_path
from harness.faults.plan import Operation
from harness.faults.straceout import SyscallEvent, decode_fd
from harness.faults.thread_shim import (
    Preload,
    build,
    is_run_ahead_call,
    pool_shares_out,
    thread_target,
)
from harness.faults.trace import Trace, TraceOp

ERRNOS = ("EIO", "ENOSPC")  # what a case may inject; EIO is what the exploration lists
DEFAULT_ERRNOS = ("EIO",)
SUFFIX = "+power-loss"
KIND = COMMITTED  # the crash state at the end of the faulted run
FSYNCS = ("fsync", "fdatasync")


def effect_of(errno: str) -> str:
    """``EIO`` -> ``EIO+power-loss``: a case's effect (its id is ``K:EIO+power-loss``)."""
    return f"{errno}{SUFFIX}"


def errno_of(effect: str) -> str | None:
    """The errno of a failed-fsync effect, or None for any other effect."""
    if not effect.endswith(SUFFIX):
        return None
    errno = effect[: -len(SUFFIX)]
    return errno if errno in ERRNOS else None


assert set(ERRNOS) <= WRITEBACK_ERRORS  # the replay must lose the pages of each


def file_fsyncs(trace: Trace, root: str, pristine: Path) -> tuple[TraceOp, ...]:
    """The run's successful fsyncs and fdatasyncs of *files* in the tree, in trace order.

    Found by replaying the trace (a directory's fsync failing is not modelled, and a file's
    kind is known only to the model: temporary files are gone by the end of the run).
    """
    wanted = {
        op.event: op
        for op in trace.ops
        if op.operation == Operation.FSYNC
        and op.event is not None
        and isinstance(op.result, int)
        and op.result >= 0
        and any(inside(p, root) for p in op.paths)
    }
    if not wanted:
        return ()
    replayer = Replayer(trace, root, pristine)
    out = []
    for event in trace.events:
        op = wanted.get(event.seq)
        if op is not None and replayer.kind_of(event) == "file":
            out.append(op)
        replayer.apply(event)
    return tuple(out)


def when_of(trace: Trace, target: TraceOp) -> tuple[str, int]:
    """(syscall, N): strace's ``when`` for ``target`` with no ``-P``, the Nth call of that
    syscall in the target's thread."""
    event = _event(trace, target)
    return event.name, when_of_event(trace, event)


def when_of_event(trace: Trace, event: SyscallEvent) -> int:
    """How many calls of ``event``'s syscall its thread made up to and including it."""
    return sum(
        1
        for e in trace.events
        if e.name == event.name and e.tid == event.tid and e.seq <= event.seq
    )


def _child_to_single_out(trace: Trace, target: TraceOp, when: int) -> ExecTarget | None:
    """The child process to aim the error at with an exec shim, when other threads or
    processes also make ``when`` calls of the syscall (strace would fail each one's, the
    first one's first: see :mod:`harness.faults.exec_shim`); None when the target's thread
    is the only one, or is no exec'd child."""
    event = _event(trace, target)
    counts = Counter(e.tid for e in trace.events if e.name == event.name)
    if not any(n >= when for tid, n in counts.items() if tid != event.tid):
        return None
    return exec_target(trace.events, event)


def _event(trace: Trace, op: TraceOp) -> SyscallEvent:
    return next(e for e in trace.events if e.seq == op.event)


def cache_key(exploration: Exploration, target: TraceOp, errno: str) -> str:
    shims = "exec-shim\nthread-shim"  # how a case is aimed: a recording made otherwise is stale
    text = f"{power_cache_key(exploration)}\nfailed-fsync\n{target.index}\n{errno}\n{shims}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def failed_run(
    exploration: Exploration,
    fault_free: Baseline,
    target: TraceOp,
    errno: str,
    *,
    factory: TreeFactory | None = None,
    root: Path | None = None,
) -> Baseline:
    """The run with ``target`` (an fsync of the fault-free trace) failing with ``errno``,
    recorded with every byte written: cached, shared by processes like the baselines."""
    syscall, when = when_of(fault_free.trace, target)
    child = _child_to_single_out(fault_free.trace, target, when)
    event = _event(fault_free.trace, target)
    pool = child is None and pool_shares_out(fault_free.trace.events, event)

    def recorder(exp: Exploration, workdir: Path, tree_factory: TreeFactory) -> Baseline:
        fault = f"{syscall}:error={errno}:when={when}"
        if pool:
            return _record_in_pool_thread(exp, workdir, tree_factory, fault_free, event, errno)
        if child is None:
            return record_baseline(exp, workdir, tree_factory, inject=(fault,))
        directory = new_directory()
        try:
            shim = make_shim(child, syscall, os.environ, directory / "s")
        except ShimUnavailable:
            shutil.rmtree(directory, ignore_errors=True)
            return record_baseline(exp, workdir, tree_factory, inject=(fault,))
        try:
            fault = f"{syscall}:error={errno}:when={when + shim.overhead}"
            return record_baseline(exp, workdir, tree_factory, inject=(fault,), shim=shim)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    return cached_baseline(
        exploration,
        cache_key(exploration, target, errno),
        recorder,
        factory,
        root,
        meta={"data_limit": DATA_LIMIT, "failed_fsync": target.index, "errno": errno},
    )


def _record_in_pool_thread(
    exploration: Exploration,
    workdir: Path,
    factory: TreeFactory,
    fault_free: Baseline,
    event: SyscallEvent,
    errno: str,
) -> Baseline:
    """The faulted run with the error aimed at one worker of a pool by the thread shim
    (:mod:`harness.faults.thread_shim`); without a shim (no C compiler), strace's count
    alone, which the landing check then judges."""
    moved = {fault_free.recorded_root: str(Path(workdir) / "tree")}
    aim = thread_target(fault_free.trace.events, event, moved)
    fallback = f"{event.name}:error={errno}:when={when_of_event(fault_free.trace, event)}"
    if aim is None:
        return record_baseline(exploration, workdir, factory, inject=(fallback,))
    try:
        build()  # a missing compiler is known before the run
    except ShimUnavailable:
        return record_baseline(exploration, workdir, factory, inject=(fallback,))
    fault = aim.inject_expression(errno)
    return record_baseline(exploration, workdir, factory, inject=(fault,), shim=Preload(aim, errno))


@dataclass(frozen=True)
class Landing:
    """Where the injected error landed in the faulted run."""

    hits: tuple[SyscallEvent, ...]
    problem: str  # empty: exactly one call was failed, and it is the target

    @property
    def landed(self) -> bool:
        return not self.problem


def landing(fault_free: Baseline, target: TraceOp, failed: Baseline) -> Landing:
    """Whether the faulted run failed exactly the target: the same syscall on the same file
    (relative to the tree, up to random name parts: :func:`~harness.faults.masking.same_path`,
    so a ``mkdtemp`` name that masking alone leaves as a word, ``.staging-kxyxnkne``, still
    matches the recorded ``.staging-it_cc_1p``), and nothing else."""
    hits = tuple(e for e in failed.trace.events if e.injected and not is_run_ahead_call(e))
    wanted = _looks(_event(fault_free.trace, target), fault_free.recorded_root)
    if not hits:
        return Landing(hits, "the faulted run never made the targeted call")
    if len(hits) > 1:
        where = "; ".join(_looks(e, failed.recorded_root) for e in hits)
        return Landing(hits, f"{len(hits)} calls were failed, not one: {where}")
    hit, target = hits[0], _event(fault_free.trace, target)
    same = hit.name == target.name and same_path(
        _file(hit, failed.recorded_root), _file(target, fault_free.recorded_root)
    )
    if not same:
        got = _looks(hit, failed.recorded_root)
        return Landing(hits, f"the error landed on {got}, not on {wanted}")
    return Landing(hits, "")


def _file(event: SyscallEvent, root: str) -> str | None:
    """The file ``event`` syncs, relative to the tree (unmasked), or None."""
    _, path = decode_fd(event.args[0]) if event.args else (None, None)
    return relative(path, root) if path else None


def _looks(event: SyscallEvent, root: str) -> str:
    path = _file(event, root)
    return f"{event.name} {mask_path(path) if path else '?'}"


def crash_image(failed: Baseline, *, replace_flush: bool = False) -> CrashImage:
    """The faulted run's end, after a power cut: its failed fsync's pages lost for good
    (``replace_flush``: the profile's auto_da_alloc, as in every other case)."""
    end = CrashPoint(None)
    ((_, image),) = replay_images(
        failed.trace,
        failed.recorded_root,
        failed.before_dir,
        points=[end],
        kinds=[KIND],
        replace_flush=replace_flush,
    )
    return image


def describe(target: TraceOp, errno: str, root: str) -> str:
    """``EIO at #41 fsync alice/x (fsync), then a power cut at the end of the run``."""
    paths = " -> ".join(relative(p, root) for p in target.paths) or "?"
    return (
        f"{errno} at #{target.index} {target.operation.value} {paths} ({target.syscall}), "
        "then a power cut at the end of the run (directory changes on disk, file data as of "
        "its last fsync; the failed fsync's pages never)"
    )


def targets_of(ops: Sequence[TraceOp], index: int) -> TraceOp | None:
    return next((op for op in ops if op.index == index), None)
