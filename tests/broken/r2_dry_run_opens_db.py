"""The dry run opens peek.db where it lies, which checkpoints its -wal into it (R2)."""

from __future__ import annotations

import contextlib
import sqlite3

from migrator import server
from tests.broken._variant import variant

_plan_user = server._plan_user


def _count_then_plan(paths, accounts, emit):
    if paths.old_db.is_file():
        conn = sqlite3.connect(paths.old_db)  # in place, not a scratch copy
        with contextlib.suppress(sqlite3.DatabaseError):
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.close()
    return _plan_user(paths, accounts, emit)


migrate = variant((server, "_plan_user", _count_then_plan))
