"""Creates an (empty) backup for a user who has no peek.db (R6)."""

from __future__ import annotations

from migrator import server
from tests.broken._variant import variant


class _Run(server._UserRun):
    def nothing(self, tree):
        outcome = super().nothing(tree)
        self.paths.backup.touch()
        return outcome


migrate = variant((server, "_UserRun", _Run))
