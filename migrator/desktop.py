"""The desktop (Electron) profiles migration: metadata only, never a byte of data moved.

On the desktop, profile data already lives where profiles expect it
(``{userData}/{slug}/datastore.sqlite``); what is missing after an update is the list of
profiles in ``{userData}/profiles.db``. So the migration only *adds*: a ``profiles`` row for
each existing known profile folder (``default`` -> 'Default', the default profile;
``dev`` -> 'Development') that has none, and the ``active_profile`` row (id 1) when there is
none. Nothing is moved, renamed, rewritten or deleted, and a second run finds every row
present and does not even open ``profiles.db`` for writing (SPEC: "running it again adds
nothing"; the seed: "Desktop migration: safe, non-destructive"). A future mobile migration
is held to the same rules by ``scenarios/test_desktop.py``.

``profiles.db`` is the app's live database (WAL mode). It is read through a copy in the
system temp dir (``verify.copy_with_sidecars``), so a run with nothing to add leaves every
file as it was, mtimes included; rows are inserted in one ``BEGIN IMMEDIATE`` transaction
that re-checks what it read, so a desktop app writing at the same time loses nothing.

Standard library only, like the rest of ``migrator``: nothing here imports the harness.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migrator import verify

PROFILES_DB = "profiles.db"
DATASTORE = "datastore.sqlite"
# The folders the desktop migration knows: (slug, name, is_default), in creation order.
KNOWN_PROFILES = (("default", "Default", 1), ("dev", "Development", 0))
ACTIVE_ID = 1

# The desktop app's schema (peek-facts.md, "Desktop"); created only when absent.
PROFILES_DDL = (
    """CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  slug TEXT NOT NULL UNIQUE,
  sync_enabled INTEGER DEFAULT 0,
  api_key TEXT,
  server_profile_slug TEXT,
  last_sync_at INTEGER,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  is_default INTEGER DEFAULT 0
)""",
    """CREATE TABLE IF NOT EXISTS active_profile (
  id INTEGER PRIMARY KEY,
  profile_slug TEXT NOT NULL
)""",
)


class DesktopError(Exception):
    """The userData dir cannot be migrated as it is; the message names it and the fix.

    ``bad_input`` is True when the path itself is wrong (not a folder, unreadable), False
    when ``profiles.db`` needs a person (damaged, a name already taken).
    """

    def __init__(self, message: str, *, bad_input: bool) -> None:
        super().__init__(message)
        self.bad_input = bad_input


@dataclass(frozen=True)
class Profiles:
    """What ``profiles.db`` holds, as far as this migration cares."""

    exists: bool
    slugs: frozenset[str] = frozenset()
    names: dict[str, str] | None = None  # name -> slug
    has_default: bool = False  # some row has is_default = 1
    active: str | None = None  # active_profile.profile_slug of row 1


@dataclass(frozen=True)
class DesktopResult:
    """What a run did (or, in a dry run, would do)."""

    user_data: Path
    dry_run: bool
    added: tuple[str, ...]  # slugs given a profiles row
    present: tuple[str, ...]  # slugs that already had one
    active_set: str | None  # slug written to active_profile, None when it was there
    created_db: bool

    @property
    def changed(self) -> bool:
        return bool(self.added or self.active_set or self.created_db)


Log = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


def existing_folders(user_data: Path) -> tuple[str, ...]:
    """The known profile folders present in ``user_data`` (real folders, not files)."""
    return tuple(slug for slug, _, _ in KNOWN_PROFILES if (user_data / slug).is_dir())


def check_user_data(user_data: Path) -> None:
    if not os.path.lexists(user_data):
        raise DesktopError(
            f"{user_data}: no such directory; pass the app's userData folder", bad_input=True
        )
    if not user_data.is_dir():
        raise DesktopError(
            f"{user_data}: not a directory; pass the app's userData folder", bad_input=True
        )
    if not os.access(user_data, os.R_OK | os.X_OK):
        raise DesktopError(
            f"{user_data}: cannot read this directory (permission denied); run as the "
            "desktop user or fix its permissions",
            bad_input=True,
        )


def read_profiles(db: Path) -> Profiles:
    """Read ``profiles.db`` (and its ``-wal``) through a copy; the original is not opened."""
    if not db.exists():
        return Profiles(exists=False)
    with tempfile.TemporaryDirectory(prefix="peek-desktop-") as tmp:
        try:
            copy = verify.copy_with_sidecars(db, Path(tmp) / PROFILES_DB)
            verify.seal(copy)
            conn = sqlite3.connect(copy, isolation_level=None)
        except OSError as exc:
            raise DesktopError(
                f"{db}: cannot be read ({exc.strerror}); run as the desktop user or fix its "
                "permissions",
                bad_input=True,
            ) from exc
        except (verify.UnreadableDb, sqlite3.DatabaseError) as exc:
            raise _damaged(db, exc) from exc
        try:
            return _read(conn)
        except sqlite3.DatabaseError as exc:
            raise _damaged(db, exc) from exc
        finally:
            conn.close()


def _damaged(db: Path, exc: BaseException) -> DesktopError:
    return DesktopError(
        f"{db} is damaged or not a database ({exc}); nothing was changed. Quit the app, "
        "move profiles.db aside (the app recreates it), then re-run",
        bad_input=False,
    )


def _read(conn: sqlite3.Connection) -> Profiles:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    names: dict[str, str] = {}
    has_default = False
    active = None
    if "profiles" in tables:
        for slug, name, is_default in conn.execute("SELECT slug, name, is_default FROM profiles"):
            names[name] = slug
            has_default = has_default or bool(is_default)
    if "active_profile" in tables:
        row = conn.execute(
            "SELECT profile_slug FROM active_profile WHERE id = ?", (ACTIVE_ID,)
        ).fetchone()
        active = row[0] if row else None
    return Profiles(True, frozenset(names.values()), names, has_default, active)


def _to_add(folders: tuple[str, ...], found: Profiles) -> list[tuple[str, str, int]]:
    """The known profiles to insert, or ``DesktopError`` when a name belongs to another slug."""
    out = []
    for slug, name, is_default in KNOWN_PROFILES:
        if slug not in folders or slug in found.slugs:
            continue
        owner = (found.names or {}).get(name)
        if owner is not None:
            raise DesktopError(
                f"profiles.db: the name {name!r} is already used by profile {owner!r}, so "
                f"the {slug!r} folder cannot get its row; nothing was changed. Rename that "
                "profile in the app, then re-run",
                bad_input=False,
            )
        # One default profile: an existing default (chosen in the app) is left as it is.
        out.append((slug, name, int(is_default and not found.has_default)))
    return out


def migrate_desktop(
    user_data: Path | str, *, dry_run: bool = False, log: Log | None = None
) -> DesktopResult:
    """Add the missing ``profiles.db`` rows for ``user_data``; raise ``DesktopError``."""
    emit = log or _print
    user_data = Path(user_data).absolute()
    check_user_data(user_data)
    folders = existing_folders(user_data)
    db = user_data / PROFILES_DB
    found = read_profiles(db)
    adding = _to_add(folders, found)
    slugs = found.slugs | {slug for slug, _, _ in adding}
    active = None
    if found.active is None and slugs:
        active = "default" if "default" in slugs else sorted(slugs)[0]
    create = not found.exists and bool(adding or active)
    prefix = "[DRY RUN] would " if dry_run else ""
    for slug in sorted(found.slugs & set(folders)):
        emit(f"{slug}: profile row already present")
    if not adding and not active:
        emit(f"{user_data}: nothing to add ({len(folders)} profile folder(s), all listed)")
    else:
        for slug, name, is_default in adding:
            default = " (default)" if is_default else ""
            emit(f"{slug}: {prefix}add profile row {name!r}{default}")
        if active:
            emit(f"{prefix}set the active profile to {active!r}")
        if not dry_run:
            _write(db, adding, active, create=create)
    return DesktopResult(
        user_data,
        dry_run,
        tuple(slug for slug, _, _ in adding),
        tuple(sorted(found.slugs & set(folders))),
        active,
        create,
    )


def _write(
    db: Path, adding: list[tuple[str, str, int]], active: str | None, *, create: bool
) -> None:
    """Insert the rows in one transaction; rows that appeared meanwhile are left alone.

    A new ``profiles.db`` is made in WAL mode, as the app makes it; an existing one keeps
    its journal mode (switching it would rewrite its header).
    """
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        if create:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for ddl in PROFILES_DDL:
                conn.execute(ddl)
            now = int(time.time() * 1000)
            for slug, name, is_default in adding:
                conn.execute(
                    "INSERT INTO profiles (id, name, slug, sync_enabled, created_at, "
                    "last_used_at, is_default) SELECT ?, ?, ?, 0, ?, ?, ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM profiles WHERE slug = ? OR name = ?)",
                    (str(uuid.uuid4()), name, slug, now, now, is_default, slug, name),
                )
            if active is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO active_profile (id, profile_slug) VALUES (?, ?)",
                    (ACTIVE_ID, active),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError as exc:
        raise _damaged(db, exc) from exc
    finally:
        conn.close()
