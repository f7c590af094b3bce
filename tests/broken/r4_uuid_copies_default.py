"""Under peek-uuid, copies the seed's ``profiles/default`` to ``profiles/<row id>`` instead of
renaming it (R4 under that layout): the data is whole, but both folders are left, and the
next app version finds two profiles' worth of files."""

from __future__ import annotations

import os
import shutil

from migrator import server
from tests.broken._variant import variant


class _CopyingRun(server._UserRun):
    def adopt_slug_folder(self) -> None:
        slug, target = self.paths.slug_dir, self.paths.profile_dir
        if not self.by_row_id or slug == target or not slug.is_dir() or os.path.lexists(target):
            return
        self.wrote = True
        self.ensure_profile()
        shutil.copytree(slug, target)  # a copy: default/ stays


migrate = variant((server, "_UserRun", _CopyingRun))
