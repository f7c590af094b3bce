"""Fault injection: break a migration the way production does, at any single file operation.

Design note
===========

A :class:`FaultPlan` (``plan.py``) is plain data: a portable operation (``rename``,
``open_write``, ``write``, ``fsync``, ``unlink``, ``mkdir``, ``rmdir``, ``copy``, ``link``,
``symlink``, ``truncate``, ``chmod``, ``utime``), the Nth occurrence over the whole run, an
optional path glob, and an errno or ``kill``; text form ``rename#3:EXDEV@*/profiles/*``. The
same plan hits the same operation on every backend (the tests run one table of plans on
two backends, and check that both recorders list the same operations).

Backends
--------

========================  =================================  ==================================
backend                   can                                cannot
========================  =================================  ==================================
syscall (``trace.py``,    any process in any language        run where ptrace is forbidden;
``injection.py``,         (Python, node, sqlite3, sh+mv);    see mmap'ed writes, io_uring,
``strace.py``)            errno at exactly the Nth op; a     reflink ioctls; it costs a
                          real kill of the whole process     recording run first
                          group before the op executes
in-process                Python callables, ~microseconds    see SQLite's C code or other C
(``inprocess.py``)        per op, record + inject            extensions; kill for real
                                                             (``finally`` blocks still run)
real disk (``mounts.py``) a truly full disk (ENOSPC on       run without root (and loop
                          every write until space is         images without
                          freed), a truly separate device    /dev/loop-control); fail one
                          (EXDEV on every rename into it);   chosen operation
                          tmpfs, or loop ext4/xfs images
pyfakefs (``fake.py``)    thousands of full-disk/EXDEV       anything SQLite or a child
                          runs of pure file-moving code      process does (they use the real
                                                             disk)
========================  =================================  ==================================

Each backend module has ``backend_available()`` returning an :class:`Availability` (truthy,
with a reason when not), and its context managers raise :class:`FaultBackendUnavailable`,
so scenarios skip with a reason instead of failing on machines that lack strace or mount.

How exploration plugs in
------------------------

``record(argv)`` gives a :class:`Trace` (``trace.ops``: the run's mutating operations with
absolute paths, offsets and lengths; ``trace.events``: every traced syscall). A power-loss
replayer records with ``positions=True`` and a ``data_limit``: ``lseek`` is traced too, so
every plain write's offset is known, and the written bytes are kept; fault points do not
need either, and the default recording skips them (``trace.py``, "Two levels").
``fault_points(trace.ops, effects)`` lists every (operation, applicable effect) as a plan;
for each, rebuild the tree, ``inject(argv, plan, trace, moved=...)``, judge the tree, re-run
cleanly, judge again. ``InjectedRun.landed`` says the fault hit the planned call;
``plan.format()`` is the replay argument. In process:
``inprocess.record()`` and ``inprocess.call_with_fault(plan, fn, ...)``. That loop is
:mod:`harness.explore.cases` (``migration-kit explore``; ``scenarios/test_faults_explore.py``).

Determinism caveats (syscall backend)
-------------------------------------

- strace counts ``inject=...:when=N`` per *thread* and per *syscall number*, and cannot
  filter by flags or glob. So a plan is resolved against a fault-free recording: the target
  syscall is traced alone, ``-P`` narrows the count to calls naming the target's path, and N
  is computed by replaying strace's path-matching rule over the recording. This needs the
  injected run to repeat the recorded calls: same tree (rebuilt; at another path via
  ``moved``), same command and environment. :data:`strace.DETERMINISM_ENV` is added to every
  run: ``PYTHONDONTWRITEBYTECODE=1`` (no ``__pycache__`` writes on the first run only) and
  ``UV_THREADPOOL_SIZE=1`` (libuv/Node does file I/O on one pool thread, not whichever of 4
  is free).
- Threads racing on the same file may swap order between runs; the global "Nth" follows
  the recording's entry order. ``landed`` is False when the hit call is not the target.
- ``kill`` holds the call at entry and SIGKILLs strace's process group (strace and every
  tracee; ``--seccomp-bpf`` implies ``--kill-on-exit`` for tracees that left the group).
  strace's own ``signal=SIGKILL`` is ignored by the kernel under ``--seccomp-bpf`` (tested
  on strace 6.1), and killing only the calling process would let a parent react.
- "Write" means a write to a file on a disk: pipes, sockets, ttys, /dev, /proc are output.
  Write offsets are exact for ``pwrite*``, and for write-only descriptors in a recording
  made with ``positions=True``; None otherwise (reads are not traced). In-process, a
  buffered file counts one write per flush that reaches the disk, as strace does.
- Overhead (``bench/bench_strace.py``, 200 files copied, fsynced, renamed by a Python
  child, on a tmpfs where the work is CPU-bound and tracing shows most): an injected run,
  which traces one syscall, about 1.3x (mostly strace's fixed start-up); a recording for
  fault points, parsing included, about 2.7x with ``--seccomp-bpf`` and 3.4x without. On
  a VM disk fsync's own 2-5x run-to-run spread hides the difference. On a migrator run,
  where the work is not all file calls, ``bench/bench_explore.py`` prints the ratio the
  docs/performance.md carries.
"""

from harness.faults.availability import Availability, FaultBackendUnavailable
from harness.faults.injection import InjectedRun, Injection, compile_injection, inject, target_of
from harness.faults.plan import (
    KILL,
    FaultPlan,
    Operation,
    PlanError,
    applicable_effects,
    parse_plan,
)
from harness.faults.points import FaultPoint, fault_points, plan_at
from harness.faults.trace import RecordedRun, Trace, TraceOp, record

__all__ = [
    "KILL",
    "Availability",
    "FaultBackendUnavailable",
    "FaultPlan",
    "FaultPoint",
    "InjectedRun",
    "Injection",
    "Operation",
    "PlanError",
    "RecordedRun",
    "Trace",
    "TraceOp",
    "applicable_effects",
    "compile_injection",
    "fault_points",
    "inject",
    "parse_plan",
    "plan_at",
    "record",
    "target_of",
]
