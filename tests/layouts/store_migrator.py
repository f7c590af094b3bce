"""A small migrator for the ``store`` layout (``store.toml``): ``<user>/peek.db`` to
``<user>/store/main.db``. Written for the layout test, the way a team would write its own:
copy, check, rename, then remove the old; not the reference's crash-proofing."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

PROFILES_DDL = (
    "CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
    "slug TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL, "
    "last_used_at TEXT NOT NULL, UNIQUE(user_id, slug), "
    "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE)"
)


class Failed(Exception):
    pass


def _copy_with_wal(db: Path, folder: str) -> Path:
    """``db`` and its -wal copied into ``folder``: reading the copy changes nothing here."""
    copy = Path(folder) / db.name
    shutil.copyfile(db, copy)
    if os.path.exists(f"{db}-wal"):
        shutil.copyfile(f"{db}-wal", f"{copy}-wal")
    return copy


def _digest(db: Path) -> list:
    """Every row of every table of ``db`` (with its -wal), read from a copy."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(_copy_with_wal(db, tmp))
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity_check failed")
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            if not names:
                raise sqlite3.DatabaseError("no tables")
            return [
                (n, sorted(map(repr, conn.execute(f'SELECT * FROM "{n}"')))) for n in sorted(names)
            ]
        finally:
            conn.close()


def _holds(db: Path, content: list) -> bool:
    try:
        return db.is_file() and _digest(db) == content
    except sqlite3.DatabaseError:
        return False


def _single_file(src: Path, dst: Path) -> None:
    """``src`` (its -wal included) as one file ``dst``: made in the system's temp space
    (SQLite's own journal stays out of DATA_DIR), then copied in, fsynced and renamed."""
    tmp = dst.with_name(dst.name + ".tmp")
    with tempfile.TemporaryDirectory() as scratch:
        copy, whole = Path(scratch) / "c.db", Path(scratch) / "whole.db"
        shutil.copyfile(src, copy)
        if os.path.exists(f"{src}-wal"):
            shutil.copyfile(f"{src}-wal", f"{copy}-wal")
        source = sqlite3.connect(copy)
        try:
            source.execute("VACUUM INTO ?", (str(whole),))  # one file, every row, no WAL
        finally:
            source.close()
        _copy_in(whole, tmp, dst)


def _copy_in(src: Path, tmp: Path, dst: Path) -> None:
    """``src`` to ``dst`` through ``tmp``: written, fsynced, renamed; no ``tmp`` left."""
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.rename(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(dst.parent)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_profile(data_dir: Path, user: str) -> None:
    conn = sqlite3.connect(data_dir / "system.db", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(PROFILES_DDL)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        conn.execute(
            "INSERT OR IGNORE INTO profiles VALUES (?, ?, 'default', 'Default', ?, ?)",
            (str(uuid.uuid4()), user, now, now),
        )
    finally:
        conn.close()


def _users(data_dir: Path) -> set[str]:
    db = data_dir / "system.db"
    if not db.exists():
        return set()
    return {r[0] for r in _read(db, "SELECT id FROM users")}


def _read(db: Path, sql: str) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(_copy_with_wal(db, tmp))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


def _move_images(old: Path, new: Path) -> None:
    if not old.is_dir() or old.is_symlink():
        return
    if not new.is_dir():
        new.mkdir(parents=True)
        _sync_dir(new.parent)  # the folder's name is durable before the old images go
    for entry in sorted(old.iterdir()):
        there = new / entry.name
        if not there.exists() or there.read_bytes() != entry.read_bytes():
            _copy_in(entry, there.with_name(there.name + ".tmp"), there)
    _sync_dir(new)
    shutil.rmtree(old)
    _sync_dir(old.parent)


def _migrate_user(data_dir: Path, user: str, dry_run: bool) -> None:
    root = data_dir / user
    old, store = root / "peek.db", root / "store"
    new, backup = store / "main.db", root / "peek.db.pre-migration-backup"
    if not dry_run:
        for leftover in (*root.glob("*.tmp"), *store.glob("*.tmp"), *store.glob("images/*.tmp")):
            leftover.unlink()  # a copy of an interrupted run; its source still exists
    if not old.is_file():
        if new.is_file() and not dry_run:
            _ensure_profile(data_dir, user)
            _move_images(root / "images", store / "images")
            for side in ("-wal", "-shm", "-journal"):  # left by a run stopped after peek.db
                Path(f"{old}{side}").unlink(missing_ok=True)
        return
    try:
        content = _digest(old)
    except sqlite3.DatabaseError as exc:
        raise Failed(f"{old}: cannot be read ({exc}); left as it is") from exc
    if new.exists():
        try:
            same = _digest(new) == content
        except sqlite3.DatabaseError:
            same = False
        if not same:
            raise Failed(f"{user}: both {old} and {new} exist and differ; left as they are")
    if dry_run:
        print(f"would migrate {user}: {old} -> {new}")
        return
    store.mkdir(exist_ok=True)
    _sync_dir(root)
    if not _holds(backup, content):  # none, another content, or a half-written one
        _single_file(old, backup)
    if not new.exists():
        _single_file(old, new)
    if _digest(new) != content:
        raise Failed(f"{user}: the copy does not verify; {old} kept")
    _ensure_profile(data_dir, user)
    _move_images(root / "images", store / "images")
    old.unlink()
    for side in ("-wal", "-shm", "-journal"):
        Path(f"{old}{side}").unlink(missing_ok=True)
    _sync_dir(root)
    print(f"migrated {user}")


def migrate(data_dir: Path | str, *, dry_run: bool = False) -> None:
    data_dir = Path(data_dir)
    users = _users(data_dir)
    failed = []
    for entry in sorted(data_dir.iterdir()):
        if entry.name.startswith(".") or entry.name == "backups":
            continue
        if entry.is_symlink() or not entry.is_dir():
            continue
        if entry.name not in users:
            if (entry / "peek.db").exists():
                print(f"error: {entry.name} has no users row; left as it is", file=sys.stderr)
                failed.append(entry.name)
            continue
        try:
            _migrate_user(data_dir, entry.name, dry_run)
        except (Failed, OSError) as exc:
            print(f"error: {entry.name}: {exc}", file=sys.stderr)
            failed.append(entry.name)
    if failed:
        raise RuntimeError(f"failed users: {', '.join(failed)}")
