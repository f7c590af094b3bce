"""Compute a value once for every process of a run, and keep it on disk.

pytest-xdist workers (and the command that starts them) ask for the same expensive thing at
the same moment: a built data tree, a recorded fault-free run, the judgement of a crash
state. The first to ask makes it under a per-entry file lock, into a staging path beside
the entry, and renames it into place (``os.replace``: atomic on one filesystem); the others
wait on the lock and then find it whole. So no process ever sees half an entry, and a
failed attempt leaves nothing behind but its lock file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
        staging = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
        remove_tree(staging)
        try:
            make(staging)
            os.replace(staging, entry)
        finally:
            remove_tree(staging)  # only left when making it failed
    return True
