"""Replay a recorded syscall trace onto the page-cache model, and take crash images.

The trace (:func:`harness.faults.trace.record` with ``data_limit`` large enough to print
every written byte, and ``positions=True``) says what the run did, call by call: which file
each descriptor was (``-y``), what each write put where, which renames, unlinks, mkdirs and
fsyncs happened.
:class:`Replayer` applies those calls, in the order strace saw them enter, to a
:class:`~harness.explore.powerloss.model.FileSystem` loaded from a pristine copy of the tree the run
started from. Nothing is executed again: the same trace yields every crash state.

Descriptors: a call on a descriptor is resolved through the path strace printed for it,
checked against the descriptor table the replayer keeps (opens, inherited through
``clone``/``fork``, shared with ``CLONE_FILES``), so a file renamed while open is still the
same file. The table also keeps each descriptor's file position, which plain ``write``,
``copy_file_range`` and ``sendfile`` with NULL offsets advance: reads are not traced, so a
program that ``read``s and then ``write``s on one descriptor is replayed as if it wrote
at its last known position (:attr:`Replayer.notes` says where a position was unknown).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.contract.errors import ExitStatus, KitError
from harness.explore.powerloss.image import KINDS, CrashImage
from harness.explore.powerloss.model import FileSystem, Inode, ModelError
from harness.faults.plan import Operation
from harness.faults.straceout import SyscallEvent, decode_bytes, decode_fd, decode_string
from harness.faults.syscalls import is_disk_path
from harness.faults.trace import Trace, TraceOp

# Operations after which the durable state may differ: the crash points are just before
# each of them (and at the end of the run). Writes, truncates, chmods only change what an
# fsync will later make durable, so a crash point between them adds no new state.
BOUNDARIES = frozenset(
    {
        Operation.FSYNC,
        Operation.RENAME,
        Operation.UNLINK,
        Operation.RMDIR,
        Operation.MKDIR,
        Operation.LINK,
        Operation.SYMLINK,
    }
)

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')
_POINTER = re.compile(r"\[(-?\d+)\]")
_TIMESPEC = re.compile(r"tv_sec=(-?\d+), tv_(nsec|usec)=(\w+)")
_UTIMBUF = re.compile(r"actime=(-?\d+).*modtime=(-?\d+)")
_FLAG = re.compile(r"\bO_[A-Z]+\b")
# A failed fsync that loses the dirty pages (the kernel marks them clean): an I/O error,
# or no space to write them back. Other errors (EBADF, EINVAL, EINTR) write nothing back
# and lose nothing.
WRITEBACK_ERRORS = frozenset({"EIO", "ENOSPC", "EDQUOT"})


class ReplayError(KitError):
    """The trace lacks what a replay needs (written bytes cut off by strace's -s, or file
    positions not followed)."""

    exit_status = ExitStatus.INTERNAL


@dataclass(frozen=True)
class CrashPoint:
    """A moment a power cut can hit: just before the trace's op ``index``, or at the end.

    ``index`` is the op's position in ``Trace.ops`` (the same numbering as the fault
    exploration's operation k); None stands for the end of the run.
    """

    index: int | None
    op: TraceOp | None = None

    @property
    def label(self) -> str:
        return "end" if self.index is None else str(self.index)

    def describe(self, root: str = "") -> str:
        """``just before #41 rename alice/x -> alice/y (rename)``, paths relative to root."""
        if self.op is None:
            return "at the end of the run (after its last operation, nothing more synced)"
        paths = " -> ".join(relative(p, root) for p in self.op.paths) or "?"
        return f"just before #{self.op.index} {self.op.operation.value} {paths} ({self.op.syscall})"


def relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` (``.`` for ``root`` itself), as it is elsewhere."""
    if root and inside(path, root):
        return path[len(root) :].lstrip("/") or "."
    return path


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def crash_points(trace: Trace, root: str) -> tuple[CrashPoint, ...]:
    """Every op that may change what a power cut leaves of ``root``, plus the end.

    Failed calls changed nothing and are left out; so are ops on paths outside the tree.
    An ``open`` that creates a file is a boundary too: the new name may reach the disk.
    """
    points = [
        CrashPoint(op.index, op)
        for op in trace.ops
        if _is_boundary(op) and any(inside(p, root) for p in op.paths)
    ]
    return (*points, CrashPoint(None))


def _is_boundary(op: TraceOp) -> bool:
    if not isinstance(op.result, int) or op.result < 0:
        return False
    if op.operation == Operation.OPEN_WRITE:
        return any("O_CREAT" in a for a in op.args)
    return op.operation in BOUNDARIES


class _Open:
    """An open file description: the file and its position (None: unknown)."""

    __slots__ = ("append", "inode", "position")

    def __init__(self, inode: Inode, position: int | None, append: bool = False) -> None:
        self.inode = inode
        self.position = position
        self.append = append


class Replayer:
    """Applies a trace's events to a model of the file system, one at a time."""

    def __init__(
        self,
        trace: Trace,
        root: str,
        pristine: Path,
        *,
        umask: int = 0o022,
        replace_flush: bool = False,
    ) -> None:
        if not trace.positions:
            raise ReplayError(
                "this trace did not follow file positions (lseek), so plain writes cannot be "
                "placed: record with positions=True"
            )
        self.trace = trace
        self.root = root
        self.replace_flush = replace_flush  # ext4's auto_da_alloc (profiles.Profile)
        self.fs = FileSystem(umask=umask)
        self.tree = self.fs.mount(root, pristine)
        self.ops: dict[int, TraceOp] = {op.event: op for op in trace.ops if op.event is not None}
        self.tables: dict[int, dict[int, _Open]] = {}
        self.parents = {
            e.retval: (e.tid, " ".join(e.args))
            for e in trace.events
            if e.name in ("clone", "clone3", "fork", "vfork") and e.retval and e.retval > 0
        }
        self.notes: list[str] = []
        self._handlers: Mapping[str, Callable[[SyscallEvent], None]] = {
            **dict.fromkeys(("open", "openat", "openat2", "creat"), self._open),
            **dict.fromkeys(("write", "pwrite64", "writev", "pwritev", "pwritev2"), self._write),
            **dict.fromkeys(("fsync", "fdatasync"), self._fsync),
            **dict.fromkeys(("rename", "renameat", "renameat2"), self._rename),
            **dict.fromkeys(("unlink", "unlinkat", "rmdir"), self._remove),
            **dict.fromkeys(("mkdir", "mkdirat"), self._mkdir),
            **dict.fromkeys(("link", "linkat"), self._link),
            **dict.fromkeys(("symlink", "symlinkat"), self._symlink),
            **dict.fromkeys(("truncate", "ftruncate"), self._truncate),
            **dict.fromkeys(("chmod", "fchmod", "fchmodat"), self._chmod),
            **dict.fromkeys(("utimensat", "futimesat", "utimes", "utime"), self._utime),
            "copy_file_range": self._copy_file_range,
            "sendfile": self._sendfile,
            "lseek": self._lseek,
        }

    # -- driving -----------------------------------------------------------------------

    def apply(self, event: SyscallEvent) -> None:
        """Apply one traced call as it succeeded; failed and unfinished calls did nothing,
        except a failed fsync, which loses the file's dirty pages (:data:`WRITEBACK_ERRORS`)."""
        if event.error in WRITEBACK_ERRORS and event.name in ("fsync", "fdatasync"):
            self._fsync_failed(event)
            return
        if event.retval is None or event.retval < 0 or event.error:
            return
        handler = self._handlers.get(event.name)
        if handler is None:
            return
        try:
            handler(event)
        except ModelError as exc:
            self._note(event, str(exc))

    def image(self, kind: str) -> CrashImage:
        return self.fs.image(self.tree, kind, replace_flush=self.replace_flush)

    def kind_of(self, event: SyscallEvent) -> str | None:
        """The kind (``file``, ``dir``) of the file behind ``event``'s descriptor argument,
        as the model holds it now (before ``event`` is applied); None when unknown."""
        if not event.args:
            return None
        entry = self._descriptor(event, event.args[0])
        return None if entry is None else entry.inode.kind

    def _note(self, event: SyscallEvent, text: str) -> None:
        self.notes.append(f"call {event.seq} ({event.name}, tid {event.tid}): {text}")

    # -- descriptors ---------------------------------------------------------------------

    def _table(self, tid: int) -> dict[int, _Open]:
        table = self.tables.get(tid)
        if table is not None:
            return table
        parent = self.parents.get(tid)
        if parent is not None and parent[0] in self.tables:
            inherited = self.tables[parent[0]]
            # Threads share the table; a forked child gets a copy of it whose entries still
            # share their positions with the parent's (one open file description).
            table = inherited if "CLONE_FILES" in parent[1] else dict(inherited)
        else:
            table = {}
        self.tables[tid] = table
        return table

    def _descriptor(self, event: SyscallEvent, arg: str) -> _Open | None:
        """The open file behind a ``3</path>`` argument; None for pipes, sockets, /proc."""
        fd, path = decode_fd(arg)
        if fd is None or not is_disk_path(path):
            return None
        assert path is not None
        deleted = arg.rstrip().endswith("(deleted)>")
        table = self._table(event.tid)
        entry = table.get(fd)
        if entry is not None:
            if deleted and entry.inode.links == 0:
                return entry
            if not deleted and self.fs.lookup(path) is entry.inode:
                return entry
        inode = None if deleted else self.fs.lookup(path)
        if inode is None:
            if inside(path, self.root):
                self._note(event, f"{path}: a descriptor the replay cannot place")
            return None
        entry = _Open(inode, None)  # opened where the trace did not see it (dup, exec)
        table[fd] = entry
        return entry

    def _path(self, event: SyscallEvent, which: int = 0) -> str:
        op = self.ops.get(event.seq)
        if op is None or len(op.paths) <= which:
            raise ModelError("no resolved path for this call in the trace")
        return op.paths[which]

    # -- handlers ------------------------------------------------------------------------

    def _open(self, event: SyscallEvent) -> None:
        path = event.ret_path
        if not is_disk_path(path):
            return
        assert path is not None and event.retval is not None
        flags, mode = _open_flags(event)
        if "O_TMPFILE" in flags:
            self._note(event, f"{path}: O_TMPFILE is not modelled")
            return
        inode = self.fs.lookup(path)
        if inode is None:
            if "O_CREAT" not in flags:
                if inside(path, self.root):
                    self._note(event, f"{path}: opened, but the model has no such file")
                return
            inode = self.fs.create(path, mode)
        elif "O_TRUNC" in flags and inode.kind == "file":
            self.fs.truncate(inode, 0)
        self._table(event.tid)[event.retval] = _Open(inode, 0, append="O_APPEND" in flags)

    def _write(self, event: SyscallEvent) -> None:
        entry = self._descriptor(event, event.args[0])
        if entry is None or entry.inode.kind != "file":
            return
        n = event.retval or 0
        data = _written_bytes(event)[:n]
        if len(data) < n:
            raise ReplayError(
                f"call {event.seq} ({event.name}): {n} bytes written, {len(data)} in the trace; "
                "record with a larger data_limit"
            )
        if event.name in ("pwrite64", "pwritev", "pwritev2"):
            self.fs.write(entry.inode, int(event.args[3]), data)
            return
        offset = self._position(event, entry)
        self.fs.write(entry.inode, offset, data)
        entry.position = offset + n

    def _position(self, event: SyscallEvent, entry: _Open) -> int:
        if entry.append:
            return entry.inode.size()
        if entry.position is None:
            self._note(event, "file position unknown: replayed as an append")
            return entry.inode.size()
        return entry.position

    def _fsync(self, event: SyscallEvent) -> None:
        entry = self._descriptor(event, event.args[0])
        if entry is not None:
            self.fs.fsync(entry.inode, metadata=event.name == "fsync")

    def _fsync_failed(self, event: SyscallEvent) -> None:
        entry = self._descriptor(event, event.args[0])
        if entry is None:
            return
        op = self.ops.get(event.seq)
        where = f"#{op.index} " if op is not None else ""
        what = f"{event.name} {where}({event.error})"
        if self.fs.fsync_failed(entry.inode, what) == 0 and entry.inode.kind != "file":
            self._note(event, f"{event.name} of a directory failed: not modelled")

    def _rename(self, event: SyscallEvent) -> None:
        exchange = event.name == "renameat2" and "RENAME_EXCHANGE" in event.args[-1]
        self.fs.rename(self._path(event, 0), self._path(event, 1), exchange=exchange)

    def _remove(self, event: SyscallEvent) -> None:
        self.fs.remove(self._path(event))

    def _mkdir(self, event: SyscallEvent) -> None:
        mode = _octal(event.args[1 if event.name == "mkdir" else 2], 0o777)
        self.fs.mkdir(self._path(event), mode)

    def _link(self, event: SyscallEvent) -> None:
        self.fs.link(self._path(event, 0), self._path(event, 1))

    def _symlink(self, event: SyscallEvent) -> None:
        target = decode_string(event.args[0])
        if target is None:
            raise ModelError("symlink target not printed")
        self.fs.symlink(target, self._path(event))

    def _truncate(self, event: SyscallEvent) -> None:
        inode = self._inode(event)
        if inode is not None and inode.kind == "file":
            self.fs.truncate(inode, int(event.args[1]))

    def _inode(self, event: SyscallEvent) -> Inode | None:
        """The file a call acts on: its descriptor (f* calls) or its resolved path."""
        if event.name.startswith("f") and event.name not in ("futimesat", "fchmodat"):
            entry = self._descriptor(event, event.args[0])
            return None if entry is None else entry.inode
        return self.fs.lookup(self._path(event))

    def _chmod(self, event: SyscallEvent) -> None:
        inode = self._inode(event)
        if inode is not None:
            self.fs.chmod(inode, _octal(event.args[2 if event.name == "fchmodat" else 1], 0))

    def _utime(self, event: SyscallEvent) -> None:
        inode = self._inode(event)
        if inode is not None:
            times_arg = event.args[1] if event.name in ("utimes", "utime") else event.args[2]
            self.fs.utime(inode, _times(times_arg, inode.times))

    def _copy_file_range(self, event: SyscallEvent) -> None:
        # copy_file_range(fd_in, off_in, fd_out, off_out, len, flags)
        self._copy(event, event.args[0], event.args[1], event.args[2], event.args[3])

    def _sendfile(self, event: SyscallEvent) -> None:
        # sendfile(out_fd, in_fd, offset, count): the output's own position is always used.
        self._copy(event, event.args[1], event.args[2], event.args[0], "NULL")

    def _copy(self, event: SyscallEvent, src: str, src_off: str, dst: str, dst_off: str) -> None:
        source, target = self._descriptor(event, src), self._descriptor(event, dst)
        if target is None or target.inode.kind != "file":
            return
        n = event.retval or 0
        if source is None:
            self._note(event, "copied from a file the replay does not know: zeros written")
            data = bytes(n)
        else:
            start = _pointer(src_off)
            start = self._position(event, source) if start is None else start
            data = self.fs.read(source.inode, start, n)
            if _pointer(src_off) is None:
                source.position = start + n
        at = _pointer(dst_off)
        offset = self._position(event, target) if at is None else at
        self.fs.write(target.inode, offset, data)
        if at is None:
            target.position = offset + n

    def _lseek(self, event: SyscallEvent) -> None:
        entry = self._descriptor(event, event.args[0])
        if entry is not None:
            entry.position = event.retval


def _open_flags(event: SyscallEvent) -> tuple[set[str], int]:
    """(flag names, creation mode) of an open call, whatever its flavour."""
    args = event.args
    if event.name == "creat":
        return {"O_CREAT", "O_WRONLY", "O_TRUNC"}, _octal(args[1], 0o666)
    at = 0 if event.name == "open" else 1
    flags = args[at + 1] if len(args) > at + 1 else ""
    if event.name == "openat2":
        found = re.search(r"mode=(0[0-7]*)", flags)
        return set(_FLAG.findall(flags)), _octal(found[1] if found else "", 0o666)
    mode = _octal(args[at + 2], 0o666) if len(args) > at + 2 else 0o666
    return set(_FLAG.findall(flags)), mode


def _octal(text: str, default: int) -> int:
    text = text.strip()
    try:
        return int(text, 8)
    except ValueError:
        return default


def _pointer(text: str) -> int | None:
    """An offset argument: ``NULL`` -> None, ``[4096]`` or ``[0] => [4096]`` -> the value in."""
    found = _POINTER.search(text)
    return int(found[1]) if found and text.strip() != "NULL" else None


def _written_bytes(event: SyscallEvent) -> bytes:
    """The bytes a write call passed, from strace's quoted buffer (or iovec) argument."""
    out = bytearray()
    for match in _QUOTED.finditer(event.args[1]):
        out += decode_bytes(match[1])
        if match[2]:
            break  # cut off by -s: the caller sees fewer bytes than were written
    return bytes(out)


def _times(text: str, current: tuple[int, int] | None) -> tuple[int, int] | None:
    """(atime_ns, mtime_ns) set by a utime-family call; None means "now" (not modelled)."""
    if text.strip() == "NULL":
        return None
    spec = _TIMESPEC.findall(text)
    if len(spec) == 2:
        values = []
        for i, (sec, unit, frac) in enumerate(spec):
            if frac == "UTIME_OMIT":
                values.append(None if current is None else current[i])
            elif frac == "UTIME_NOW" or not frac.isdigit():
                values.append(None)
            else:
                values.append(int(sec) * 10**9 + int(frac) * (1000 if unit == "usec" else 1))
        if None in values:
            return None
        return values[0], values[1]
    found = _UTIMBUF.search(text)
    if found:
        return int(found[1]) * 10**9, int(found[2]) * 10**9
    return None


def replay_images(
    trace: Trace,
    root: str,
    pristine: Path,
    *,
    points: Iterable[CrashPoint] | None = None,
    kinds: Iterable[str] = KINDS,
    umask: int = 0o022,
    replace_flush: bool = False,
) -> Iterator[tuple[CrashPoint, CrashImage]]:
    """Replay ``trace`` once, yielding (point, image) for each wanted point and kind
    (``replace_flush``: a rename over a file flushes it first, ext4's auto_da_alloc).

    ``points`` defaults to :func:`crash_points`; images come in trace order. The replay
    stops after the last wanted point, so asking for one early point is cheap.
    """
    wanted = list(crash_points(trace, root) if points is None else points)
    kinds = tuple(kinds)
    before = {p.op.event: p for p in wanted if p.op is not None}
    end = [p for p in wanted if p.op is None]
    if not before and not end:
        return
    replayer = Replayer(trace, root, pristine, umask=umask, replace_flush=replace_flush)
    for event in trace.events:
        point = before.pop(event.seq, None)
        if point is not None:
            for kind in kinds:
                yield point, replayer.image(kind)
        if not before and not end:
            return
        replayer.apply(event)
    for point in end:
        for kind in kinds:
            yield point, replayer.image(kind)
