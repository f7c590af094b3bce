"""Under peek-uuid, moves the seed's ``profiles/default/datastore.sqlite`` (with its sidecars)
to ``profiles/<row id>/`` file by file and removes ``default/``, images and all (R4 under
that layout): the datastore is whole, the user's images are gone."""

from __future__ import annotations

import os
import shutil

from migrator import server
from tests.broken._variant import variant


class _DbOnlyRun(server._UserRun):
    def adopt_slug_folder(self) -> None:
        slug, target = self.paths.slug_dir, self.paths.profile_dir
        if not self.by_row_id or slug == target or not slug.is_dir() or os.path.lexists(target):
            return
        self.wrote = True
        self.ensure_profile()
        target.mkdir()
        for name in os.listdir(slug):
            if name.startswith(self.paths.new_db.name):
                os.rename(slug / name, target / name)
        shutil.rmtree(slug)  # images/ went with it


migrate = variant((server, "_UserRun", _DbOnlyRun))
