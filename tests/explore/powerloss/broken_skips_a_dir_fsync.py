"""Fsyncs every directory but ``profiles/default``: the new DB's name is never made durable,
while the unlink of peek.db in the user's folder is; a power cut after that loses the
user (R17: "directories fsynced after renames")."""

from __future__ import annotations

from pathlib import Path

from migrator import fsops
from tests.broken._variant import variant

_fsync_dir = fsops.fsync_dir


def fsync_dir(path: Path) -> None:
    """The reference's directory fsync, except for the one the new DB is renamed into."""
    if Path(path).parts[-2:] != ("profiles", "default"):
        _fsync_dir(path)


migrate = variant((fsops, "fsync_dir", fsync_dir))
