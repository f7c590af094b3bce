"""``FaultPlan``: one fault, as plain data that means the same thing on every backend.

A plan names a portable file *operation* (not a syscall: ``rename`` covers ``rename``,
``renameat`` and ``renameat2`` at the syscall level and ``os.rename``/``os.replace`` in
process), the *occurrence* N (the Nth operation of that kind whose path matches, counted over
the whole run, 1-based), an optional *path* glob and the *effect*: an errno name the operation
fails with, or ``kill`` (the process dies just before the operation takes effect).

Plans are frozen, hashable and JSON-serialisable, and have a one-line text form for the CLI
and replay lines: ``rename#3:EXDEV@*/profiles/*`` (``#N`` defaults to 1, ``@glob`` to any
path). Path globs use :func:`fnmatch.fnmatchcase` on absolute, lexically normalised paths
(symlinks are not resolved), so ``*`` also matches ``/``.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from harness.contract.errors import KitError

KILL = "kill"


class Operation(StrEnum):
    """The portable vocabulary of mutating file operations a fault can hit."""

    OPEN_WRITE = "open_write"  # open/creat with O_WRONLY, O_RDWR, O_CREAT or O_TRUNC
    WRITE = "write"  # write/pwrite/writev to a regular file (not pipes, ttys, /dev, /proc)
    FSYNC = "fsync"  # fsync/fdatasync, of files and directories alike
    RENAME = "rename"
    UNLINK = "unlink"
    MKDIR = "mkdir"
    RMDIR = "rmdir"  # rmdir, unlinkat(AT_REMOVEDIR)
    COPY = "copy"  # in-kernel copies: copy_file_range, sendfile
    LINK = "link"
    SYMLINK = "symlink"
    TRUNCATE = "truncate"
    CHMOD = "chmod"
    UTIME = "utime"


# The errnos a real file system can return for each operation, i.e. the effects an exhaustive
# exploration should try. EXDEV only where crossing a mount point is the failure (R12);
# EACCES only where a path is looked up (an operation on an open descriptor cannot be refused
# for permissions); ENOSPC wherever an inode, a directory entry or a data block is allocated.
_PATH_OPS = (Operation.OPEN_WRITE, Operation.RENAME, Operation.UNLINK, Operation.MKDIR)
APPLICABLE_ERRNOS: Mapping[Operation, tuple[str, ...]] = {
    Operation.OPEN_WRITE: ("EIO", "ENOSPC", "EACCES"),
    Operation.WRITE: ("EIO", "ENOSPC"),
    Operation.FSYNC: ("EIO", "ENOSPC"),
    Operation.RENAME: ("EIO", "ENOSPC", "EACCES", "EXDEV"),
    Operation.UNLINK: ("EIO", "EACCES"),
    Operation.MKDIR: ("EIO", "ENOSPC", "EACCES"),
    Operation.RMDIR: ("EIO", "EACCES"),
    Operation.COPY: ("EIO", "ENOSPC", "EXDEV"),
    Operation.LINK: ("EIO", "ENOSPC", "EACCES", "EXDEV"),
    Operation.SYMLINK: ("EIO", "ENOSPC", "EACCES"),
    Operation.TRUNCATE: ("EIO", "ENOSPC", "EACCES"),
    Operation.CHMOD: ("EIO", "EACCES"),
    Operation.UTIME: ("EIO", "EACCES"),
}


def applicable_effects(operation: Operation) -> tuple[str, ...]:
    """Every effect worth trying at ``operation``: its plausible errnos, then ``kill``."""
    return (*APPLICABLE_ERRNOS[Operation(operation)], KILL)


class PlanError(KitError, ValueError):
    """A fault plan (or its text form) that does not name a fault."""


def _check_effect(effect: str) -> str:
    if effect == KILL or (effect.isupper() and isinstance(getattr(errno, effect, None), int)):
        return effect
    raise PlanError(f"effect {effect!r} is neither 'kill' nor an errno name such as EIO")


def to_operation(value: str) -> Operation:
    """``value`` as an :class:`Operation`, or a :class:`PlanError` listing the known ones."""
    try:
        return Operation(value)
    except ValueError:
        known = ", ".join(o.value for o in Operation)
        raise PlanError(f"unknown operation {value!r} (known: {known})") from None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class FaultPlan:
    """Make the ``occurrence``-th ``operation`` matching ``path`` fail with ``effect``."""

    operation: Operation
    occurrence: int = 1
    effect: str = "EIO"
    path: str | None = None  # fnmatch glob on absolute paths; None matches any path

    def __post_init__(self) -> None:
        # Accept the plain string from JSON or the CLI, keep the enum.
        object.__setattr__(self, "operation", to_operation(self.operation))
        if not isinstance(self.occurrence, int) or self.occurrence < 1:
            raise PlanError(f"occurrence must be an integer >= 1, not {self.occurrence!r}")
        _check_effect(self.effect)
        if self.path == "":
            raise PlanError("an empty path glob matches nothing; use None for any path")

    @property
    def is_kill(self) -> bool:
        return self.effect == KILL

    @property
    def errno(self) -> int | None:
        """The errno number the operation fails with, or None for ``kill``."""
        return None if self.is_kill else int(getattr(errno, self.effect))

    def matches(self, operation: Operation | str, paths: Iterable[str]) -> bool:
        """Whether an operation on ``paths`` counts towards this plan's occurrence."""
        if operation != self.operation:
            return False
        if self.path is None:
            return True
        return any(fnmatch.fnmatchcase(p, self.path) for p in paths)

    def format(self) -> str:
        """The one-line form :func:`parse_plan` reads back."""
        text = f"{self.operation.value}#{self.occurrence}:{self.effect}"
        return text if self.path is None else f"{text}@{self.path}"

    def describe(self) -> str:
        """A sentence for reports: what fails, where, and how."""
        where = "" if self.path is None else f" on a path matching {self.path}"
        target = f"the {_ordinal(self.occurrence)} {self.operation.value}{where}"
        if self.is_kill:
            return f"the process is killed (SIGKILL) just before {target}"
        assert self.errno is not None
        return f"{target} fails with {self.effect} ({os.strerror(self.errno)})"

    def __str__(self) -> str:
        return self.format()


def parse_plan(text: str) -> FaultPlan:
    """Read ``operation[#N]:EFFECT[@glob]``, e.g. ``rename#3:EXDEV@*/profiles/*``.

    The glob is everything after the first ``@``, so it may itself contain ``:`` or ``#``.
    """
    head, at, glob = text.strip().partition("@")
    if at and not glob:
        raise PlanError(f"{text!r}: nothing after '@' (leave out '@' to match any path)")
    op_part, colon, effect = head.partition(":")
    if not colon or not effect:
        raise PlanError(f"{text!r}: expected operation[#N]:EFFECT[@glob], e.g. rename#3:EXDEV")
    operation, hash_, number = op_part.partition("#")
    try:
        occurrence = int(number) if hash_ else 1
    except ValueError:
        raise PlanError(f"{text!r}: occurrence {number!r} is not a number") from None
    return FaultPlan(to_operation(operation), occurrence, effect, glob if at else None)
