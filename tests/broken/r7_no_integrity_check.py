"""Stages peek.db without PRAGMA integrity_check, so a damaged DB that opens is migrated (R7)."""

from __future__ import annotations

from migrator import server, verify
from tests.broken._variant import patched, variant


class _Run(server._UserRun):
    def stage(self, db, *, corrupt_kind):
        with patched((verify, "_integrity", lambda conn: None)):
            return super().stage(db, corrupt_kind=corrupt_kind)


migrate = variant((server, "_UserRun", _Run))
