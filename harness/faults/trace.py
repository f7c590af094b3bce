"""The trace: the mutating file operations of a run, in order, with absolute paths.

:func:`record` runs a command under strace without injecting anything and turns its
syscalls into :class:`TraceOp` values. That list is what exploration iterates ("for every
operation k, every applicable effect") and what the power-loss explorer
(:mod:`harness.explore.powerloss`) replays into crash images, so each op keeps the raw
syscall and its decoded arguments, and writes keep their offset and length.

Paths are made absolute the way the kernel would: ``*at()`` calls are resolved against the
directory fd strace decoded (``-y`` prints ``AT_FDCWD</cwd>`` and ``3</dir>``); plain calls
with a relative path are resolved against the thread's working directory, followed through
``chdir``/``fchdir`` and inherited through ``clone``/``fork`` (shared with ``CLONE_FS``).
Paths are normalised lexically, never through symlinks, so they name what the program named.

Write offsets are exact for ``pwrite*``. For plain ``write`` they are known only in a
recording made with ``positions=True`` (which traces ``lseek`` too), and then only for
descriptors opened write-only; for a read-write descriptor the offset is None, because reads
(not traced: they would multiply the cost) move the position too.

Two levels of recording
-----------------------
A recording for fault points (the default) traces :data:`TRACED`: every call of every
syscall that may be an operation, and what resolves paths. Nothing less will do: an
injection counts, per thread, *every* call of the target's syscall that names the target's
path, read-only opens included, so the recording must hold all of them to compute that
count (see :mod:`harness.faults.injection`); and a plan's "Nth operation" counts every
operation of the run. A recording to replay (power loss) passes ``positions=True`` and
traces :data:`TRACED_FOR_REPLAY`, which adds ``lseek``: a Python child seeks about once per
file it opens, so that is a third of the default tree's calls, which fault points never
use. Both levels yield the very same operations; only plain writes' offsets differ.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.faults.plan import Operation
from harness.faults.strace import TracedRun, run_traced
from harness.faults.straceout import SyscallEvent, decode_fd, decode_string, parse_events
from harness.faults.syscalls import (
    PATH_BOOKKEEPING,
    POSITION_BOOKKEEPING,
    SYSCALLS,
    PathArg,
    is_disk_path,
    strace_set,
)
from harness.store import codec

# Every syscall a trace for fault points needs: all that may mutate files (read-only opens
# included, because strace counts them too when it injects) and the bookkeeping that
# resolves paths.
TRACED = (*SYSCALLS, *PATH_BOOKKEEPING)
# A trace to replay also follows file positions, so every plain write's offset is known.
TRACED_FOR_REPLAY = (*TRACED, *POSITION_BOOKKEEPING)

# Operations that act on an open descriptor: they only count when it is a file on a disk.
_FD_OPERATIONS = {"write", "pwrite64", "writev", "pwritev", "pwritev2", "fsync", "fdatasync"}
_FD_OPERATIONS |= {"ftruncate", "fchmod", "copy_file_range", "sendfile"}


@dataclass(frozen=True)
class TraceOp:
    """One mutating file operation of a run."""

    index: int  # position in the trace's op list, 0-based
    operation: Operation
    syscall: str  # "renameat2", or "os.replace" for the in-process recorder
    paths: tuple[str, ...]  # absolute; the source first (rename, link, copy)
    pid: int  # the thread id (syscall traces) or process id (in-process)
    result: int | str | None  # return value; errno name if it failed; None if killed inside
    args: tuple[str, ...] = ()  # the call's arguments as printed (strace) or repr'd
    offset: int | None = None  # write: file offset, when known
    length: int | None = None  # write/copy: bytes requested
    event: int | None = None  # the SyscallEvent.seq this op came from (syscall traces)

    @property
    def path(self) -> str:
        """The (first) path the operation acts on."""
        return self.paths[0] if self.paths else ""

    def describe(self) -> str:
        """``#4 rename /d/u/peek.db -> /d/u/x (renameat2, pid 12)`` for reports."""
        target = " -> ".join(self.paths) or "?"
        return f"#{self.index} {self.operation.value} {target} ({self.syscall}, pid {self.pid})"


@dataclass(frozen=True)
class Trace:
    """A run's file operations, plus (syscall traces) every traced call behind them."""

    ops: tuple[TraceOp, ...]
    events: tuple[SyscallEvent, ...] = ()
    cwd: str = ""  # the directory the command started in
    endings: Mapping[int, str] = field(default_factory=dict)  # tid -> how the thread ended
    # File positions were followed (lseek traced): what a replay of plain writes needs.
    positions: bool = True

    def to_json(self) -> str:
        data = codec.to_data(self)
        # An adapter: cached baselines' trace.json files have always started with "cwd"; the
        # field cannot come first (it has a default, ``ops`` has none), the text stays as it was.
        return json.dumps({key: data[key] for key in _TRACE_KEYS})

    @classmethod
    def from_json(cls, text: str) -> Trace:
        # ``positions`` missing (traces saved before the field): its default, True.
        return codec.from_json(cls, text)


_TRACE_KEYS = ("cwd", "ops", "events", "endings", "positions")


@dataclass(frozen=True)
class RecordedRun:
    """A fault-free run under strace and its trace."""

    run: TracedRun
    trace: Trace


def record(
    command: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600.0,
    data_limit: int = 0,
    positions: bool = False,
    seccomp: bool = True,
) -> RecordedRun:
    """Run ``command`` under strace (no faults) and return its trace.

    ``data_limit`` is how many bytes of each written buffer strace prints into the op's
    ``args`` (``-s``); 0 keeps traces small, a replayer that needs the data raises it.
    ``positions`` traces ``lseek`` too (:data:`TRACED_FOR_REPLAY`), for a replayer.
    """
    start = os.path.abspath(cwd if cwd is not None else os.getcwd())
    traced = TRACED_FOR_REPLAY if positions else TRACED
    options = ["-s", str(data_limit), "-e", f"trace={strace_set(traced)}"]
    run = run_traced(command, options, cwd=start, env=env, timeout=timeout, seccomp=seccomp)
    return RecordedRun(run, trace_from_strace(run.trace, cwd=start, positions=positions))


def trace_from_strace(text: str, *, cwd: str, positions: bool = True) -> Trace:
    """Parse strace output into a :class:`Trace`; ``cwd`` is where the command started,
    ``positions`` whether ``text`` holds every ``lseek`` of the run."""
    parsed = parse_events(text)
    ops = _Resolver(parsed.events, cwd, positions=positions).ops()
    return Trace(
        ops=ops, events=parsed.events, cwd=cwd, endings=parsed.endings, positions=positions
    )


class _Cell:
    """Mutable state shared by threads (the cwd with CLONE_FS, the fd table with CLONE_FILES)."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _Resolver:
    """Walks events in entry order, tracking each thread's cwd and file positions."""

    def __init__(self, events: Sequence[SyscallEvent], cwd: str, *, positions: bool) -> None:
        self.events = events
        self.root_cwd = cwd
        self.positions = positions  # lseek is traced: a write-only descriptor's position is known
        self.cwd: dict[int, _Cell] = {}
        self.files: dict[int, _Cell] = {}  # tid -> {fd: [path, position or None]}
        # child tid -> (parent tid, clone flags), known before the child's first call is seen
        self.parents = {
            e.retval: (e.tid, " ".join(e.args))  # clone's flags=, clone3's {flags=...}
            for e in events
            if e.name in ("clone", "clone3", "fork", "vfork") and e.retval and e.retval > 0
        }

    def ops(self) -> tuple[TraceOp, ...]:
        ops: list[TraceOp] = []
        for event in self.events:
            self._ensure_thread(event.tid)
            self._bookkeep(event)
            op = self._op(event, len(ops))
            if op is not None:
                ops.append(op)
            self._track_files(event)
        return tuple(ops)

    def _ensure_thread(self, tid: int) -> None:
        if tid in self.cwd:
            return
        parent = self.parents.get(tid)
        if parent is None or parent[0] not in self.cwd:
            self.cwd[tid] = _Cell(self.root_cwd)
            self.files[tid] = _Cell({})
            return
        ptid, flags = parent
        pcwd, pfiles = self.cwd[ptid], self.files[ptid]
        self.cwd[tid] = pcwd if "CLONE_FS" in flags else _Cell(pcwd.value)
        self.files[tid] = (
            pfiles
            if "CLONE_FILES" in flags
            else _Cell({k: list(v) for k, v in pfiles.value.items()})
        )

    def _bookkeep(self, event: SyscallEvent) -> None:
        cell = self.cwd[event.tid]
        for arg in event.args:  # AT_FDCWD</dir> is the kernel's own word on the cwd
            if arg.startswith("AT_FDCWD<"):
                cell.value = decode_fd(arg)[1] or cell.value
                break
        if event.retval != 0 or not event.args:
            return
        if event.name == "chdir":
            target = decode_string(event.args[0])
            if target is not None:
                cell.value = self._absolute(event.tid, target)
        elif event.name == "fchdir":
            cell.value = decode_fd(event.args[0])[1] or cell.value

    def _absolute(self, tid: int, path: str, base: str | None = None) -> str:
        return os.path.normpath(os.path.join(base or self.cwd[tid].value, path))

    def _path(self, event: SyscallEvent, where: PathArg) -> str | None:
        args = event.args
        if where.path is not None:
            if len(args) <= where.path:
                return None
            literal = decode_string(args[where.path])
            if literal is None or (literal == "" and where.fd is not None):
                # NULL or "" with AT_EMPTY_PATH: the call acts on the descriptor itself
                return decode_fd(args[where.fd])[1] if where.fd is not None else None
            base = decode_fd(args[where.fd])[1] if where.fd is not None else None
            return self._absolute(event.tid, literal, base)
        if where.fd is not None and len(args) > where.fd:
            return decode_fd(args[where.fd])[1]
        return None

    def _op(self, event: SyscallEvent, index: int) -> TraceOp | None:
        spec = SYSCALLS.get(event.name)
        if spec is None:
            return None
        operation = spec.operation_for(event.args)
        if operation is None:
            return None
        paths = tuple(p for p in (self._path(event, w) for w in spec.paths) if p is not None)
        if event.name in _FD_OPERATIONS and not (paths and is_disk_path(paths[-1])):
            return None  # output to a pipe, socket, tty or /proc: not file data
        offset, length = self._extent(event)
        result: int | str | None = event.error or event.retval
        return TraceOp(
            index=index,
            operation=operation,
            syscall=event.name,
            paths=paths,
            pid=event.tid,
            result=result,
            args=event.args,
            offset=offset,
            length=length,
            event=event.seq,
        )

    def _extent(self, event: SyscallEvent) -> tuple[int | None, int | None]:
        """(offset, length) of a write or an in-kernel copy."""
        args, name = event.args, event.name
        offset = length = None
        if name in ("write", "writev"):
            offset = self._position(event)
        elif name in ("pwrite64", "pwritev", "pwritev2") and len(args) > 3:
            offset = _int(args[3])
        if name in ("write", "pwrite64") and len(args) > 2:
            length = _int(args[2])
        elif name in ("writev", "pwritev", "pwritev2"):
            length = event.retval if event.retval is not None and event.retval >= 0 else None
        elif name == "copy_file_range" and len(args) > 4:
            length = _int(args[4])
        elif name == "sendfile" and len(args) > 3:
            length = _int(args[3])
        return offset, length

    def _position(self, event: SyscallEvent) -> int | None:
        fd, path = decode_fd(event.args[0])
        entry = self.files[event.tid].value.get(fd)
        if entry is None or entry[0] != path:
            return None
        return entry[1]

    def _track_files(self, event: SyscallEvent) -> None:
        table = self.files[event.tid].value
        name, args, ret = event.name, event.args, event.retval
        if ret is None or ret < 0:
            return
        if name in ("open", "openat", "openat2", "creat") and event.ret_path:
            flags = args[1] if name == "open" else (args[2] if len(args) > 2 else "")
            write_only = name == "creat" or ("O_WRONLY" in flags and "O_APPEND" not in flags)
            table[ret] = [event.ret_path, 0 if write_only and self.positions else None]
        elif name == "lseek" and args:
            entry = table.get(decode_fd(args[0])[0])
            if entry is not None and entry[1] is not None:
                entry[1] = ret
        elif name in ("write", "writev") and args:
            entry = table.get(decode_fd(args[0])[0])
            if entry is not None and entry[1] is not None:
                entry[1] += ret


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def load(path: str | os.PathLike[str]) -> Trace:
    """Read a trace saved with ``Path(p).write_text(trace.to_json())``."""
    return Trace.from_json(Path(path).read_text())
