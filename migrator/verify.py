"""Is a database readable, and what is its logical content? (SPEC R1, R5, R7)

A byte comparison would call a checkpointed copy different from its WAL-mode original, and
``PRAGMA integrity_check`` alone says nothing about whether rows went missing. So copies are
compared by *logical content*: the schema, each table's row count and an order-independent
sum of row hashes. The sum is a streaming accumulator (one integer per table), so digesting
a 100 MB database holds one row at a time in memory (SPEC R16), never a dict of all rows.

Two rules keep verification from changing the tree it inspects:

- a file that may have a ``-wal`` is never opened where it lies (opening creates ``-shm``
  and may checkpoint): it is copied first (``fsops.copy_file``) and the copy is ``seal``-ed;
- a file known to be self-contained (a sealed copy, a backup, a placed new DB without
  sidecars) is read with ``immutable=1``, which takes no locks and creates no files.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migrator import fsops

SQLITE_MAGIC = b"SQLite format 3\x00"
# Sidecars that hold data (``-shm`` is an index SQLite rebuilds from the ``-wal``).
DATA_SIDECARS = ("-wal", "-journal")
_MOD = 1 << 256
_CACHE_KIB = 2048  # page cache per connection: bounded, whatever the DB size


class UnreadableDb(Exception):
    """SQLite cannot read the file, or ``integrity_check`` reports damage."""


@dataclass(frozen=True)
class Content:
    """A database's logical content, summarised: equal digests mean equal rows."""

    digest: str
    rows: int  # total rows over all tables, for messages
    tables: int

    def describe(self) -> str:
        return f"{self.tables} tables, {self.rows} rows"


def has_sqlite_header(path: Path) -> bool:
    """True when the file starts like a SQLite database.

    An empty file opens as a valid, empty database; a ``peek.db`` of zero bytes is damage,
    not a user with no data (better-sqlite3 writes the header when it sets WAL mode).
    """
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def is_wal_mode(path: Path) -> bool:
    """True when the header says WAL mode (file format versions 2/2 at offsets 18-19)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return len(head) == 20 and head[18] == 2 and head[19] == 2


def _connect_immutable(path: Path) -> sqlite3.Connection:
    uri = "file:" + _uri_path(path) + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
    return conn


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(Path(path).absolute()))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _integrity(conn: sqlite3.Connection) -> str | None:
    """None when the database is sound, else the first problem integrity_check names."""
    rows = conn.execute("PRAGMA integrity_check").fetchmany(3)
    if rows and rows[0][0] == "ok":
        return None
    return "; ".join(str(r[0]) for r in rows) or "integrity_check returned nothing"


def seal(copy: Path) -> None:
    """Check a scratch copy and fold its ``-wal`` into it, so it is one self-contained file.

    ``copy`` sits in scratch space next to copies of its sidecars. Opening it replays the
    WAL (or rolls back a hot journal); ``integrity_check`` then vets the whole thing and
    ``wal_checkpoint(TRUNCATE)`` writes every WAL page into the main file. After close, no
    sidecar is left (checked), so the file can be renamed to its final place alone.
    A copy without data in a sidecar is only checked, read-only (``_check_alone``).
    Raises ``UnreadableDb`` on damage.
    """
    if not has_sqlite_header(copy):
        raise UnreadableDb("not a SQLite database (empty, truncated or bad header)")
    sides = [copy.with_name(copy.name + s) for s in DATA_SIDECARS]
    if not any(fsops.file_size(side) for side in sides):
        _check_alone(copy)  # nothing to replay or roll back: already self-contained
        for side in sides:
            if os.path.lexists(side):
                os.unlink(side)
        return
    try:
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            # The caller fsyncs the sealed file when it keeps it; syncing every checkpoint
            # write as well would only slow a throwaway copy down.
            conn.execute("PRAGMA synchronous=OFF")
            problem = _integrity(conn)
            if problem:
                raise UnreadableDb(f"integrity_check: {problem}")
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                raise UnreadableDb("could not checkpoint the WAL of the copy")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise UnreadableDb(str(exc)) from exc
    for suffix in (*DATA_SIDECARS, "-shm"):
        side = copy.with_name(copy.name + suffix)
        if side.exists():
            if suffix != "-shm" and side.stat().st_size:
                raise UnreadableDb(f"{side.name} still holds data after the checkpoint")
            os.unlink(side)


def _check_alone(copy: Path) -> None:
    """``integrity_check`` of a copy without data sidecars, read-only (``immutable=1``).

    Most users' ``peek.db`` has no ``-wal`` with frames: opening such a copy for writing
    would only create a ``-wal`` and ``-shm`` and delete them again (four more file
    operations and a checkpoint with nothing to do). The check itself is the same.
    """
    try:
        conn = _connect_immutable(copy)
        try:
            problem = _integrity(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise UnreadableDb(str(exc)) from exc
    if problem:
        raise UnreadableDb(f"integrity_check: {problem}")


def content(db: Path) -> Content:
    """The logical content of a self-contained database file, read without writing.

    Only call this on files with no data sidecar (a sealed copy, a backup, a new DB that
    has no ``-wal``): ``immutable=1`` ignores any ``-wal``. Raises ``UnreadableDb``.
    """
    if not has_sqlite_header(db):
        raise UnreadableDb(f"{db}: not a SQLite database (empty, truncated or bad header)")
    try:
        conn = _connect_immutable(db)
        try:
            return _digest(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise UnreadableDb(f"{db}: {exc}") from exc


def _digest(conn: sqlite3.Connection) -> Content:
    h = hashlib.sha256(b"migrator-content-v1\n")
    tables: list[str] = []
    for kind, name, tbl, sql in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ):
        h.update(repr((kind, name, tbl, sql)).encode() + b"\n")
        if kind == "table":
            tables.append(name)
    total = 0
    for name in tables:
        count, acc = 0, 0
        # Rows without rowid: a raw copy keeps rowids, but content is what rows say.
        for row in conn.execute(f"SELECT * FROM {_quote_ident(name)}"):
            rh = hashlib.blake2b(repr(row).encode(), digest_size=32).digest()
            acc = (acc + int.from_bytes(rh, "big")) % _MOD
            count += 1
        h.update(f"{name}\0{count}\0{acc:064x}\n".encode())
        total += count
    return Content(digest=h.hexdigest(), rows=total, tables=len(tables))


def check_readable(db: Path) -> str | None:
    """None when ``db`` reads as a sound database, else what is wrong. Creates nothing.

    Used before a backup is deleted: the backup goes only if the DB that replaces it is
    sound. A DB with a data sidecar is checked through a copy in the system temp dir, so
    the rows in its ``-wal`` count and nothing appears next to it.
    """
    if not has_sqlite_header(db):
        return "not a SQLite database (empty, truncated or bad header)"
    sides = [db.with_name(db.name + s) for s in DATA_SIDECARS]
    try:
        if not any(s.exists() and s.stat().st_size for s in sides):
            conn = _connect_immutable(db)
            try:
                return _integrity(conn)
            finally:
                conn.close()
        with tempfile.TemporaryDirectory(prefix="peek-migration-check-") as tmp:
            copy = copy_with_sidecars(db, Path(tmp) / "check.db")
            seal(copy)
            return None
    except UnreadableDb as exc:
        return str(exc)
    except sqlite3.DatabaseError as exc:
        return str(exc)


def has_sidecars(db: Path) -> bool:
    """True when a data sidecar of ``db`` exists (even empty): its copy must keep it paired."""
    return any(os.path.lexists(db.with_name(db.name + s)) for s in DATA_SIDECARS)


def copy_with_sidecars(db: Path, dest: Path) -> Path:
    """Copy ``db`` and its data sidecars (not ``-shm``) to ``dest`` (+ same suffixes).

    Not fsynced: the copy is always ``seal``-ed next, which rewrites it, and a caller that
    keeps the result fsyncs the sealed file (``server``); throwaway copies need no fsync.
    """
    fsops.copy_file(db, dest, durable=False)
    for suffix in DATA_SIDECARS:
        side = db.with_name(db.name + suffix)
        if side.is_file():
            fsops.copy_file(side, dest.with_name(dest.name + suffix), durable=False)
    return dest


def sealed_content(db: Path, scratch: Path) -> Content:
    """Copy ``db`` with its sidecars into the folder ``scratch``, seal it, digest it.

    The read-only way to learn a live database's content (dry run, status): the original
    is never opened. The copy is left in ``scratch`` for the caller to remove.
    """
    copy = copy_with_sidecars(db, scratch / db.name)
    seal(copy)
    return content(copy)


def wal_adds_nothing(db: Path, wal: Path, scratch: Path) -> bool:
    """True when replaying ``wal`` onto ``db`` yields no content ``db`` lacks.

    A ``peek.db-wal`` left without its ``peek.db`` is either the tail of this migrator's
    last step (peek.db already removed, its content verified in the new DB: replaying the
    same frames onto the checkpointed copy changes nothing) or the seed's field failure
    (``peek.db`` moved without its WAL: the WAL holds the user's latest rows). Only the
    first may be deleted. The new DB's own ``-wal``/``-journal`` is part of its content, so
    it is folded into a scratch copy first: refusing whenever the new DB had a live WAL
    stranded a user whose run was killed between the two unlinks (found by the fault
    explorer). Anything unclear (not in WAL mode, unreadable) answers False, which keeps
    the file for a person.
    """
    if not is_wal_mode(db):
        return False
    try:
        alone = copy_with_sidecars(db, scratch / "new.db")
        seal(alone)
        combined = scratch / "combined.db"
        fsops.copy_file(alone, combined, durable=False)
        fsops.copy_file(wal, combined.with_name(combined.name + "-wal"), durable=False)
        seal(combined)
        return content(combined).digest == content(alone).digest
    except UnreadableDb:
        return False
