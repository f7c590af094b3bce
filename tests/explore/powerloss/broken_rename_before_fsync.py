"""Renames a file into place before fsyncing it (the fsync comes right after the rename
and its directory's fsync): a power cut in between leaves an empty file under the final
name, next to the old DB, which the next run cannot finish from (R17)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from migrator import fsops
from tests.broken._variant import variant

_copy_file = fsops.copy_file
_rename = fsops.rename


def copy_file(src: Path, dst: Path, *, durable: bool = True, **options) -> int:
    """The reference's copy, never fsynced here: the fsync waits for the rename."""
    return _copy_file(src, dst, durable=False, **options)


def adopt_and_fsync(path: Path, like: os.stat_result) -> None:
    """The mode is adopted; the fsync waits for the rename."""
    os.chmod(path, stat.S_IMODE(like.st_mode))


def rename(src: Path, dst: Path) -> None:
    """Rename and fsync the new entry's directory at once, and only then fsync the file.

    The directory is fsynced here explicitly, whenever the reference's own rename makes its
    entries durable, so the defect's window (the name on disk, the bytes not) is the same.
    """
    _rename(src, dst)
    fsops.fsync_dir(dst.parent)
    if dst.is_file():
        fsops.fsync_file(dst)


migrate = variant(
    (fsops, "copy_file", copy_file),
    (fsops, "adopt_and_fsync", adopt_and_fsync),
    (fsops, "rename", rename),
)
