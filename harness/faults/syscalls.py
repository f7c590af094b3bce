"""Which Linux syscalls perform each portable :class:`~harness.faults.plan.Operation`.

One table, :data:`SYSCALLS`, says for every syscall the kit traces: which operation it is
(possibly depending on its flags), where its paths are among the arguments (so a trace can
resolve them to absolute paths), and which arguments ``strace -P`` compares with its path
set (so the injector can predict exactly which calls strace will count; see
:mod:`harness.faults.injection`). Everything else that needs to know about syscalls reads this
table, so adding a syscall is one entry.

The ``-P`` columns copy strace 6.1's ``pathtrace.c``, quirks included: for plain
``rename(2)`` strace only looks at the *old* path, for ``symlink(2)`` only at the link's name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.faults.plan import Operation

# Open flags that make an open a write: anything that can change the file or create it.
WRITE_OPEN_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")
_WRITE_OPEN_MASK = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC

# Descriptor paths that are not files on a disk: writes to them are output, not data.
# /dev/shm is the exception: a tmpfs of ordinary files (where a kit may put its trees).
_NOT_DISK = ("/dev/", "/proc/", "/sys/", "/memfd:")
_FILES_UNDER_DEV = ("/dev/shm/",)


def is_write_open(flags: int) -> bool:
    """Whether numeric open(2) ``flags`` make an open a write (``open_write``)."""
    return bool(flags & _WRITE_OPEN_MASK)


def is_write_open_text(flags: str) -> bool:
    """Whether strace's symbolic flags (``O_WRONLY|O_CREAT|O_CLOEXEC``) make a write."""
    names = flags.strip("{}").removeprefix("flags=").split(",")[0].split("|")
    return any(name.strip() in WRITE_OPEN_FLAGS for name in names)


def is_disk_path(path: str | None) -> bool:
    """Whether a descriptor's path is a file on a disk (not a pipe, socket, tty or /proc)."""
    if path is None or not path.startswith("/"):
        return False
    return path.startswith(_FILES_UNDER_DEV) or not path.startswith(_NOT_DISK)


@dataclass(frozen=True)
class PathArg:
    """Where one path of a syscall is: a descriptor, a path, or a directory fd plus a path."""

    path: int | None = None  # index of a path string argument
    fd: int | None = None  # index of a descriptor argument (the dirfd when path is set)


@dataclass(frozen=True)
class Syscall:
    """What the kit knows about one syscall."""

    name: str
    operation: Operation | None  # None: depends on the arguments, see ``classify``
    paths: tuple[PathArg, ...]  # the paths the operation acts on, source first
    # Arguments strace -P compares with its path set: ("fd", i) or ("path", i).
    pmatch: tuple[tuple[str, int], ...]
    classify: Callable[[Sequence[str]], Operation | None] | None = None

    def operation_for(self, args: Sequence[str]) -> Operation | None:
        """The operation this call performs, or None when it is not a mutating one."""
        return self.classify(args) if self.classify else self.operation


def _open_flags_at(index: int) -> Callable[[Sequence[str]], Operation | None]:
    def classify(args: Sequence[str]) -> Operation | None:
        if len(args) > index and is_write_open_text(args[index]):
            return Operation.OPEN_WRITE
        return None

    return classify


def _unlinkat(args: Sequence[str]) -> Operation | None:
    return Operation.RMDIR if len(args) > 2 and "AT_REMOVEDIR" in args[2] else Operation.UNLINK


def _fd(i: int) -> PathArg:
    return PathArg(fd=i)


def _path(i: int) -> PathArg:
    return PathArg(path=i)


def _at(fd: int, path: int) -> PathArg:
    return PathArg(path=path, fd=fd)


_P0 = (("path", 0),)
_FD0 = (("fd", 0),)
_FD0_P1 = (("fd", 0), ("path", 1))
_FOUR = (("fd", 0), ("fd", 2), ("path", 1), ("path", 3))

_TABLE = (
    Syscall("open", None, (_path(0),), _P0, _open_flags_at(1)),
    Syscall("creat", Operation.OPEN_WRITE, (_path(0),), _P0),
    Syscall("openat", None, (_at(0, 1),), _FD0_P1, _open_flags_at(2)),
    Syscall("openat2", None, (_at(0, 1),), _FD0_P1, _open_flags_at(2)),
    *(
        Syscall(name, Operation.WRITE, (_fd(0),), _FD0)
        for name in ("write", "pwrite64", "writev", "pwritev", "pwritev2")
    ),
    Syscall("fsync", Operation.FSYNC, (_fd(0),), _FD0),
    Syscall("fdatasync", Operation.FSYNC, (_fd(0),), _FD0),
    Syscall("rename", Operation.RENAME, (_path(0), _path(1)), _P0),
    Syscall("renameat", Operation.RENAME, (_at(0, 1), _at(2, 3)), _FOUR),
    Syscall("renameat2", Operation.RENAME, (_at(0, 1), _at(2, 3)), _FOUR),
    Syscall("unlink", Operation.UNLINK, (_path(0),), _P0),
    Syscall("unlinkat", None, (_at(0, 1),), _FD0_P1, _unlinkat),
    Syscall("mkdir", Operation.MKDIR, (_path(0),), _P0),
    Syscall("mkdirat", Operation.MKDIR, (_at(0, 1),), _FD0_P1),
    Syscall("rmdir", Operation.RMDIR, (_path(0),), _P0),
    Syscall("link", Operation.LINK, (_path(0), _path(1)), (("path", 0), ("path", 1))),
    Syscall("linkat", Operation.LINK, (_at(0, 1), _at(2, 3)), _FOUR),
    Syscall("symlink", Operation.SYMLINK, (_path(1),), (("path", 1),)),
    Syscall("symlinkat", Operation.SYMLINK, (_at(1, 2),), (("fd", 1), ("path", 2))),
    Syscall("truncate", Operation.TRUNCATE, (_path(0),), _P0),
    Syscall("ftruncate", Operation.TRUNCATE, (_fd(0),), _FD0),
    Syscall("copy_file_range", Operation.COPY, (_fd(0), _fd(2)), (("fd", 0), ("fd", 2))),
    # sendfile(out_fd, in_fd, ...): the source is listed first, like every other copy.
    Syscall("sendfile", Operation.COPY, (_fd(1), _fd(0)), (("fd", 0), ("fd", 1))),
    Syscall("chmod", Operation.CHMOD, (_path(0),), _P0),
    Syscall("fchmod", Operation.CHMOD, (_fd(0),), _FD0),
    Syscall("fchmodat", Operation.CHMOD, (_at(0, 1),), _FD0_P1),
    Syscall("utimensat", Operation.UTIME, (_at(0, 1),), _FD0_P1),
    Syscall("futimesat", Operation.UTIME, (_at(0, 1),), _FD0_P1),
    Syscall("utimes", Operation.UTIME, (_path(0),), _P0),
    Syscall("utime", Operation.UTIME, (_path(0),), _P0),
)

SYSCALLS: dict[str, Syscall] = {s.name: s for s in _TABLE}

# Traced only so a trace can resolve relative paths: the working directory (chdir/fchdir,
# inherited through clone/fork).
# execve: which program a child runs, so an errno can single out one child of many
# (harness.faults.exec_shim).
PATH_BOOKKEEPING = ("chdir", "fchdir", "clone", "clone3", "fork", "vfork", "execve")
# Traced only so a trace knows where a plain write lands: file positions (lseek).
POSITION_BOOKKEEPING = ("lseek",)


def syscalls_for(operation: Operation) -> tuple[str, ...]:
    """Every syscall that may perform ``operation``."""
    return tuple(
        s.name
        for s in _TABLE
        if s.operation == operation or (s.operation is None and operation in _CLASSIFIED[s.name])
    )


_CLASSIFIED = {
    "open": (Operation.OPEN_WRITE,),
    "openat": (Operation.OPEN_WRITE,),
    "openat2": (Operation.OPEN_WRITE,),
    "unlinkat": (Operation.UNLINK, Operation.RMDIR),
}


def strace_set(names: Sequence[str]) -> str:
    """A ``-e trace=`` set: ``?`` makes strace skip names this architecture lacks."""
    return ",".join(f"?{n}" for n in names)
