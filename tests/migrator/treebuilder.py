"""A small builder of real server data trees for the migrator's own tests.

Lighter than ``fixtures.build`` for tests that need exact row placement (e.g. a given
number of rows only in ``-wal``). It writes the real Peek schemas (peek-facts.md): ``system.db``
with ``users`` (and optionally ``profiles``), per-user ``peek.db`` in WAL mode with
``items``/``tags``/``item_tags``/``settings``, and ``images/<sha256>.<ext>`` files.

It also holds the tests' oracle helpers (``rows``, ``files``, ``final_view``): they read
databases with plain sqlite3 through copies, independently of ``migrator.verify``, so a bug
in the migrator's verification cannot hide itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from fixtures import schema

PEEK_SCHEMA = ";\n".join(schema.DATASTORE_TABLES + schema.DATASTORE_INDEXES) + ";"
SYSTEM_SCHEMA = ";\n".join(schema.SYSTEM_USERS) + ";"
PROFILES_SCHEMA = ";\n".join(schema.SYSTEM_PROFILES) + ";"

TAG_NAMES = ("reading", "work", "recipes", "music", "later", "travel", "ideas", "code")


@dataclass(frozen=True)
class User:
    """One user folder. ``wal_rows`` items sit only in ``peek.db-wal``."""

    user_id: str
    items: int = 30
    wal_rows: int = 0
    images: int = 2
    users_row: bool = True
    profile_row: bool = False
    text_bytes: int = 40  # size of each text item's content
    seed: int = 0
    extra: dict = field(default_factory=dict)


def _iso(rng: random.Random) -> str:
    day, hour, minute = rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
    return f"2026-01-{day:02d}T{hour:02d}:{minute:02d}:{rng.randint(0, 59):02d}.123Z"


def _insert_items(conn: sqlite3.Connection, rng: random.Random, n: int, text_bytes: int) -> None:
    tag_ids = [r[0] for r in conn.execute("SELECT id FROM tags")]
    for _ in range(n):
        item_id = str(uuid.UUID(int=rng.getrandbits(128)))
        kind = rng.choice(("url", "text", "text", "tagset"))
        if kind == "url":
            content = f"https://example.org/{rng.getrandbits(40):x}"
        else:
            content = "".join(rng.choice("abcdefghij klmnop") for _ in range(text_bytes))
        stamp = _iso(rng)
        conn.execute(
            "INSERT INTO items (id, type, content, metadata, created_at, updated_at, deleted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                kind,
                content,
                json.dumps({"title": content[:12]}),
                stamp,
                stamp,
                stamp if rng.random() < 0.05 else None,
            ),
        )
        for tag in rng.sample(tag_ids, 2):
            conn.execute(
                "INSERT INTO item_tags (item_id, tag_id, created_at) VALUES (?, ?, ?)",
                (item_id, tag, stamp),
            )


def make_peek_db(
    path: Path, *, items: int, wal_rows: int = 0, seed: int = 0, text_bytes: int = 40
) -> None:
    """A WAL-mode ``peek.db`` at ``path``; the last ``wal_rows`` items only in the -wal.

    The WAL is made the way a killed server leaves it: autocheckpoint off, a connection
    still open while the files are copied to their place.
    """
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="tb-peek-") as tmp:
        staging = Path(tmp) / "peek.db"
        conn = sqlite3.connect(staging, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(PEEK_SCHEMA)
        conn.execute("BEGIN")
        for name in TAG_NAMES:
            stamp = _iso(rng)
            conn.execute(
                "INSERT INTO tags (name, frequency, last_used, frecency_score, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, rng.randint(0, 50), stamp, rng.random() * 10, stamp, stamp),
            )
        conn.execute("INSERT INTO settings VALUES ('lastBackupTime', '1769559596439.0')")
        _insert_items(conn, rng, items, text_bytes)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        if wal_rows:
            conn.execute("BEGIN")
            _insert_items(conn, rng, wal_rows, text_bytes)
            conn.execute("COMMIT")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staging, path)
        wal = staging.with_name("peek.db-wal")
        if wal_rows and wal.exists() and wal.stat().st_size:
            shutil.copyfile(wal, path.with_name(path.name + "-wal"))
        conn.close()


def make_images(folder: Path, n: int, *, seed: int = 0) -> None:
    rng = random.Random(seed + 1000)
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(n):
        data = rng.randbytes(rng.randint(200, 3000))
        ext = rng.choice(("png", "jpg", "bin"))
        (folder / f"{hashlib.sha256(data).hexdigest()}.{ext}").write_bytes(data)


def make_system_db(data_dir: Path, users: list[User], *, profiles_table: bool = False) -> None:
    conn = sqlite3.connect(data_dir / "system.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SYSTEM_SCHEMA)
    if profiles_table or any(u.profile_row for u in users):
        conn.executescript(PROFILES_SCHEMA)
    for u in users:
        if u.users_row:
            key = hashlib.sha256(u.user_id.encode()).hexdigest()
            conn.execute(
                "INSERT INTO users VALUES (?, ?, ?)",
                (u.user_id, hashlib.sha256(key.encode()).hexdigest(), "2026-01-01T00:00:00.000Z"),
            )
        if u.profile_row:
            conn.execute(
                "INSERT INTO profiles VALUES (?, ?, 'default', 'Default', ?, ?)",
                (str(uuid.uuid4()), u.user_id, "2026-01-02T00:00:00.000Z", "x"),
            )
    conn.close()


def build(data_dir: Path, users: list[User], *, profiles_table: bool = False) -> Path:
    """A legacy tree: system.db plus, per user, peek.db (+ -wal) and images/."""
    data_dir.mkdir(parents=True, exist_ok=True)
    make_system_db(data_dir, users, profiles_table=profiles_table)
    for u in users:
        root = data_dir / u.user_id
        root.mkdir()
        if u.items is not None:
            make_peek_db(
                root / "peek.db",
                items=u.items,
                wal_rows=u.wal_rows,
                seed=u.seed,
                text_bytes=u.text_bytes,
            )
        if u.images:
            make_images(root / "images", u.images, seed=u.seed)
    return data_dir


# -- oracle helpers ------------------------------------------------------------------------


def rows(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table of ``db`` (with its -wal), read through a copy."""
    with tempfile.TemporaryDirectory(prefix="tb-rows-") as tmp:
        copy = Path(tmp) / "c.db"
        shutil.copyfile(db, copy)
        for suffix in ("-wal", "-journal"):
            side = db.with_name(db.name + suffix)
            if side.exists():
                shutil.copyfile(side, copy.with_name("c.db" + suffix))
        conn = sqlite3.connect(copy)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            return {
                n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
                for n in sorted(names)
            }
        finally:
            conn.close()


def row_count(db: Path, table: str = "items") -> int:
    return len(rows(db)[table])


def profile_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    content = rows(data_dir / "system.db")
    return sorted((r[1], r[2], r[3]) for r in content.get("profiles", []))


def files(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: kind, size, sha256, mtime_ns, mode (symlinks not
    followed; directories with their mtime, so a file created and removed again shows)."""
    out: dict[str, tuple] = {".": ("dir", root.lstat().st_mtime_ns)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p), st.st_mtime_ns)
            elif p.is_dir():
                out[rel] = ("dir", st.st_mtime_ns, st.st_mode)
            else:
                out[rel] = (
                    "file",
                    st.st_size,
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                    st.st_mtime_ns,
                    st.st_mode,
                )
    return out


def final_view(data_dir: Path) -> dict:
    """What a finished tree must look like, minus what legitimately differs between runs
    (creation times, row ids of profile rows): file names, image bytes, DB contents."""
    view: dict = {}
    for rel, info in files(data_dir).items():
        p = data_dir / rel
        if rel.startswith("system.db"):
            continue
        if info[0] == "file" and (rel.endswith(".sqlite") or ".pre-migration-backup" in rel):
            view[rel] = ("db", rows(p))
        elif info[0] == "file":
            view[rel] = ("file", info[2])
        else:
            view[rel] = info[:1]
    view["<profiles>"] = profile_rows(data_dir)
    return view


def user_files(data_dir: Path, user: str) -> dict[str, tuple]:
    return files(data_dir / user)


def run(data_dir: Path, **kwargs):
    """Run the reference migrator; return (report, events) whether or not a user failed."""
    from migrator import log, server

    sink = log.Collect()
    try:
        report = server.migrate(data_dir, log=sink, **kwargs)
    except server.MigrationFailed as exc:
        report = exc.report
    return report, sink.events


def outcome(report, user: str):
    return next(u for u in report.users if u.user == user)


def scratch_left(data_dir: Path) -> list[str]:
    """Scratch names of the migrator anywhere in the tree (must be none after a run)."""
    return sorted(
        rel for rel in files(data_dir) if rel.endswith(".migrating") or ".migrating/" in rel
    )
