"""Treats a user with both peek.db and the new DB as already migrated (R5)."""

from __future__ import annotations

from migrator import server
from tests.broken._variant import variant


class _Run(server._UserRun):
    def both(self, tree):
        return self.migrated(tree)


migrate = variant((server, "_UserRun", _Run))
