"""One migration per data dir at a time (SPEC R15).

The lock is ``flock`` on a read-only descriptor of DATA_DIR itself, not a lock file: a dry
run must create nothing (R2), and a lock file left by a killed process would need cleaning.
The kernel drops an flock when its holder dies, so a crash never leaves the tree locked.
A second process *waits* rather than failing: when it gets the lock it re-reads the tree,
finds every user done and changes nothing, which is what two servers starting at once need.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def holding(
    data_dir: Path, *, exclusive: bool = True, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the data dir's lock (shared for read-only runs) for the duration."""
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def is_locked(data_dir: Path) -> bool:
    """True when a migration holds the data dir right now (for ``status``)."""
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
    finally:
        os.close(fd)
