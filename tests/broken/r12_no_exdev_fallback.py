"""Places the new DB by rename only: no copy fallback when profiles/ is elsewhere (R12)."""

from __future__ import annotations

import os

from migrator import fsops, server
from tests.broken._variant import variant


class _Run(server._UserRun):
    def place_new_db(self, staged, old_stat):
        self.wrote = True
        fsops.mkdirs(self.paths.profile_dir, owner_like=os.stat(self.paths.root))
        fsops.adopt_and_fsync(staged.path, old_stat)
        fsops.rename(staged.path, self.paths.new_db)  # EXDEV fails the user


migrate = variant((server, "_UserRun", _Run))
