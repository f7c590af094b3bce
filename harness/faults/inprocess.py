"""The in-process backend: faults for Python callables, without a child process or strace.

:func:`inject` patches Python's file entry points for the duration of a ``with`` block,
counts the operations that match a :class:`FaultPlan` and makes the Nth one raise
``OSError(errno)`` (the same exception the real call raises) or, for ``kill``,
:class:`SimulatedCrash`. :func:`record` patches the same points and lists every operation as
the :class:`~harness.faults.trace.TraceOp` values the syscall backend produces, so exploration
code does not care which backend recorded a run. Thousands of runs a second are possible,
which is what property tests need.

What is intercepted: ``os`` (open with write flags, write/pwrite/writev, fsync/fdatasync,
rename/replace, unlink/remove, mkdir, rmdir, link, symlink, truncate/ftruncate,
sendfile/copy_file_range, chmod/fchmod, utime) and ``builtins.open``/``io.open`` in a write
mode, whose file objects count each write that reaches the disk (one buffered flush = one
write, as at the syscall level). ``shutil``, ``pathlib``, ``tempfile`` and ``os.makedirs``
are seen through these, so ``shutil.copy2`` is open_write + copy (sendfile) + utime + chmod,
exactly the operations strace sees; patching ``shutil`` too would count them twice.

What is not: SQLite's C code (``sqlite3`` never calls ``os.*``: a fault inside a database
write needs the syscall backend), other C extensions, names bound before the block
(``from os import rename``), and the interpreter's own imports. Patching is process-wide, so
one block at a time per process (nesting raises); faults in parallel need processes.

``kill`` differences from a real kill: :class:`SimulatedCrash` derives from ``BaseException``,
so ``except Exception`` handlers do not catch it, but ``finally`` blocks and ``with`` exits
still run, unlike after SIGKILL. To keep them from repairing the damage, every intercepted
operation after the crash raises :class:`SimulatedCrash` again (so buffered data is not
flushed, temporary files are not cleaned up), but code that does not touch files, and
SQLite, carry on. For a true kill use the syscall backend, or ``os._exit`` in a child.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.faults.availability import Availability
from harness.faults.plan import FaultPlan, Operation
from harness.faults.syscalls import is_disk_path, is_write_open
from harness.faults.trace import TraceOp


class SimulatedCrash(BaseException):
    """The process "died" at a planned operation (in-process stand-in for SIGKILL).

    A ``BaseException`` so that a migrator's ``except Exception`` cannot survive it.
    """

    def __init__(self, plan: FaultPlan, op: TraceOp | None) -> None:
        where = op.describe() if op else "after the crash"
        super().__init__(f"simulated kill: {plan.describe()} ({where})")
        self.plan = plan
        self.op = op


@dataclass(frozen=True)
class _Call:
    """One intercepted operation, before it runs."""

    operation: Operation
    name: str  # "os.rename", "open", "FileIO.write", ...
    paths: tuple[str, ...]
    filenames: tuple[Any, ...]  # the path arguments as given, for OSError
    args: tuple[str, ...]
    length: int | None = None
    offset: int | None = None

    def trace_op(self, index: int, result: int | str | None) -> TraceOp:
        return TraceOp(
            index=index,
            operation=self.operation,
            syscall=self.name,
            paths=self.paths,
            pid=os.getpid(),
            result=result,
            args=self.args,
            offset=self.offset,
            length=self.length,
        )


Hook = Callable[[_Call, Callable[[], Any]], Any]


@dataclass
class InProcessFault:
    """What an :func:`inject` block did: whether and where its plan fired."""

    plan: FaultPlan
    operations: int = 0  # intercepted operations so far (the next one's trace index)
    matched: int = 0  # operations that matched the plan so far
    fired: TraceOp | None = None  # the operation the fault hit, indexed as record() would
    crashed: bool = False  # a kill fired: every further operation raises SimulatedCrash
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, call: _Call, perform: Callable[[], Any]) -> Any:
        with self._lock:
            if self.crashed:
                raise SimulatedCrash(self.plan, None)
            hit = False
            index = self.operations
            self.operations += 1
            if self.fired is None and self.plan.matches(call.operation, call.paths):
                self.matched += 1
                if self.matched == self.plan.occurrence:
                    hit = True
                    self.fired = call.trace_op(index, self.plan.effect)
                    self.crashed = self.plan.is_kill
        if not hit:
            return perform()
        if self.plan.is_kill:
            raise SimulatedCrash(self.plan, self.fired)
        code = self.plan.errno
        assert code is not None
        raise OSError(code, os.strerror(code), *_filename_args(call.filenames))


@dataclass
class Recording:
    """The operations a :func:`record` block performed, in order."""

    ops: list[TraceOp] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, call: _Call, perform: Callable[[], Any]) -> Any:
        with self._lock:
            index = len(self.ops)
            self.ops.append(call.trace_op(index, None))  # reserve its place in entry order
        try:
            result = perform()
        except OSError as exc:
            self.ops[index] = call.trace_op(index, _errno_name(exc))
            raise
        self.ops[index] = call.trace_op(index, result if isinstance(result, int) else 0)
        return result


@contextmanager
def inject(plan: FaultPlan) -> Iterator[InProcessFault]:
    """Within the block, the plan's Nth matching operation fails (or "kills")."""
    fault = InProcessFault(plan)
    with _intercepting(fault):
        yield fault


@contextmanager
def record() -> Iterator[Recording]:
    """Within the block, every intercepted operation is listed as a :class:`TraceOp`."""
    recording = Recording()
    with _intercepting(recording):
        yield recording


@dataclass(frozen=True)
class CallOutcome:
    """How a callable run under a fault ended."""

    fault: InProcessFault
    error: BaseException | None  # what it raised (OSError, SimulatedCrash, ...), if anything

    @property
    def crashed(self) -> bool:
        return isinstance(self.error, SimulatedCrash)


def call_with_fault(
    plan: FaultPlan, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> CallOutcome:
    """Run ``fn(*args, **kwargs)`` under ``plan``; its exception (or crash) is returned."""
    with inject(plan) as fault:
        try:
            fn(*args, **kwargs)
        except (Exception, SimulatedCrash) as exc:
            return CallOutcome(fault, exc)
    return CallOutcome(fault, None)


def backend_available() -> Availability:
    """Always available: it needs nothing but this interpreter."""
    return Availability("in-process", True)


# --- the patches ---------------------------------------------------------------------------

_active = threading.Lock()  # one interception at a time: patching is process-wide


@contextmanager
def _intercepting(hook: Hook) -> Iterator[None]:
    if not _active.acquire(blocking=False):
        raise RuntimeError("an in-process fault block is already active in this process")
    state = {"on": True}

    def through(call: _Call, perform: Callable[[], Any]) -> Any:
        return hook(call, perform) if state["on"] else perform()

    patches = _patches(through)
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, replacement in patches:
            setattr(module, name, replacement)
        yield
    finally:
        state["on"] = False  # file objects opened in the block outlive it
        for module, name, original in saved:
            setattr(module, name, original)
        _active.release()


def _patches(hook: Hook) -> list[tuple[Any, str, Any]]:
    real = {name: getattr(os, name) for name in _OS_NAMES if hasattr(os, name)}
    real_open = io.open
    op = Operation

    def path_op(operation: Operation, name: str, param: str = "path", position: int = 0) -> Any:
        """A wrapper for ``os.<name>(path, ..., dir_fd=None)``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            path = args[position] if len(args) > position else kwargs[param]
            call = _Call(
                operation,
                f"os.{name}",
                (_resolve(path, kwargs.get("dir_fd")),),
                (path,),
                _reprs(args),
            )
            return hook(call, lambda: real[name](*args, **kwargs))

        return wrapper

    def two_path_op(operation: Operation, name: str) -> Any:
        """A wrapper for ``os.<name>(src, dst, *, src_dir_fd=None, dst_dir_fd=None)``."""

        def wrapper(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            paths = (
                _resolve(src, kwargs.get("src_dir_fd")),
                _resolve(dst, kwargs.get("dst_dir_fd")),
            )
            call = _Call(operation, f"os.{name}", paths, (src, dst), _reprs((src, dst)))
            return hook(call, lambda: real[name](src, dst, *args, **kwargs))

        return wrapper

    def fd_op(operation: Operation, name: str, writes: bool = False) -> Any:
        """A wrapper for ``os.<name>(fd_or_path, ...)``: only a file on a disk counts."""

        def wrapper(target: Any, *args: Any, **kwargs: Any) -> Any:
            path = _resolve_target(target, kwargs.get("dir_fd"))
            if not is_disk_path(path):
                return real[name](target, *args, **kwargs)
            length = offset = None
            if writes and args:
                length = _length(args[0])
                offset = args[1] if name.startswith("pwrite") and len(args) > 1 else None
            # a call on a descriptor raises OSError without a file name, as the real one does
            named = () if isinstance(target, int) or hasattr(target, "fileno") else (target,)
            call = _Call(operation, f"os.{name}", (path,), named, _reprs((target,)), length, offset)
            return hook(call, lambda: real[name](target, *args, **kwargs))

        return wrapper

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
        if not is_write_open(flags):
            return real["open"](path, flags, *args, **kwargs)
        resolved = _resolve(path, kwargs.get("dir_fd"))
        call = _Call(op.OPEN_WRITE, "os.open", (resolved,), (path,), _reprs((path, flags)))
        return hook(call, lambda: real["open"](path, flags, *args, **kwargs))

    def copy(name: str, source_arg: int, dest_arg: int, length_arg: int) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            source, dest = _fd_path(args[source_arg]), _fd_path(args[dest_arg])
            if not is_disk_path(dest):
                return real[name](*args, **kwargs)
            length = args[length_arg] if len(args) > length_arg else None
            paths = (source or "", dest or "")
            call = _Call(op.COPY, f"os.{name}", paths, (), _reprs(args[:2]), length)
            return hook(call, lambda: real[name](*args, **kwargs))

        return wrapper

    def file_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if not isinstance(mode, str) or not set(mode) & set("wax+") or set(mode) - set("rwxabt+"):
            return real_open(file, mode, *args, **kwargs)
        if isinstance(file, int):  # wrapping a descriptor opens nothing
            return _writable_file(hook, file, mode, *args, **kwargs)
        resolved = _resolve(file, None)
        call = _Call(op.OPEN_WRITE, "open", (resolved,), (file,), _reprs((file, mode)))
        return hook(call, lambda: _writable_file(hook, file, mode, *args, **kwargs))

    os_wrappers = {
        "open": os_open,
        "write": fd_op(op.WRITE, "write", writes=True),
        "pwrite": fd_op(op.WRITE, "pwrite", writes=True),
        "writev": fd_op(op.WRITE, "writev", writes=True),
        "pwritev": fd_op(op.WRITE, "pwritev", writes=True),
        "fsync": fd_op(op.FSYNC, "fsync"),
        "fdatasync": fd_op(op.FSYNC, "fdatasync"),
        "ftruncate": fd_op(op.TRUNCATE, "ftruncate"),
        "fchmod": fd_op(op.CHMOD, "fchmod"),
        "truncate": fd_op(op.TRUNCATE, "truncate"),
        "chmod": fd_op(op.CHMOD, "chmod"),
        "utime": fd_op(op.UTIME, "utime"),
        "rename": two_path_op(op.RENAME, "rename"),
        "replace": two_path_op(op.RENAME, "replace"),
        "link": two_path_op(op.LINK, "link"),
        "symlink": path_op(op.SYMLINK, "symlink", "dst", 1),
        "unlink": path_op(op.UNLINK, "unlink"),
        "remove": path_op(op.UNLINK, "remove"),
        "mkdir": path_op(op.MKDIR, "mkdir"),
        "rmdir": path_op(op.RMDIR, "rmdir"),
        "sendfile": copy("sendfile", 1, 0, 3),
        "copy_file_range": copy("copy_file_range", 0, 1, 2),
    }
    patches: list[tuple[Any, str, Any]] = [
        (os, name, wrapper) for name, wrapper in os_wrappers.items() if name in real
    ]
    return [*patches, (builtins, "open", file_open), (io, "open", file_open)]


_OS_NAMES = (
    *("open", "write", "pwrite", "writev", "pwritev", "fsync", "fdatasync", "ftruncate"),
    *("fchmod", "truncate", "chmod", "utime", "rename", "replace", "link", "symlink"),
    *("unlink", "remove", "mkdir", "rmdir", "sendfile", "copy_file_range"),
)


class _CountingFileIO(io.FileIO):
    """A raw file whose every write is an intercepted operation."""

    def __init__(self, hook: Hook, file: Any, mode: str, closefd: bool, opener: Any) -> None:
        super().__init__(file, mode, closefd, opener=opener)
        self._mk_hook = hook
        self._mk_path = _fd_path(self.fileno()) or ""

    def write(self, data: Any, /) -> int | None:
        call = _Call(
            Operation.WRITE,
            "FileIO.write",
            (self._mk_path,),
            (self.name,),
            (repr(self.name),),
            _length(data),
        )
        return self._mk_hook(call, lambda: io.FileIO.write(self, data))


def _writable_file(
    hook: Hook,
    file: Any,
    mode: str,
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Any = None,
) -> Any:
    """What ``io.open`` returns for a write mode, over a :class:`_CountingFileIO`."""
    raw = _CountingFileIO(hook, file, mode.replace("t", ""), closefd, opener)
    result: Any = raw
    try:  # the steps of io.open, in its order
        line_buffering = False
        if buffering == 1 or (buffering < 0 and raw.isatty()):
            buffering, line_buffering = -1, True
        if buffering < 0:
            block = os.fstat(raw.fileno()).st_blksize
            buffering = block if block > 1 else io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if "b" in mode:
                return raw
            raise ValueError("can't have unbuffered text I/O")
        buffer_class = io.BufferedRandom if "+" in mode else io.BufferedWriter
        result = buffer_class(raw, buffering)
        if "b" in mode:
            return result
        result = io.TextIOWrapper(result, encoding, errors, newline, line_buffering)
        result.mode = mode  # type: ignore[misc]
        return result
    except BaseException:
        result.close()
        raise


def _resolve(path: Any, dir_fd: int | None) -> str:
    """An absolute, lexically normal path for ``path`` (relative to ``dir_fd`` if given)."""
    text = os.fsdecode(path)
    base = _fd_path(dir_fd) if dir_fd is not None else None
    return os.path.normpath(os.path.join(base or os.getcwd(), text))


def _resolve_target(target: Any, dir_fd: int | None) -> str | None:
    """A path-or-descriptor argument (``os.chmod``, ``os.fsync(file)``...) as a path."""
    if isinstance(target, int):
        return _fd_path(target)
    if hasattr(target, "fileno") and not isinstance(target, str | bytes | os.PathLike):
        return _fd_path(target.fileno())
    return _resolve(target, dir_fd)


def _fd_path(fd: Any) -> str | None:
    try:
        path = os.readlink(f"/proc/self/fd/{int(fd)}")
    except (OSError, TypeError, ValueError):
        return None
    return path.removesuffix(" (deleted)")


def _length(data: Any) -> int | None:
    if isinstance(data, list | tuple):  # writev's buffers
        return sum(len(memoryview(b)) for b in data)
    try:
        return len(memoryview(data))
    except TypeError:
        return None


def _reprs(values: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(repr(v) for v in values)


def _filename_args(filenames: tuple[Any, ...]) -> tuple[Any, ...]:
    """OSError's (filename, winerror, filename2) tail, as the real call would raise it."""
    if not filenames:
        return ()
    if len(filenames) == 1:
        return (filenames[0],)
    return (filenames[0], None, filenames[1])


def _errno_name(exc: OSError) -> str | int:
    return errno.errorcode.get(exc.errno or 0, exc.errno or 0)
