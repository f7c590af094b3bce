"""Skips the profile row for users found already migrated (R4)."""

from __future__ import annotations

from migrator import server
from tests.broken._variant import variant


class _Run(server._UserRun):
    def migrated(self, tree):
        self.ensure_profile = lambda: None  # this user's run only: the step is skipped
        return super().migrated(tree)


migrate = variant((server, "_UserRun", _Run))
