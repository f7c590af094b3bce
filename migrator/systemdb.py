"""The server's ``system.db``: which users exist, which have their default profile row.

Reads go through a private copy in the system temp dir (``Accounts.read``), so a dry run,
``status`` and a second run that has nothing to do leave ``system.db`` without even a
transient ``-wal``/``-shm`` (SPEC R2, R3). Only ``ensure_default_profile`` opens the file in
place, and only when a row is really missing; it is the server's own database, in WAL mode,
so SQLite's transaction makes that insert atomic and durable.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from migrator import layout, verify
from migrator.layout import UserPaths

# The server's schema (peek-facts.md); created here when the server has not yet done it.
PROFILES_DDL = (
    """CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  UNIQUE(user_id, slug),
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
)""",
    "CREATE INDEX IF NOT EXISTS idx_profiles_user_id ON profiles(user_id)",
)


class SystemDbError(Exception):
    """``system.db`` is missing, unreadable or has no ``users`` table."""


@dataclass(frozen=True)
class Accounts:
    """What ``system.db`` says about users, read once per run under the lock."""

    users: frozenset[str] = frozenset()
    with_default_profile: frozenset[str] = frozenset()
    has_profiles_table: bool = False
    profile_ids: Mapping[str, str] = field(default_factory=dict)  # user -> default row id
    layout_name: str = field(default_factory=layout.layout_from_env)

    def paths(self, data_dir: Path, user_id: str) -> UserPaths:
        """``user_id``'s paths under this run's layout: under peek-uuid the profile folder
        is named after the default row's id (the existing row's, else the one this
        migrator will give it)."""
        if self.layout_name != layout.PEEK_UUID:
            return UserPaths(data_dir, user_id)
        return UserPaths(data_dir, user_id, self.profile_id(user_id))

    def profile_id(self, user_id: str) -> str:
        return self.profile_ids.get(user_id) or layout.new_profile_id(user_id)

    def has_user(self, user_id: str) -> bool:
        return user_id in self.users

    def has_profile(self, user_id: str) -> bool:
        return user_id in self.with_default_profile

    def with_profiles(self, user_ids: Iterable[str]) -> Accounts:
        """These accounts after profile rows for ``user_ids`` were inserted (once per run:
        a copy per user would make a run over n users cost n^2)."""
        added = frozenset(user_ids)
        if not added:
            return self
        return replace(
            self,
            with_default_profile=self.with_default_profile | added,
            has_profiles_table=True,
        )

    @classmethod
    def read(cls, data_dir: Path) -> Accounts:
        """Read users and default-profile rows through a scratch copy of system.db."""
        db = data_dir / layout.SYSTEM_DB
        if not db.is_file():
            raise SystemDbError(f"{db}: no such file")
        with tempfile.TemporaryDirectory(prefix="peek-migration-sysdb-") as tmp:
            try:
                copy = verify.copy_with_sidecars(db, Path(tmp) / layout.SYSTEM_DB)
                verify.seal(copy)
                conn = sqlite3.connect(copy, isolation_level=None)
            except (OSError, verify.UnreadableDb, sqlite3.DatabaseError) as exc:
                raise SystemDbError(f"{db}: cannot be read: {exc}") from exc
            try:
                names = {
                    r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                if "users" not in names:
                    raise SystemDbError(f"{db}: has no users table")
                users = frozenset(str(r[0]) for r in conn.execute("SELECT id FROM users"))
                ids: dict[str, str] = {}
                if "profiles" in names:
                    ids = {
                        str(r[0]): str(r[1])
                        for r in conn.execute(
                            "SELECT user_id, id FROM profiles WHERE slug = ?",
                            (layout.DEFAULT_PROFILE_SLUG,),
                        )
                    }
                return cls(
                    users,
                    frozenset(ids),
                    "profiles" in names,
                    ids,
                    layout.layout_from_env(),
                )
            except sqlite3.DatabaseError as exc:
                raise SystemDbError(f"{db}: cannot be read: {exc}") from exc
            finally:
                conn.close()


def now_iso() -> str:
    """A timestamp in the server's format, e.g. ``2026-01-27T21:12:47.876Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ProfileWriter:
    """Inserts default-profile rows through one ``system.db`` connection per run.

    Opened on the first row actually missing (a run with nothing to insert never opens
    ``system.db`` in place); each row is its own committed transaction, so progress is
    kept per user. Foreign keys are on (as in the server), so a user without a ``users``
    row fails here instead of getting a dangling profile; callers check that earlier.
    After an error the connection is dropped and reopened on the next call.

    Commits are atomic but not each fsynced (``synchronous=NORMAL`` in WAL mode): ``sync``
    makes all of them durable at once, before anything relies on them (the backup
    clean-up) and at the end of the run. A power cut before that can only take back the
    last rows, which leaves users migrated without their row: a state the next run
    completes (R4). No content depends on the row, so one fsync per run is enough, not
    one per user.
    """

    def __init__(self, data_dir: Path) -> None:
        self.db = data_dir / layout.SYSTEM_DB
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> ProfileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Sync (see ``sync``) and close; the connection is closed even if the sync fails."""
        if self._conn is not None:
            try:
                self.sync()
            finally:
                conn, self._conn = self._conn, None
                conn.close()

    def sync(self) -> None:
        """Make every row inserted so far durable.

        With ``synchronous=NORMAL`` SQLite fsyncs the WAL before a checkpoint copies it into
        the database, and the database after; in rollback-journal mode every commit was
        already synced and the checkpoint does nothing.
        """
        if self._conn is not None:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.db, timeout=60, isolation_level=None)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    def ensure(self, user_id: str, profile_id: str | None = None) -> bool:
        """Insert ``(user_id, 'default', 'Default')`` unless present; True when inserted.
        ``profile_id``: the new row's id (default a random UUID, as the server's)."""
        try:
            return _ensure_row(self._connection(), user_id, profile_id)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.close()
            raise


def _ensure_row(conn: sqlite3.Connection, user_id: str, profile_id: str | None = None) -> bool:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for ddl in PROFILES_DDL:
            conn.execute(ddl)
        row = conn.execute(
            "SELECT 1 FROM profiles WHERE user_id = ? AND slug = ?",
            (user_id, layout.DEFAULT_PROFILE_SLUG),
        ).fetchone()
        if row is None:
            stamp = now_iso()
            conn.execute(
                "INSERT INTO profiles (id, user_id, slug, name, created_at, last_used_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    profile_id or str(uuid.uuid4()),
                    user_id,
                    layout.DEFAULT_PROFILE_SLUG,
                    layout.DEFAULT_PROFILE_NAME,
                    stamp,
                    stamp,
                ),
            )
        conn.execute("COMMIT")
        return row is None
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def ensure_default_profile(data_dir: Path, user_id: str) -> bool:
    """One row, one connection (see ``ProfileWriter`` for a whole run)."""
    with ProfileWriter(data_dir) as writer:
        return writer.ensure(user_id)
