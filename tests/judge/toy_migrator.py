"""A small migrator that follows SPEC, and defects to switch on, for testing the oracles.

The oracles are tested against this rather than the reference migrator so that a bug in
one cannot hide a bug in the other, and so that each defect is one visible flag. It is not
crash-safe (no fsync, no resume), which the rules checked here do not need.
"""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import time
import uuid
from pathlib import Path

from harness.contract.content import UnreadableDatabase, content_of, open_copy
from migrator import layout

DEFECTS = frozenset(
    {
        "wal_lost",  # copy peek.db's bytes without its -wal (the field's failure)
        "no_profile",  # skip the profiles row
        "dry_run_touches",  # a dry run that creates an empty new DB (the field's trap)
        "no_cleanup",  # never delete an aged backup
        "cleanup_all",  # delete every aged backup, migrated or not
        "fresh_backup",  # re-create a migrated user's backup (restarts its grace clock)
    }
)


def migrate(
    data_dir: Path,
    *,
    dry_run: bool = False,
    grace_days: float | None = None,
    defects: frozenset[str] = frozenset(),
) -> None:
    """Migrate every user; raise naming the users that failed."""
    assert defects <= DEFECTS, defects - DEFECTS
    grace = layout.DEFAULT_GRACE_DAYS if grace_days is None else grace_days
    data_dir = Path(data_dir)
    with open_copy(data_dir / layout.SYSTEM_DB) as conn:
        users = {r[0] for r in conn.execute("SELECT id FROM users")}
    failed = []
    for entry in sorted(data_dir.iterdir()):
        if not layout.is_candidate_user_dir(entry):
            continue
        paths = layout.UserPaths(data_dir, entry.name)
        try:
            _migrate_user(paths, entry.name in users, dry_run, defects)
            if not dry_run:
                _clean_backup(paths, grace, defects)
        except UserFailed as exc:
            print(f"ERROR {entry.name}: {exc}")
            failed.append(entry.name)
    if failed:
        raise RuntimeError(f"migration failed for {', '.join(failed)}")


class UserFailed(Exception):
    pass


def _content(db: Path):
    try:
        with open_copy(db) as conn:
            content = content_of(conn)
    except UnreadableDatabase as exc:
        raise UserFailed(str(exc)) from exc
    if content.integrity != "ok" or not content.tables:
        raise UserFailed(f"{db.name} is damaged: {content.integrity}")
    return content


def _migrate_user(paths: layout.UserPaths, registered: bool, dry_run: bool, defects) -> None:
    old_exists, new_exists = paths.old_db.exists(), paths.new_db.exists()
    if not old_exists:
        if new_exists and not dry_run and registered and "no_profile" not in defects:
            _ensure_profile(paths)
        if new_exists and not dry_run and "fresh_backup" in defects:
            _copy_db(paths.new_db, paths.backup)
        return
    if not registered:
        raise UserFailed("no users row; left untouched")
    old = _content(paths.old_db)
    if new_exists and _content(paths.new_db).digest != old.digest:
        raise UserFailed("peek.db and datastore.sqlite differ; left untouched")
    if dry_run:
        print(f"[DRY RUN] would migrate {paths.user_id}")
        if "dry_run_touches" in defects:
            paths.profile_dir.mkdir(parents=True, exist_ok=True)
            sqlite3.connect(paths.new_db).close()
        return
    paths.profile_dir.mkdir(parents=True, exist_ok=True)
    copy = _copy_raw if "wal_lost" in defects else _copy_db
    if not new_exists:
        copy(paths.old_db, paths.new_db)
    backup_ok = paths.backup.exists() and _same(paths.backup, old.digest)
    if not backup_ok:
        copy(paths.old_db, paths.backup)
    if "no_profile" not in defects:
        _ensure_profile(paths)
    _move_images(paths)
    for p in (paths.old_db, *paths.old_sidecars()):
        if p.exists():
            p.unlink()
    print(f"migrated {paths.user_id}")


def _same(db: Path, digest: str) -> bool:
    try:
        return _content(db).digest == digest
    except UserFailed:
        return False


def _copy_db(src: Path, dst: Path) -> None:
    """The whole content, -wal included, through SQLite's backup API, renamed into place."""
    tmp = dst.with_name(dst.name + layout.TEMP_SUFFIX)
    with open_copy(src) as conn:
        out = sqlite3.connect(tmp)
        conn.backup(out)
        out.close()
    os.replace(tmp, dst)


def _copy_raw(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)


def _move_images(paths: layout.UserPaths) -> None:
    if not paths.old_images.is_dir():
        return
    paths.new_images.mkdir(parents=True, exist_ok=True)
    for image in sorted(paths.old_images.iterdir()):
        os.replace(image, paths.new_images / image.name)
    paths.old_images.rmdir()


def _ensure_profile(paths: layout.UserPaths) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    conn = sqlite3.connect(paths.data_dir / layout.SYSTEM_DB)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
            " slug TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,"
            " last_used_at TEXT NOT NULL, UNIQUE (user_id, slug))"
        )
        conn.execute(
            "INSERT OR IGNORE INTO profiles VALUES (?, ?, 'default', 'Default', ?, ?)",
            (str(uuid.uuid4()), paths.user_id, now, now),
        )
        conn.commit()
    finally:
        conn.close()


def _clean_backup(paths: layout.UserPaths, grace: float, defects) -> None:
    if not paths.backup.exists() or "no_cleanup" in defects:
        return
    age = (time.time() - paths.backup.stat().st_mtime) / 86_400
    images_left = paths.old_images.is_dir() and any(paths.old_images.iterdir())
    finished = not paths.old_db.exists() and paths.new_db.exists() and not images_left
    if age > grace and (finished or "cleanup_all" in defects):
        paths.backup.unlink()
        print(f"removed aged backup of {paths.user_id}")


def _with(*defects: str):
    return functools.partial(migrate, defects=frozenset(defects))


# Named variants, so that ``py:tests.judge.toy_migrator:<name>`` can run each in a child process.
wal_lost = _with("wal_lost")
no_profile = _with("no_profile")
dry_run_touches = _with("dry_run_touches")
no_cleanup = _with("no_cleanup")
cleanup_all = _with("cleanup_all")
fresh_backup = _with("fresh_backup")
