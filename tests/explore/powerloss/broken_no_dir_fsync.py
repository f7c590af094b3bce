"""Fsyncs every file before renaming it into place, and never a directory. Safe where
metadata is journalled in order (ext4, xfs, btrfs: the unlink of peek.db cannot reach the
disk before the rename of the new DB that came first); on a file system that promises only
what POSIX does, the user's folder may be written back ahead of ``profiles/default``, with
peek.db gone and the new DB's name not on disk (R17: "directories fsynced after renames")."""

from __future__ import annotations

from pathlib import Path

from migrator import fsops
from tests.broken._variant import variant


def fsync_dir(path: Path) -> None:
    """No directory fsync at all: the defect."""


migrate = variant((fsops, "fsync_dir", fsync_dir))
