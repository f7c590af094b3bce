"""Rewrites the new DB after placing it (a "compaction": a copy renamed over it) without
fsyncing the copy, relying on ext4's ``auto_da_alloc``: a rename over an existing file
makes ext4 write the new file's data before the rename commits. So it is safe on ext4 with
``data=ordered`` and its defaults, and loses the DB on xfs, btrfs or anything that promises
only POSIX: there the rename reaches the disk and the copy's bytes do not (R17)."""

from __future__ import annotations

import os
from pathlib import Path

from migrator import fsops, layout
from tests.broken._variant import variant

_rename = fsops.rename


def rename(src: Path, dst: Path) -> None:
    """The reference's rename; a new DB is then replaced by an unsynced copy of itself."""
    _rename(src, dst)
    if dst.name != "datastore.sqlite":
        return
    work = dst.parents[2] / layout.WORK_DIR  # the user's scratch: a re-run clears it
    tmp = work / "datastore.compact" if work.is_dir() else dst.with_name("compact.tmp")
    fsops.copy_file(dst, tmp, like=os.stat(dst), durable=False)  # no fsync: the defect
    os.replace(tmp, dst)
    fsops.fsync_dir(dst.parent)


migrate = variant((fsops, "rename", rename))
