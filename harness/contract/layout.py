"""Where a user's data lives in a data dir, before and after the migration (SPEC's layout).

Written from ``shared/SPEC.md`` and ``peek-facts.md``, not from the reference migrator: the
fixtures build trees from these names and the oracles judge trees by them, so a migrator that
got a name wrong is caught instead of agreed with. Only what SPEC states is here; a
migrator's own scratch names are its business, not the contract's.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from harness.contract.errors import KitError

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
# The kit's addition to that contract: the layout in force, a built-in name or the absolute
# path of a layout file. Set for every migrator (and every process of the kit, which
# reads it through :func:`active`); a migrator that knows one layout may ignore it.
LAYOUT_ENV = "MIGRATION_LAYOUT"


# ``profile`` of a layout whose profile folder is named after the id of the profile row the
# migration creates (Peek's ``migrateProfileFoldersToUuid`` at 398e4a1), not a fixed slug.
ROW_ID = "{row-id}"
# The name a row-id profile folder gets in a tree whose system.db has no such row: a name
# no migrator makes, so that nothing is found there.
NO_ROW = ".no-profile-row"
PEEK_SLUG = "peek-slug"
PEEK_UUID = "peek-uuid"
# The keys of a layout file and the field each fills (``name`` defaults to the file's stem).
_FILE_KEYS = {
    "name": "name",
    "old-db": "old_db",
    "old-images": "old_images",
    "new-db": "new_db",
    "new-images": "new_images",
    "backup": "backup",
    "profile": "profile",
    "profile-slug": "profile_slug",
    "profile-name": "profile_name",
    "grace-days": "grace_days",
}
_TEMPLATES = ("old_db", "old_images", "new_db", "new_images", "backup")


class LayoutError(KitError):
    """A layout the kit cannot use: an unknown name or a bad layout file (one line)."""


@dataclass(frozen=True)
class MigrationLayout:
    """Where a user's data is before and after the migration under test, declaratively.

    Path templates are relative to DATA_DIR, start with ``{user}/`` (a user's data stays in
    the user's folder) and may use ``{profile}`` in the new places: the fixed slug
    ``profile``, or with ``profile = ROW_ID`` the id of the ``profiles`` row (``user_id``,
    ``profile_slug``) the migration leaves in system.db. The oracles, the fixtures and the
    deploy commands read every place through one of these, so a second migration (a folder
    renamed after a row id, a store of one's own) is judged by the same rules.
    """

    name: str
    old_db: str = f"{{user}}/{OLD_DB}"
    old_images: str = f"{{user}}/{IMAGES_DIR}"
    new_db: str = f"{{user}}/{PROFILES_DIR}/{{profile}}/{NEW_DB}"
    new_images: str = f"{{user}}/{PROFILES_DIR}/{{profile}}/{IMAGES_DIR}"
    backup: str = f"{{user}}/{OLD_DB}{BACKUP_SUFFIX}"
    profile: str = DEFAULT_PROFILE_SLUG
    profile_slug: str = DEFAULT_PROFILE_SLUG
    profile_name: str = DEFAULT_PROFILE_NAME
    grace_days: float = DEFAULT_GRACE_DAYS
    source: str = field(default="built-in", compare=False)  # the file it was read from

    @property
    def by_row_id(self) -> bool:
        """True when the profile folder is named after the profile row's id."""
        return self.profile == ROW_ID

    @property
    def file_names(self) -> frozenset[str]:
        """The file names of the layout's databases (how a snapshot tells a DB by name)."""
        return frozenset(t.rsplit("/", 1)[-1] for t in (self.old_db, self.new_db, self.backup))

    def in_user_folder(self, template: str) -> str:
        """A place as a person reads it inside a user's folder: ``profiles/default/images``
        under the default, ``profiles/<profile id>/images`` under peek-uuid."""
        profile = "<profile id>" if self.by_row_id else self.profile
        return template.removeprefix("{user}/").replace("{profile}", profile)

    def describe(self) -> str:
        """One line for a report's header: the name and where the new DB goes."""
        where = self.new_db.replace("{profile}", "<profile id>" if self.by_row_id else "{profile}")
        where = where.replace("{profile}", self.profile)
        return f"{self.name} ({self.old_db} -> {where})"

    def check(self) -> MigrationLayout:
        """This layout, or :class:`LayoutError` naming what is wrong with it."""
        for name in _TEMPLATES:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith("{user}/"):
                raise LayoutError(
                    f"layout {self.name}: {name} = {value!r} must start with {{user}}/"
                )
            rest = value.replace("{user}", "").replace("{profile}", "")
            if "{" in rest or "}" in rest or ".." in value.split("/"):
                raise LayoutError(
                    f"layout {self.name}: {name} = {value!r}: only {{user}} and {{profile}} may "
                    "be used, and no '..'"
                )
            if "{profile}" in value and name not in ("new_db", "new_images"):
                raise LayoutError(f"layout {self.name}: {name} may not use {{profile}}")
        old = {self.old_db, self.backup, self.new_db}
        if len(old) != 3:
            raise LayoutError(f"layout {self.name}: old DB, new DB and backup must differ")
        if not self.profile or "/" in self.profile or self.profile.startswith("."):
            raise LayoutError(
                f"layout {self.name}: profile = {self.profile!r}: a folder name (a slug) or "
                f"{ROW_ID!r}"
            )
        if not isinstance(self.grace_days, int | float) or not self.grace_days >= 0:
            raise LayoutError(f"layout {self.name}: grace-days must be a number of days >= 0")
        return self


BUILT_IN: dict[str, MigrationLayout] = {
    # The seed's migration: profiles/default/ (SPEC's layout, and the default).
    PEEK_SLUG: MigrationLayout(PEEK_SLUG),
    # Peek at 398e4a1: profiles/<id of the user's default profile row>/.
    PEEK_UUID: MigrationLayout(PEEK_UUID, profile=ROW_ID),
}
DEFAULT_LAYOUT = PEEK_SLUG


def load(name_or_file: str, *, base: Path | None = None) -> MigrationLayout:
    """The built-in layout ``name_or_file`` names, else the layout file at that path
    (relative to ``base``, default the current directory); :class:`LayoutError` if neither."""
    text = name_or_file.strip()
    if text in BUILT_IN:
        return BUILT_IN[text]
    path = (base or Path.cwd()) / Path(text).expanduser()
    if not path.is_file():
        known = ", ".join(BUILT_IN)
        raise LayoutError(f"layout {text!r}: neither a built-in layout ({known}) nor a layout file")
    return _read_file(path.absolute())


def _read_file(path: Path) -> MigrationLayout:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LayoutError(f"{path}: not a readable TOML layout file: {exc}") from None
    table = data.get("layout", data)
    if not isinstance(table, dict):
        raise LayoutError(f"{path}: [layout] must be a table")
    unknown = sorted(set(table) - set(_FILE_KEYS))
    if unknown:
        raise LayoutError(
            f"{path}: unknown key {unknown[0]!r}; a layout file has {', '.join(_FILE_KEYS)}"
        )
    values: dict[str, object] = {"name": path.stem, "source": str(path)}
    for key, value in table.items():
        if key == "grace-days":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise LayoutError(f"{path}: grace-days = {value!r}: expected a number of days")
            values["grace_days"] = float(value)
        elif not isinstance(value, str):
            raise LayoutError(f"{path}: {key} = {value!r}: expected a string")
        else:
            values[_FILE_KEYS[key]] = value
    try:
        return MigrationLayout(**values).check()  # type: ignore[arg-type]
    except LayoutError as exc:
        raise LayoutError(f"{path}: {exc}") from None


def env_value(layout: MigrationLayout) -> str:
    """What :data:`LAYOUT_ENV` holds for ``layout``: its name, or its file's path."""
    return layout.name if layout.source == "built-in" else layout.source


@lru_cache(maxsize=8)
def _cached(value: str) -> MigrationLayout:
    return load(value)


def active() -> MigrationLayout:
    """The layout in force in this process: :data:`LAYOUT_ENV`, else ``peek-slug``.

    The environment carries it, as it carries the timeout: a ``migration-kit`` command sets
    it once, and its child pytests, their workers and the migrators inherit it.
    """
    value = os.environ.get(LAYOUT_ENV, "").strip()
    return _cached(value) if value else BUILT_IN[DEFAULT_LAYOUT]


def replay_value() -> str | None:
    """What a replay command names as its layout (``--layout``), None under the default:
    a replay judged by another layout would report what the run did not."""
    chosen = active()
    return None if chosen.name == DEFAULT_LAYOUT else env_value(chosen)


def header_line() -> str:
    """``layout: ...`` for a report's header when the layout in force is not the default
    ("" under the default, so a default report reads as it always did)."""
    chosen = active()
    return "" if chosen.name == DEFAULT_LAYOUT else f"layout: {chosen.describe()}"


def _fill(template: str, user: str, profile: str) -> str:
    return template.replace("{user}", user).replace("{profile}", profile)


@dataclass(frozen=True)
class UserPaths:
    """The places the layout in force names for one user: old DB, new DB, backup, images.

    ``profile_id`` is the id of the user's profile row, for a layout whose folder is named
    after it (the reader of the tree knows it: the snapshot, the fixtures, the deploy
    commands read system.db); without it such a folder is :data:`NO_ROW`. Paths are built
    once each (``cached_property``): the judge asks for them for every user of every
    snapshot.
    """

    data_dir: Path
    user_id: str
    profile_id: str | None = None
    layout: MigrationLayout = field(default_factory=active)

    @cached_property
    def profile(self) -> str:
        """What ``{profile}`` stands for: the slug, or the row's id."""
        if self.layout.by_row_id:
            return self.profile_id or NO_ROW
        return self.layout.profile

    def _place(self, template: str) -> Path:
        return self.data_dir / _fill(template, self.user_id, self.profile)

    @cached_property
    def root(self) -> Path:
        return self.data_dir / self.user_id

    @cached_property
    def old_db(self) -> Path:
        return self._place(self.layout.old_db)

    def old_sidecars(self) -> tuple[Path, ...]:
        db = self.old_db
        return tuple(db.with_name(db.name + suffix) for suffix in SIDE_SUFFIXES)

    @cached_property
    def backup(self) -> Path:
        return self._place(self.layout.backup)

    @cached_property
    def old_images(self) -> Path:
        return self._place(self.layout.old_images)

    @cached_property
    def profile_dir(self) -> Path:
        return self.new_db.parent

    @cached_property
    def profiles_dir(self) -> Path:
        return self.profile_dir.parent

    @cached_property
    def new_db(self) -> Path:
        return self._place(self.layout.new_db)

    def new_sidecars(self) -> tuple[Path, ...]:
        db = self.new_db
        return tuple(db.with_name(db.name + suffix) for suffix in SIDE_SUFFIXES)

    @cached_property
    def new_images(self) -> Path:
        return self._place(self.layout.new_images)


def is_user_dir(entry: Path) -> bool:
    """True for an entry of DATA_DIR that may hold a user's data (SPEC R13).

    A symlink is never followed, dot entries and the server's ``backups/`` are not users, and
    a regular file is not a folder.
    """
    name = entry.name
    if name.startswith(".") or name == SERVER_BACKUPS_DIR:
        return False
    return entry.is_dir() and not entry.is_symlink()
