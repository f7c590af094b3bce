"""Writes the backup in place, trusts one already there: a kill mid-copy leaves it partial (R10)."""

from __future__ import annotations

from migrator import fsops, server
from tests.broken._variant import variant


class _Run(server._UserRun):
    def ensure_backup(self, staged, old_stat, exists):
        if exists:  # the seed's existsSync: whatever is there is taken as the backup
            self.step("backup", "kept the existing backup")
            return
        self.wrote = True
        fsops.copy_file(staged.path, self.paths.backup, like=old_stat)
        self.step("backup", "created")


migrate = variant((server, "_UserRun", _Run))
