"""Where a user stands, read from the tree alone (no database is opened here).

The migrator keeps no journal of its own: the tree *is* the record of progress, so any
state a crash or an error leaves behind is recognised by the next run and carried forward
(SPEC R9, R10). Which files exist decides the ``Kind``; whether two databases agree or one
is damaged needs their content and is decided by the caller (``server``, ``inspect``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from migrator import layout
from migrator.layout import UserPaths

WAL_HEADER_BYTES = 32  # a -wal no longer than its header holds no frames, so no rows


class Kind(StrEnum):
    LEGACY = "legacy"  # old peek.db, no new DB: to migrate
    MIGRATED = "migrated"  # new DB, no old DB: done (maybe a few loose ends)
    BOTH = "both"  # old and new DB: an interrupted migration, or a conflict
    NOTHING = "nothing"  # neither DB


@dataclass(frozen=True)
class UserTree:
    """The files of one user that the migration cares about, as found on disk."""

    paths: UserPaths
    old_db: bool
    old_sidecars: tuple[Path, ...]  # existing peek.db-wal / -shm / -journal
    new_db: bool
    old_images: bool
    new_images: bool
    backup: bool
    leftovers: tuple[Path, ...]  # the migrator's own scratch names from an interrupted run

    @property
    def kind(self) -> Kind:
        if self.old_db and self.new_db:
            return Kind.BOTH
        if self.old_db:
            return Kind.LEGACY
        if self.new_db:
            return Kind.MIGRATED
        return Kind.NOTHING

    @property
    def stray_wal(self) -> Path | None:
        """A ``peek.db-wal`` with data but no ``peek.db``: possibly rows nowhere else."""
        if self.old_db:
            return None
        wal = self.paths.root / (layout.OLD_DB + "-wal")
        if wal in self.old_sidecars and wal.stat().st_size > WAL_HEADER_BYTES:
            return wal
        return None

    def fully_migrated(self, has_profile: bool) -> bool:
        """Nothing of the old layout left: the only state whose backup may expire (R11)."""
        return (
            self.kind is Kind.MIGRATED
            and has_profile
            and not self.old_sidecars
            and not self.old_images
            and not self.leftovers
        )


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def scratch_names(paths: UserPaths) -> tuple[Path, ...]:
    """Existing scratch names of this migrator (``layout.WORK_DIR``, ``*.migrating``).

    They are never the only copy of anything: each is a copy whose source still exists
    until the step after it completes, so removing them is always safe.
    """
    scratch = (paths.work_dir, paths.old_db_temp, paths.backup_temp, paths.new_db_temp)
    found = [p for p in scratch if os.path.lexists(p)]
    if paths.new_images.is_dir() and not paths.new_images.is_symlink():
        for entry in os.scandir(paths.new_images):
            if entry.name.endswith(layout.TEMP_SUFFIX):
                found.append(Path(entry.path))
    return tuple(sorted(found))


def scan(paths: UserPaths) -> UserTree:
    """Look at one user's folder (stat calls only; nothing opened for writing)."""
    return UserTree(
        paths=paths,
        old_db=_is_file(paths.old_db),
        old_sidecars=tuple(p for p in paths.old_sidecars() if os.path.lexists(p)),
        new_db=_is_file(paths.new_db),
        old_images=paths.old_images.is_dir() and not paths.old_images.is_symlink(),
        new_images=paths.new_images.is_dir() and not paths.new_images.is_symlink(),
        backup=_is_file(paths.backup),
        leftovers=scratch_names(paths),
    )


def user_dirs(data_dir: Path) -> list[Path]:
    """The folders of ``data_dir`` that may be users, sorted (SPEC R13)."""
    with os.scandir(data_dir) as it:
        entries = [Path(e.path) for e in it]
    return sorted(p for p in entries if layout.is_candidate_user_dir(p))
