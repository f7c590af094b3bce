"""Where things live in a data dir, before and after the profiles migration.

The reference migrator's reading of ``shared/SPEC.md``'s layout, plus its own scratch
names. The kit's fixtures and oracles do not read it: they use ``harness.contract.layout``,
written from SPEC separately, so that a wrong name here is caught rather than shared.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

SYSTEM_DB = "system.db"
SERVER_BACKUPS_DIR = "backups"
OLD_DB = "peek.db"
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
BACKUP_SUFFIX = ".pre-migration-backup"
NEW_DB = "datastore.sqlite"
DEFAULT_PROFILE_SLUG = "default"
DEFAULT_PROFILE_NAME = "Default"
IMAGES_DIR = "images"
DEFAULT_GRACE_DAYS = 30.0
# The reference migrator's own scratch names. Every one starts with a dot and ends in
# ``.migrating`` so that a person (and the migrator's next run) can tell them apart from data.
WORK_DIR = ".peek-migration.migrating"
TEMP_SUFFIX = ".migrating"
# The environment the server (and the SPEC's external contract) hands a migrator.
DATA_DIR_ENV = "DATA_DIR"
DRY_RUN_ENV = "MIGRATION_DRY_RUN"
GRACE_DAYS_ENV = "MIGRATION_BACKUP_GRACE_DAYS"
# The layout to migrate to (set by migration-kit; unset means the seed's).
LAYOUT_ENV = "MIGRATION_LAYOUT"
PEEK_SLUG = "peek-slug"  # profiles/default/
PEEK_UUID = "peek-uuid"  # profiles/<id of the default profile row>/ (Peek at 398e4a1)
LAYOUTS = (PEEK_SLUG, PEEK_UUID)
# The ids this migrator gives the profile rows it creates under peek-uuid: derived from the
# user id, so that a row lost to a power cut is re-created with the id the folder already has.
PROFILE_ID_NAMESPACE = uuid.UUID("6f1c7a52-3f0e-4c47-9a55-2d7d0b2f6a11")


def layout_from_env(environ: os._Environ | dict | None = None) -> str:
    """``MIGRATION_LAYOUT`` (default peek-slug); ``ValueError`` for a layout not known here."""
    env = os.environ if environ is None else environ
    raw = env.get(LAYOUT_ENV, "").strip()
    if not raw:
        return PEEK_SLUG
    if raw not in LAYOUTS:
        raise ValueError(
            f"{LAYOUT_ENV}={raw!r}: this migrator knows the layouts {', '.join(LAYOUTS)}; "
            "nothing was changed"
        )
    return raw


def new_profile_id(user_id: str) -> str:
    """The id of the default profile row this migrator creates for ``user_id``."""
    return str(uuid.uuid5(PROFILE_ID_NAMESPACE, user_id))


def temp_path(final: Path) -> Path:
    """The scratch name a file is written under before it is renamed to ``final``.

    Same directory as ``final`` so the last step is a rename on one filesystem.
    """
    return final.with_name(final.name + TEMP_SUFFIX)


@dataclass(frozen=True)
class UserPaths:
    """Every path the migration reads or writes for one user.

    Each path is built once (``cached_property``): a run asks for them some 150 times per
    user, and building ``pathlib`` paths was a tenth of a 10,000-user run's CPU time.
    """

    data_dir: Path
    user_id: str
    profile: str = DEFAULT_PROFILE_SLUG  # the profile folder's name: the slug or the row id

    @cached_property
    def root(self) -> Path:
        return self.data_dir / self.user_id

    @cached_property
    def old_db(self) -> Path:
        return self.root / OLD_DB

    def old_sidecars(self) -> tuple[Path, ...]:
        return tuple(self.root / (OLD_DB + s) for s in SIDE_SUFFIXES)

    @cached_property
    def backup(self) -> Path:
        return self.root / (OLD_DB + BACKUP_SUFFIX)

    @cached_property
    def old_images(self) -> Path:
        return self.root / IMAGES_DIR

    @cached_property
    def profiles_dir(self) -> Path:
        return self.root / "profiles"

    @cached_property
    def profile_dir(self) -> Path:
        return self.profiles_dir / self.profile

    @cached_property
    def slug_dir(self) -> Path:
        """``profiles/default``: where the seed's migration put the profile."""
        return self.profiles_dir / DEFAULT_PROFILE_SLUG

    @cached_property
    def new_db(self) -> Path:
        return self.profile_dir / NEW_DB

    def new_sidecars(self) -> tuple[Path, ...]:
        return tuple(self.profile_dir / (NEW_DB + s) for s in SIDE_SUFFIXES)

    @cached_property
    def new_images(self) -> Path:
        return self.profile_dir / IMAGES_DIR

    @cached_property
    def work_dir(self) -> Path:
        return self.root / WORK_DIR

    @cached_property
    def old_db_temp(self) -> Path:
        """The checked copy of a ``peek.db`` that has no sidecars, next to it: such a copy
        needs no work dir (a copy with a ``-wal`` does, so that the names still pair)."""
        return temp_path(self.old_db)

    @cached_property
    def backup_temp(self) -> Path:
        return temp_path(self.backup)

    @cached_property
    def new_db_temp(self) -> Path:
        return temp_path(self.new_db)


def is_candidate_user_dir(entry: Path) -> bool:
    """True for an entry of DATA_DIR that may be a user's folder (SPEC R13).

    Symlinks are never followed, dot entries and the server's ``backups/`` are not users,
    and regular files are not folders.
    """
    name = entry.name
    if name.startswith(".") or name == SERVER_BACKUPS_DIR:
        return False
    return entry.is_dir() and not entry.is_symlink()
