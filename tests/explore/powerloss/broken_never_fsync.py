"""Never fsyncs anything (files or directories): after a power cut the renamed new DB and
the backup are empty while the unlink of peek.db may be on disk (R17).

SQLite's own fsyncs (of system.db) still happen: they are SQLite's, not the migrator's.
"""

from __future__ import annotations

from migrator import fsops
from tests.broken._variant import variant


def _skip(_: object) -> None:
    """What the broken migrator does instead of an fsync: nothing."""


migrate = variant(
    (fsops.os, "fsync", _skip),  # copy_file and adopt_and_fsync call os.fsync directly
    (fsops, "fsync_dir", _skip),
    (fsops, "fsync_file", _skip),
)
