"""The logical content of a SQLite database, read without changing the tree it sits in.

SPEC: "content" is every row of every table, including rows that still sit in the ``-wal``
file. Opening a WAL database in place creates ``-shm``/``-wal`` files and may checkpoint,
so the file and its sidecars are copied to scratch space and the copy is opened.

This is the harness's own reader, deliberately independent of the migrator's verification
code: an oracle that shares the code it judges would share its bugs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.contract.errors import ExitStatus, KitError

# -wal holds committed rows not yet in the main file; a hot -journal holds the pages a crashed
# transaction overwrote, which SQLite rolls back on open. Both change what a reader sees, so
# both are copied. -shm is only a cache SQLite rebuilds from the -wal.
SIDECARS = ("-wal", "-journal")


class UnreadableDatabase(KitError):
    """The file is not a database SQLite can read (missing, corrupt, not a DB)."""

    exit_status = ExitStatus.FINDINGS


@dataclass(frozen=True)
class TableContent:
    """One table: its rows keyed by rowid (or primary key), each as a hash of its values."""

    name: str
    rows: dict[str, str]  # row key -> sha256 of the row's values

    @property
    def count(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class TableLoss:
    """What one table of a source lost in another copy, told apart so that a finding reads
    as its cause: rows *gone* (their key absent: deleted, e.g. by a cascade) are not rows
    *changed* (key kept, values not: e.g. a rebuilt table with new columns)."""

    table: str
    total: int  # rows the source table holds
    gone: int
    changed: int
    missing_table: bool = False  # the table itself is not in the other copy
    rebuilt: bool = False  # the table is there, but its CREATE statement differs

    def describe(self, place: str) -> str:
        """``item_tags: every row gone from the new DB (26 of 26)``;
        ``items: rebuilt, every row changed in the new DB (15 of 15)``."""
        if self.missing_table:
            return f"{self.table}: table gone from the {place} ({self.total} rows)"
        parts = ["rebuilt"] if self.rebuilt else []
        for n, word in ((self.gone, "gone"), (self.changed, "changed")):
            if n:
                parts.append(f"every row {word}" if n == self.total else f"{n} rows {word}")
        only_gone = not self.changed and not self.rebuilt
        prep = "from" if only_gone else "in"
        count = f" ({self.gone + self.changed} of {self.total})" if self.total else ""
        return f"{self.table}: {', '.join(parts)} {prep} the {place}{count}"


@dataclass(frozen=True)
class DbContent:
    """A database's logical content: schema and rows, plus an order-free digest."""

    tables: dict[str, TableContent]
    schema: tuple[str, ...]
    integrity: str  # "ok" or the first line integrity_check reported

    @property
    def generation(self) -> int | None:
        """The Peek schema generation of this datastore (see ``schema_generation``)."""
        return schema_generation(self.schema)

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: t.count for name, t in self.tables.items()}

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for stmt in self.schema:
            h.update(stmt.encode() + b"\0")
        for name in sorted(self.tables):
            h.update(name.encode() + b"\1")
            for key in sorted(self.tables[name].rows):
                h.update(key.encode() + b"\2" + self.tables[name].rows[key].encode())
        return h.hexdigest()

    def table_losses(self, other: DbContent) -> list[TableLoss]:
        """Per table with a row lost (absent or different) in ``other``, or rebuilt there,
        what it lost: tables whose every row went first, then by name."""
        theirs_sql = _table_sql(other.schema)
        ours_sql = _table_sql(self.schema)
        out = []
        for name, table in sorted(self.tables.items()):
            if name == "sqlite_sequence":
                continue
            theirs = other.tables.get(name)
            if theirs is None:
                out.append(TableLoss(name, table.count, table.count, 0, missing_table=True))
                continue
            gone = sum(1 for k in table.rows if k not in theirs.rows)
            changed = sum(
                1 for k, v in table.rows.items() if k in theirs.rows and theirs.rows[k] != v
            )
            rebuilt = _normal(ours_sql.get(name.lower())) != _normal(theirs_sql.get(name.lower()))
            if gone or changed or rebuilt:
                out.append(TableLoss(name, table.count, gone, changed, rebuilt=rebuilt))
        return sorted(out, key=lambda t: (not (t.total and t.gone == t.total), t.table))

    def missing_rows(self, other: DbContent) -> dict[str, int]:
        """Per table, how many of this content's rows are absent or different in ``other``."""
        out: dict[str, int] = {}
        for name, table in self.tables.items():
            theirs = other.tables.get(name)
            if theirs is None:
                lost = table.count
            else:
                lost = sum(1 for k, v in table.rows.items() if theirs.rows.get(k) != v)
            if lost:
                out[name] = lost
        return out


_CREATE_TABLE = re.compile(r'\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?["`\[]?(\w+)', re.I)


def _table_sql(schema: tuple[str, ...]) -> dict[str, str]:
    """Table name (lower case) -> its CREATE TABLE statement."""
    out = {}
    for stmt in schema:
        m = _CREATE_TABLE.match(stmt)
        if m:
            out[m.group(1).lower()] = stmt
    return out


def _normal(sql: str | None) -> str:
    """A CREATE statement with its whitespace and its table name aside: a table renamed
    into place (``items_new`` -> ``items``) with the same columns is not rebuilt."""
    if sql is None:
        return ""
    body = sql[sql.find("(") :] if "(" in sql else sql
    return re.sub(r"\s+", " ", body).strip()


def schema_generation(schema: tuple[str, ...]) -> int | None:
    """Which Peek datastore generation ``schema`` (sqlite_master SQL) is, as the server's
    start-up tells them apart (peek-facts "Schema generations"): 1 has ``urls`` and no
    ``items``; 2 has an ``items`` whose CREATE lacks 'image' (no CHECK at all counts as 2);
    3 allows 'image'. None when it is no Peek datastore (system.db, an empty file).
    """
    tables = _table_sql(schema)
    if "items" in tables:
        return 3 if "'image'" in tables["items"] else 2
    if "urls" in tables:
        return 1
    return None


def _row_hash(values: tuple) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:32]


def _primary_key(conn: sqlite3.Connection, table: str) -> list[str]:
    """The declared primary key's columns, in key order ([] when the table has none).

    Rows are keyed by the declared key, not by rowid: VACUUM and the backup API may renumber
    the rowids of tables without an INTEGER PRIMARY KEY, and that loses no content.
    """
    cols = [(r[5], r[1]) for r in conn.execute(f'PRAGMA table_info("{table}")') if r[5]]
    return [name for _, name in sorted(cols)]


@contextmanager
def open_copy(db: Path, *, scratch: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to a private copy of ``db`` and its sidecars, deleted on exit.

    The one way the harness opens a database it judges: the original is never opened, so
    reading cannot create sidecars, checkpoint a WAL or roll back a journal in the tree.
    SQLite errors while opening or using the copy surface as ``UnreadableDatabase``.
    """
    if db.is_symlink():
        raise UnreadableDatabase(f"{db}: a symlink, not followed")
    if not db.is_file():
        raise UnreadableDatabase(f"{db}: no such database file")
    with tempfile.TemporaryDirectory(dir=scratch, prefix="mk-content-") as tmp:
        copy = Path(tmp) / "copy.db"
        try:
            shutil.copyfile(db, copy)
            for suffix in SIDECARS:
                side = db.with_name(db.name + suffix)
                if side.is_file() and not side.is_symlink():
                    shutil.copyfile(side, copy.with_name(copy.name + suffix))
        except OSError as exc:
            raise UnreadableDatabase(f"{db}: cannot copy it: {exc}") from exc
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            raise UnreadableDatabase(f"{db}: {exc}") from exc
        finally:
            conn.close()


def read_content(db: Path, *, scratch: Path | None = None) -> DbContent:
    """Read ``db`` (and its ``-wal``) through a private copy; the original is not opened.

    Raises ``UnreadableDatabase`` naming the path when SQLite cannot read it.
    """
    with open_copy(db, scratch=scratch) as conn:
        return content_of(conn)


def _table_rows(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    pk = _primary_key(conn, table)
    rows: dict[str, str] = {}
    if pk:
        cols = ", ".join(f'"{c}"' for c in pk)
        for row in conn.execute(f'SELECT {cols}, * FROM "{table}"'):
            rows[repr(row[: len(pk)])] = _row_hash(row[len(pk) :])
        return rows
    seen: dict[str, int] = {}  # no key: a multiset of rows, duplicates numbered
    for row in conn.execute(f'SELECT * FROM "{table}"'):
        h = _row_hash(row)
        seen[h] = seen.get(h, 0) + 1
        rows[f"{h}#{seen[h]}"] = h
    return rows


def content_of(conn: sqlite3.Connection) -> DbContent:
    """The logical content of an open database (use ``open_copy`` to get one safely)."""
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    schema = tuple(
        r[0]
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
        )
    )
    names = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    ]
    tables = {}
    for name in names:
        tables[name] = TableContent(name, _table_rows(conn, name))
    return DbContent(tables=tables, schema=schema, integrity=integrity)
