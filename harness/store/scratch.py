"""Where scratch trees go, and how they are removed.

Scratch trees (a case's copy of a data tree, a crash state written out, a survey's database
copies) go to the RAM disk ``/dev/shm`` when it can hold them: the migrator fsyncs as it
always does, and on a disk shared by parallel workers those fsyncs dominate the time, while
the filesystem under a scratch tree changes nothing that is judged. Otherwise they go to the
system temporary directory (None: what ``tempfile`` takes as "the default"). Inside a
``migration-kit`` command, the RAM disk folder is the command's own, which it removes when it
ends, even when the process that made a tree there was killed (``harness.run.session``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

RAM_DISK = Path("/dev/shm")
# Free space the RAM disk must keep for small trees (each a few MB; a run makes a few at once).
TREES_FREE = 512 << 20
# A ``migration-kit`` command's own folder on the RAM disk (harness.run.session), set for
# everything it starts: trees go there, and go with the command.
SESSION_RAM_SCRATCH_ENV = "MIGRATION_KIT_RAM_SCRATCH"


def ram_scratch(needed: int = TREES_FREE) -> str | None:
    """``/dev/shm`` when it is a writable directory with more than ``needed`` bytes free,
    else None (the system temporary directory)."""
    if not RAM_DISK.is_dir() or not os.access(RAM_DISK, os.W_OK):
        return None
    if shutil.disk_usage(RAM_DISK).free <= needed:
        return None
    session = os.environ.get(SESSION_RAM_SCRATCH_ENV)
    return session if session and os.path.isdir(session) else str(RAM_DISK)


def remove_tree(root: Path) -> None:
    """Delete a tree, read-only folders included (as ``rm -rf`` would).

    Folders are made writable first (never following symlinks), since a tree with the
    ``readonly_dir`` quirk cannot be emptied otherwise when not running as root.
    """
    root = Path(root)
    if root.is_symlink() or root.is_file():
        root.unlink()
        return
    if not root.exists():
        return
    os.chmod(root, 0o755)
    for dirpath, dirnames, _files in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)
    shutil.rmtree(root)
