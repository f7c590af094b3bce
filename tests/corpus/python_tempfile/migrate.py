"""A profiles migration for the Peek server, written from SPEC and peek-facts alone.

One of the kit's corpus migrators: correct, and in a style of its own (the kit must not be
tuned to the reference's habits). Every byte it reads comes from a scratch copy made in a
``tempfile.mkdtemp()`` folder, so nothing in DATA_DIR is opened by SQLite until it is ours:

1. a ``.migration.lock`` in DATA_DIR, held with ``fcntl.flock`` for the whole run (a second
   process waits, then finds nothing left to do);
2. per user, the old DB and its ``-wal`` are copied raw to scratch, checked
   (``integrity_check``) and turned into one clean file with sqlite3's backup API, which
   carries the rows still in the ``-wal``; its content is compared table by table;
3. the verified backup is written beside the old DB (temp file, fsync, rename, fsync dir);
4. the new DB and the images (copied by a thread pool, each checked by its sha256) are
   staged in ``profiles/.staging-*``, fsynced, and the staging folder is renamed to
   ``profiles/default`` in one step, after the profile row is in system.db;
5. only then are ``peek.db``, its sidecars and the old images removed (the DB first: a
   ``-wal`` without its DB is a leftover, a DB without its ``-wal`` would be a lie).

Any run resumes what a killed one left: staging folders and half-written backups are only
copies and are removed; a new DB that holds exactly the old content finishes the migration.
Log lines are JSON events; errors go to stderr with ``"level": "error"`` and the user.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".migration.lock"
NOT_USERS = frozenset({"backups"})  # the server's own folder
OLD = "peek.db"
SIDECARS = ("-wal", "-shm", "-journal")
BACKUP = "peek.db.pre-migration-backup"
BACKUP_PART = ".peek.db.pre-migration-backup."  # + random + ".part"
STAGING = ".staging-"
IMAGE_PART = ".img-"  # + random + ".part": an image being copied into the new folder
SLUG, NAME = "default", "Default"
GRACE_DAYS = 30.0
MARGIN = 1 << 20  # bytes of free space kept beyond what a user's migration writes
COPY_WORKERS = 4


class UserFailed(Exception):
    """This user cannot be migrated now; they are left as they were."""


def log(event: str, user: str | None = None, *, level: str = "info", **fields) -> None:
    """One JSON event per line: info on stdout, errors on stderr."""
    record = {"level": level, "event": event, "user": user, **fields}
    stream = sys.stderr if level in ("error", "critical") else sys.stdout
    print(json.dumps(record, ensure_ascii=False), file=stream, flush=True)


# --- durable file operations --------------------------------------------------------------


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def copy_durably(src: Path, dst: Path) -> str:
    """Copy ``src`` to the new file ``dst``, fsync it, and return the copy's sha256."""
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    return sha256_of(dst)


def remove_tree(path: Path) -> None:
    """Remove a folder of ours (staging, scratch); read-only bits do not stop it."""
    if path.is_symlink() or not path.exists():
        return
    shutil.rmtree(path)


# --- reading a DB without touching it -----------------------------------------------------


def raw_copy(db: Path, into: Path) -> Path:
    """``db`` and its ``-wal`` copied byte for byte into ``into``; the copy's path."""
    into.mkdir(parents=True, exist_ok=True)
    target = into / db.name
    shutil.copyfile(db, target)
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))
    return target


def open_checked(db: Path) -> sqlite3.Connection:
    """Open a scratch copy and make sure it is a sound, non-empty SQLite DB."""
    conn = sqlite3.connect(db)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise UserFailed(f"integrity_check: {result}")
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()
        if not tables[0]:
            raise UserFailed("the database has no tables")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise UserFailed(f"unreadable database: {exc}") from None
    except UserFailed:
        conn.close()
        raise
    return conn


def fingerprint(conn: sqlite3.Connection) -> str:
    """The logical content: schema and every row of every table, streamed, not loaded."""
    h = hashlib.sha256()
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    for name, sql in tables:
        h.update(f"\0table {name}\0{sql}\0".encode())
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            rows = conn.execute(f"SELECT * FROM {quoted} ORDER BY rowid")
        except sqlite3.OperationalError:  # WITHOUT ROWID: order by every column
            width = len(conn.execute(f"SELECT * FROM {quoted} LIMIT 0").description)
            order = ", ".join(str(i + 1) for i in range(width))
            rows = conn.execute(f"SELECT * FROM {quoted} ORDER BY {order}")
        for row in rows:
            h.update(repr(row).encode())
    return h.hexdigest()


def content_of(db: Path, scratch: Path) -> str:
    """The fingerprint of ``db`` (with its ``-wal``), read through a scratch copy."""
    copy = raw_copy(db, Path(tempfile.mkdtemp(dir=scratch)))
    conn = open_checked(copy)
    try:
        return fingerprint(conn)
    finally:
        conn.close()


def clean_copy(db: Path, scratch: Path) -> tuple[Path, str]:
    """One verified single-file copy of ``db`` (``-wal`` rows folded in) and its content."""
    source = open_checked(raw_copy(db, Path(tempfile.mkdtemp(dir=scratch))))
    target = Path(tempfile.mkdtemp(dir=scratch)) / "datastore.sqlite"
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
        if dest.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise UserFailed("the copy fails integrity_check")
        want, got = fingerprint(source), fingerprint(dest)
        if want != got:
            raise UserFailed("the copy's rows differ from the original's")
    finally:
        dest.close()
        source.close()
    return target, want


# --- system.db ------------------------------------------------------------------------------

PROFILES_TABLE = """CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  UNIQUE(user_id, slug)
)"""


def registered_users(data_dir: Path, scratch: Path) -> set[str]:
    """The ids in system.db's users table, read from a scratch copy (dry runs included)."""
    system = data_dir / "system.db"
    if not system.is_file():
        return set()
    conn = sqlite3.connect(raw_copy(system, Path(tempfile.mkdtemp(dir=scratch))))
    try:
        return {row[0] for row in conn.execute("SELECT id FROM users")}
    finally:
        conn.close()


@contextlib.contextmanager
def system_db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(data_dir / "system.db", timeout=30)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        yield conn
    finally:
        conn.close()


def has_profile(data_dir: Path, user: str) -> bool:
    with system_db(data_dir) as conn:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='profiles'"
        ).fetchone()
        if not exists:
            return False
        row = conn.execute(
            "SELECT 1 FROM profiles WHERE user_id=? AND slug=?", (user, SLUG)
        ).fetchone()
        return row is not None


def ensure_profile(data_dir: Path, user: str) -> None:
    if has_profile(data_dir, user):
        return
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with system_db(data_dir) as conn, conn:
        conn.execute(PROFILES_TABLE)
        conn.execute(
            "INSERT OR IGNORE INTO profiles (id, user_id, slug, name, created_at, last_used_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (str(uuid.uuid4()), user, SLUG, NAME, now, now),
        )
    log("profile", user, outcome="created")


# --- one user -------------------------------------------------------------------------------


class User:
    def __init__(self, data_dir: Path, name: str) -> None:
        self.data_dir = data_dir
        self.name = name
        self.root = data_dir / name
        self.old = self.root / OLD
        self.backup = self.root / BACKUP
        self.old_images = self.root / "images"
        self.profiles = self.root / "profiles"
        self.profile = self.profiles / SLUG
        self.new = self.profile / "datastore.sqlite"
        self.new_images = self.profile / "images"

    def sidecars(self) -> list[Path]:
        return [
            self.old.with_name(OLD + s) for s in SIDECARS if self.old.with_name(OLD + s).exists()
        ]

    def images(self) -> list[Path]:
        if not self.old_images.is_dir():
            return []
        return sorted(p for p in self.old_images.iterdir() if p.is_file())

    def leftovers(self) -> list[Path]:
        """What a killed run of ours leaves: staging folders and half-written backups."""
        found = [p for p in self.root.iterdir() if p.name.startswith(BACKUP_PART)]
        if self.profiles.is_dir():
            found += [p for p in self.profiles.iterdir() if p.name.startswith(STAGING)]
        if self.new_images.is_dir():
            found += [p for p in self.new_images.iterdir() if p.name.startswith(IMAGE_PART)]
        return found


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def write_backup(user: User, clean: Path, content: str, scratch: Path) -> bool:
    """A verified backup beside the old DB; False when a verified one was already there."""
    if user.backup.exists():
        with contextlib.suppress(UserFailed):
            if content_of(user.backup, scratch) == content:
                return False
        log("backup", user.name, outcome="replacing an unverifiable backup")
    fd, part = tempfile.mkstemp(prefix=BACKUP_PART, suffix=".part", dir=user.root)
    os.close(fd)
    part_path = Path(part)
    try:
        part_path.unlink()
        if copy_durably(clean, part_path) != sha256_of(clean):
            raise UserFailed("the backup's bytes differ from the copy's")
        os.replace(part_path, user.backup)
        fsync_dir(user.root)
    except BaseException:
        with contextlib.suppress(OSError):
            part_path.unlink()
        raise
    return True


def stage(user: User, clean: Path) -> Path:
    """The new profile folder, complete and durable, under a name nobody reads yet."""
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=user.profiles))
    try:
        copy_durably(clean, staging / "datastore.sqlite")
        images = user.images()
        if images:
            (staging / "images").mkdir()

            def copy_one(src: Path) -> None:
                if copy_durably(src, staging / "images" / src.name) != sha256_of(src):
                    raise UserFailed(f"image {src.name} copied wrong")

            with ThreadPoolExecutor(max_workers=COPY_WORKERS) as pool:
                list(pool.map(copy_one, images))
            fsync_dir(staging / "images")
        fsync_dir(staging)
    except BaseException:
        remove_tree(staging)  # a half-staged folder is a partial copy: never left behind
        raise
    return staging


def retire_old(user: User) -> None:
    """Remove the old DB (first), its sidecars, and the images now in the new folder."""
    if user.old.exists():
        user.old.unlink()
    for side in user.sidecars():
        side.unlink()
    fsync_dir(user.root)
    move_images(user)


def move_images(user: User) -> None:
    """Each image left in the old folder: dropped when the new folder holds the same bytes,
    otherwise copied there durably first."""
    images = user.images()
    if not images:
        if user.old_images.is_dir() and not any(user.old_images.iterdir()):
            user.old_images.rmdir()
            fsync_dir(user.root)
        return
    user.new_images.mkdir(exist_ok=True)
    for src in images:
        dst = user.new_images / src.name
        if not dst.exists() or sha256_of(dst) != sha256_of(src):
            fd, name = tempfile.mkstemp(prefix=IMAGE_PART, suffix=".part", dir=user.new_images)
            os.close(fd)
            part = Path(name)
            try:
                part.unlink()
                if copy_durably(src, part) != sha256_of(src):
                    raise UserFailed(f"image {src.name} copied wrong")
                os.replace(part, dst)
            except BaseException:
                with contextlib.suppress(OSError):
                    part.unlink()
                raise
    fsync_dir(user.new_images)
    for src in images:
        src.unlink()
    user.old_images.rmdir()
    fsync_dir(user.root)


def migrate_user(user: User, scratch: Path, *, dry_run: bool) -> None:
    """Bring one registered user to the new layout, or raise ``UserFailed`` untouched."""
    old, new = user.old.exists(), user.new.exists()
    if not old and not new:
        if user.backup.exists():
            raise UserFailed("only the pre-migration backup is left: a person must restore it")
        log("skip", user.name, outcome="no database")
        return
    if dry_run:
        if old and new:
            same = content_of(user.old, scratch) == content_of(user.new, scratch)
            log("plan", user.name, outcome="would finish" if same else "would refuse")
        elif old:
            content_of(user.old, scratch)  # would it fail integrity?
            log("plan", user.name, outcome="would migrate")
        else:
            log("plan", user.name, outcome="already migrated")
        return
    for leftover in user.leftovers():
        if leftover.is_dir():
            remove_tree(leftover)
        else:
            leftover.unlink()
        fsync_dir(leftover.parent)
    if old and new:
        clean, content = clean_copy(user.old, scratch)
        if content_of(user.new, scratch) != content:
            raise UserFailed("peek.db and the new DB differ: which is right needs a person")
        write_backup(user, clean, content, scratch)
        ensure_profile(user.data_dir, user.name)
        retire_old(user)
        log("migrate", user.name, outcome="finished an interrupted migration")
        return
    if new:
        ensure_profile(user.data_dir, user.name)
        for side in user.sidecars():  # a -wal whose DB went before it
            side.unlink()
            fsync_dir(user.root)
        move_images(user)
        log("skip", user.name, outcome="already migrated")
        return
    clean, content = clean_copy(user.old, scratch)
    need = 2 * clean.stat().st_size + sum(p.stat().st_size for p in user.images()) + MARGIN
    if free_bytes(user.root) < need:
        raise UserFailed(f"not enough free space: {need} bytes needed")
    made_profiles = not user.profiles.exists()
    made_backup = False
    staging = None
    try:
        made_backup = write_backup(user, clean, content, scratch)
        if made_profiles:
            user.profiles.mkdir()
            fsync_dir(user.root)
        staging = stage(user, clean)
        ensure_profile(user.data_dir, user.name)
        os.rename(staging, user.profile)
        staging = None
        fsync_dir(user.profiles)
    except BaseException:
        if staging is not None:
            remove_tree(staging)
        if made_profiles and user.profiles.is_dir() and not any(user.profiles.iterdir()):
            user.profiles.rmdir()
        if made_backup:
            user.backup.unlink()
        raise
    retire_old(user)
    log("migrate", user.name, outcome="migrated")


def fully_migrated(user: User) -> bool:
    return (
        not user.old.exists()
        and not user.sidecars()
        and user.new.exists()
        and not user.images()
        and has_profile(user.data_dir, user.name)
    )


def clean_up_backup(user: User, started: float, grace_days: float) -> None:
    """Delete a backup past its grace period, only for a user with nothing left to migrate."""
    if not user.backup.exists() or not fully_migrated(user):
        return
    age_days = (started - user.backup.stat().st_mtime) / 86_400
    if age_days > grace_days:
        user.backup.unlink()
        fsync_dir(user.root)
        log("cleanup", user.name, outcome="backup deleted", age_days=round(age_days, 1))


# --- the run --------------------------------------------------------------------------------


def user_dirs(data_dir: Path) -> list[str]:
    """Real directories that may be users: no symlinks, dot entries or the server's own."""
    names = []
    for entry in os.scandir(data_dir):
        if entry.name.startswith(".") or entry.name in NOT_USERS:
            continue
        if entry.is_dir(follow_symlinks=False):
            names.append(entry.name)
    return sorted(names)


@contextlib.contextmanager
def run_lock(data_dir: Path, *, dry_run: bool) -> Iterator[None]:
    """Hold ``.migration.lock`` for the run; a dry run creates nothing, so takes none."""
    if dry_run:
        yield
        return
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def migrate(data_dir, *, dry_run: bool = False, grace_days: float | None = None) -> None:
    """Migrate every user of ``data_dir``; raise ``RuntimeError`` naming those that failed."""
    data_dir = Path(os.path.abspath(data_dir))
    if grace_days is None:
        grace_days = float(os.environ.get("MIGRATION_BACKUP_GRACE_DAYS") or GRACE_DAYS)
    started = time.time()
    failed: list[str] = []
    with run_lock(data_dir, dry_run=dry_run):
        scratch = Path(tempfile.mkdtemp(prefix="peek-profiles-"))
        try:
            known = registered_users(data_dir, scratch)
            for name in user_dirs(data_dir):
                user = User(data_dir, name)
                if name not in known:
                    if user.old.exists():
                        failed.append(name)
                        log("orphan", name, level="error", error="no users row: left untouched")
                    continue
                try:
                    migrate_user(user, scratch, dry_run=dry_run)
                    if not dry_run:
                        clean_up_backup(user, started, grace_days)
                except (UserFailed, OSError, sqlite3.Error) as exc:
                    failed.append(name)
                    log("migrate", name, level="error", error=str(exc))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    log("done", None, migrated_or_skipped=True, failed=failed, dry_run=dry_run)
    if failed:
        raise RuntimeError(f"migration failed for: {', '.join(failed)}")


def main() -> int:
    data_dir = os.environ.get("DATA_DIR") or (sys.argv[1] if len(sys.argv) > 1 else "./data")
    dry_run = os.environ.get("MIGRATION_DRY_RUN", "").lower() in ("1", "true", "yes")
    try:
        migrate(data_dir, dry_run=dry_run)
    except RuntimeError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
