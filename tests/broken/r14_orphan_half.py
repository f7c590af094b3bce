"""Skips the users-row check: an orphan's DB is placed, then its profile insert fails (R14)."""

from __future__ import annotations

from dataclasses import replace

from migrator import server
from tests.broken._variant import variant


class _Run(server._UserRun):
    def run(self):
        known = self.accounts.users
        self.accounts = replace(self.accounts, users=known | {self.user})  # any folder: a user
        result, accounts = super().run()
        return result, replace(accounts, users=known)


migrate = variant((server, "_UserRun", _Run))
