"""Compute a value once for every process of a run, and keep it on disk.

pytest-xdist workers (and the command that starts them) ask for the same expensive thing at
the same moment: a built data tree, a recorded fault-free run, the judgement of a crash
state. The first to ask makes it under a per-entry file lock, into a staging path beside
the entry, and renames it into place (``os.replace``: atomic on one filesystem); the others
wait on the lock and then find it whole. So no process ever sees half an entry, and a
failed attempt leaves nothing behind but its lock file: a failure or SIGTERM removes its
staging as it unwinds, and the staging of a process killed outright (SIGKILL, a power cut)
is removed by the next process that makes the entry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock

from harness.store.scratch import remove_tree


def once(entry: Path, make: Callable[[Path], None], *, lock: Path) -> bool:
    """Make ``entry`` (a file or a directory) unless it exists: ``make(staging)`` writes
    it whole at ``staging``, which then becomes ``entry``. ``lock`` is the file lock every
    process making this entry takes.

    True when this call made it, False when it was there already (made by another process,
    or earlier). An entry is only ever complete: its existence is the sign.
    """
    entry = Path(entry)
    if entry.exists():
        return False
    entry.parent.mkdir(parents=True, exist_ok=True)
    Path(lock).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock)):
        if entry.exists():  # another process made it while this one waited
            return False
        _remove_stale(entry)
        staging = entry.with_name(f"{entry.name}{STAGING_MARK}{os.getpid()}")
        remove_tree(staging)
        try:
            with _terminate_unwinds():
                make(staging)
                os.replace(staging, entry)
        finally:
            remove_tree(staging)  # only left when making it failed
    return True


STAGING_MARK = ".tmp-"


def _remove_stale(entry: Path) -> None:
    """Remove the staging of this entry that a killed process left (SIGKILL runs no
    ``finally``): under the entry's lock no live process is making it, so every staging
    path of it is a dead process's, unless its pid is alive (reused, or on another host
    sharing the folder), which is left alone."""
    for stale in entry.parent.glob(f"{entry.name}{STAGING_MARK}*"):
        pid = stale.name.rpartition(STAGING_MARK)[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            remove_tree(stale)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def _terminate_unwinds() -> Iterator[None]:
    """While an entry is made, SIGTERM unwinds the stack (so the staging is removed, a
    multi-GB tree among them) instead of ending the process where it stands. Only where
    nothing else handles SIGTERM (a ``migration-kit`` command has its own handler that
    raises) and in the main thread (the only one that may set handlers). The process
    still ends as SIGTERM ends it: ``SystemExit(143)``. SIGINT raises KeyboardInterrupt
    already."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
