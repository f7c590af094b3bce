"""Re-creates the backup of a migrated user on every run, restarting its grace clock (R3)."""

from __future__ import annotations

import os

from migrator import fsops, server
from tests.broken._variant import variant


class _Run(server._UserRun):
    def migrated(self, tree):
        outcome = super().migrated(tree)
        backup = self.paths.backup
        if backup.is_file():
            fsops.unlink_if_exists(self.paths.backup_temp)
            fsops.copy_file(self.paths.new_db, self.paths.backup_temp, like=os.stat(backup))
            fsops.rename(self.paths.backup_temp, backup)
        return outcome


migrate = variant((server, "_UserRun", _Run))
