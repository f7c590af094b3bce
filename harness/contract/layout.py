"""Where a user's data lives in a data dir, before and after the migration (SPEC's layout).

Written from ``shared/SPEC.md`` and ``peek-facts.md``, not from the reference migrator: the
fixtures build trees from these names and the oracles judge trees by them, so a migrator that
got a name wrong is caught instead of agreed with. Only what SPEC states is here; a
migrator's own scratch names are its business, not the contract's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

SYSTEM_DB = "system.db"
# The server's own periodic backups (``backups/<user>/<timestamp>.zip``): never a user.
SERVER_BACKUPS_DIR = "backups"
OLD_DB = "peek.db"
# SQLite's sidecar files: a WAL database's rows may sit in ``-wal``.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
BACKUP_SUFFIX = ".pre-migration-backup"
PROFILES_DIR = "profiles"
NEW_DB = "datastore.sqlite"
DEFAULT_PROFILE_SLUG = "default"
DEFAULT_PROFILE_NAME = "Default"
IMAGES_DIR = "images"
DEFAULT_GRACE_DAYS = 30.0

# SPEC's external contract: the environment a migrator is handed.
DATA_DIR_ENV = "DATA_DIR"
DRY_RUN_ENV = "MIGRATION_DRY_RUN"
GRACE_DAYS_ENV = "MIGRATION_BACKUP_GRACE_DAYS"


@dataclass(frozen=True)
class UserPaths:
    """The places SPEC names for one user: the old datastore, the new one, the backup.

    Paths are built once each (``cached_property``): the judge asks for them for every user
    of every snapshot.
    """

    data_dir: Path
    user_id: str

    @cached_property
    def root(self) -> Path:
        return self.data_dir / self.user_id

    @cached_property
    def old_db(self) -> Path:
        return self.root / OLD_DB

    def old_sidecars(self) -> tuple[Path, ...]:
        return tuple(self.root / (OLD_DB + suffix) for suffix in SIDE_SUFFIXES)

    @cached_property
    def backup(self) -> Path:
        return self.root / (OLD_DB + BACKUP_SUFFIX)

    @cached_property
    def old_images(self) -> Path:
        return self.root / IMAGES_DIR

    @cached_property
    def profiles_dir(self) -> Path:
        return self.root / PROFILES_DIR

    @cached_property
    def profile_dir(self) -> Path:
        return self.profiles_dir / DEFAULT_PROFILE_SLUG

    @cached_property
    def new_db(self) -> Path:
        return self.profile_dir / NEW_DB

    def new_sidecars(self) -> tuple[Path, ...]:
        return tuple(self.profile_dir / (NEW_DB + suffix) for suffix in SIDE_SUFFIXES)

    @cached_property
    def new_images(self) -> Path:
        return self.profile_dir / IMAGES_DIR


def is_user_dir(entry: Path) -> bool:
    """True for an entry of DATA_DIR that may hold a user's data (SPEC R13).

    A symlink is never followed, dot entries and the server's ``backups/`` are not users, and
    a regular file is not a folder.
    """
    name = entry.name
    if name.startswith(".") or name == SERVER_BACKUPS_DIR:
        return False
    return entry.is_dir() and not entry.is_symlink()
