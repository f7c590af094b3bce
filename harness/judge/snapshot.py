"""The state of a data dir at one moment, taken without changing it.

An oracle compares two snapshots, so a snapshot holds everything a rule talks about: every
entry of the tree (symlinks recorded, never followed), the logical content of every SQLite
file (through ``harness.contract.content``, which reads a scratch copy so no -wal/-shm
appears in the tree), the ``users`` and ``profiles`` rows of ``system.db``, and per user
where their data sits (old DB, new DB, backup, images). What a symlink points to outside
the tree is recorded too, so "not followed, not touched" (R13) can be checked.

Nothing is cached on metadata: a cache keyed on (path, size, mtime) would trust exactly the
metadata a broken migrator may have preserved while changing the bytes. What is reused is
keyed on the bytes themselves: a database's content is decided by the bytes of the file and
of the sidecars its reader copies, and a snapshot hashes every file anyway, so a database
read once in this process is not read again when the same bytes come back (:class:`_DbMemo`;
an exploration snapshots the same untouched databases twice per case).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from harness.contract import layout
from harness.contract.content import (
    SIDECARS,
    DbContent,
    UnreadableDatabase,
    content_of,
    open_copy,
)

SQLITE_HEADER = b"SQLite format 3\x00"
CHUNK = 1 << 20

# What a file's first bytes say it is, for the kinds that hold a user's data: a file of
# these kinds added outside user folders is user content (or a partial copy of it), while a
# lock file or a log is not. Images as the server stores them (fixtures use the same magics),
# SQLite's WAL header, and zip (the server's own backups are zips of user DBs).
MAGICS: tuple[tuple[str, bytes, int], ...] = (
    ("sqlite", SQLITE_HEADER, 0),
    ("sqlite-wal", b"\x37\x7f\x06\x82", 0),
    ("sqlite-wal", b"\x37\x7f\x06\x83", 0),
    ("image", b"\x89PNG\r\n\x1a\n", 0),
    ("image", b"\xff\xd8\xff", 0),
    ("image", b"GIF8", 0),
    ("image", b"WEBP", 8),
    ("zip", b"PK\x03\x04", 0),
)
HEAD = 16


def magic_of(head: bytes) -> str | None:
    """The kind of user data ``head`` (a file's first bytes) starts, or None."""
    for kind, magic, at in MAGICS:
        if head[at : at + len(magic)] == magic:
            return kind
    return None


ROOT = "."


@dataclass(frozen=True)
class Entry:
    """One directory entry, as ``lstat`` and its bytes describe it."""

    kind: str  # "file", "dir", "symlink" or "other" (fifo, socket, device)
    mode: int  # permission bits
    size: int = 0
    mtime_ns: int = 0
    sha256: str | None = None  # files only; None when the file could not be read
    target: str | None = None  # symlinks only, as written
    names: tuple[str, ...] = ()  # dirs only, sorted
    error: str | None = None  # why the entry could not be read
    sqlite: bool = False  # a file that starts with SQLite's 16-byte header
    magic: str | None = None  # files only: ``magic_of`` its first bytes

    def changes(self, after: Entry) -> list[str]:
        """How ``after`` differs, in words ([] when a person would call it untouched).

        Directory mtimes are left out on purpose: creating and removing a temporary file
        changes them without changing anything a user owns.
        """
        if self.kind != after.kind:
            return [f"was a {self.kind}, now a {after.kind}"]
        out = []
        if self.kind == "file":
            if self.size != after.size:
                out.append(f"size {self.size} -> {after.size}")
            if self.sha256 != after.sha256:
                out.append("content")
            if self.mtime_ns != after.mtime_ns:
                out.append("mtime")
        if self.kind == "symlink" and self.target != after.target:
            out.append(f"target {self.target!r} -> {after.target!r}")
        if self.mode != after.mode:
            out.append(f"mode {self.mode:o} -> {after.mode:o}")
        return out


@dataclass(frozen=True)
class DbState:
    """One SQLite file: its logical content, or why it has none a person could use."""

    path: str  # relative to the tree
    content: DbContent | None
    error: str | None = None  # None when SQLite reads it, integrity is ok and it has tables

    @property
    def sound(self) -> bool:
        return self.content is not None and self.error is None

    @property
    def digest(self) -> str | None:
        return self.content.digest if self.content is not None else None


@dataclass(frozen=True)
class ProfileRow:
    user_id: str
    slug: str
    name: str
    id: str = field(default="", compare=False)  # a row-id layout names the folder after it


@dataclass(frozen=True)
class SystemState:
    """What ``system.db`` says: who the users are and which profiles exist."""

    users: frozenset[str] = frozenset()
    profiles: tuple[ProfileRow, ...] = ()
    error: str | None = None  # system.db missing or unreadable

    def profiles_of(self, user_id: str) -> list[ProfileRow]:
        return [p for p in self.profiles if p.user_id == user_id]

    def profile_id(self, user_id: str, slug: str) -> str | None:
        """The id of ``user_id``'s profile row ``slug`` (None: no such row)."""
        return next((p.id for p in self.profiles if p.user_id == user_id and p.slug == slug), None)


@dataclass(frozen=True)
class UserState:
    """Where one user's data sits."""

    user_id: str
    old_db: DbState | None  # peek.db (None: absent)
    new_db: DbState | None  # profiles/default/datastore.sqlite
    backup: DbState | None  # peek.db.pre-migration-backup
    old_sidecars: tuple[str, ...]  # names of peek.db-wal/-shm/-journal that exist
    old_images: dict[str, str] | None  # images/ : name -> sha256 (None: folder absent)
    new_images: dict[str, str] | None  # profiles/default/images/
    # Under a row-id layout (peek-uuid): the seed's migration's profiles/default, which the
    # migration renames to profiles/<row id> (None elsewhere, or when absent).
    slug_db: DbState | None = None
    slug_images: dict[str, str] | None = None

    @property
    def live(self) -> DbState | None:
        """The DB that holds the user's data: the first sound one of old, new, slug, backup.

        Old comes first: while peek.db is sound it is the original, whatever else exists
        (an empty new DB left by a dry run must not pass for the user's data).
        """
        dbs = (self.old_db, self.new_db, self.slug_db, self.backup)
        return next((d for d in dbs if d and d.sound), None)

    @property
    def images(self) -> dict[str, str]:
        """Every image the user has, old folders and new (new wins a name clash)."""
        return {**(self.old_images or {}), **(self.slug_images or {}), **(self.new_images or {})}

    @property
    def left_images(self) -> dict[str, str]:
        """Images in a folder the migration empties: ``images/``, and the seed's
        profiles/default/images under a row-id layout."""
        return {**(self.old_images or {}), **(self.slug_images or {})}

    def image_places(self, name: str) -> list[str]:
        """sha256 of ``name`` in each folder that has it."""
        folders = (self.old_images, self.slug_images, self.new_images)
        return [f[name] for f in folders if f and name in f]


@dataclass(frozen=True)
class Snapshot:
    """A whole tree: entries by relative POSIX path (the root is "."), DBs, system, users."""

    root: Path
    entries: dict[str, Entry]
    databases: dict[str, DbState]
    system: SystemState
    users: dict[str, UserState]
    # For each symlink in the tree that points outside it: the entries of what it points to.
    link_targets: dict[str, dict[str, Entry]] = field(default_factory=dict)

    @classmethod
    def take(cls, root: Path, *, scratch: Path | None = None) -> Snapshot:
        """Record ``root`` as it is. Reads only; DBs are opened through scratch copies.

        ``scratch`` is where those copies go (default: the system temp dir); keep it off a
        nearly full filesystem under test.
        """
        root = Path(os.path.abspath(root))
        entries = dict(_walk(root))
        databases = {
            rel: _MEMO.db(
                _bytes_key(entries, rel), rel, lambda r=rel: read_db(root / r, r, scratch=scratch)
            )
            for rel, entry in entries.items()
            if entry.kind == "file" and _is_database(rel, entry)
        }
        system = _MEMO.system(
            _bytes_key(entries, layout.SYSTEM_DB),
            lambda: read_system(root / layout.SYSTEM_DB, scratch=scratch),
        )
        users = {
            name: _user_state(name, entries, databases, system)
            for name in entries[ROOT].names
            if layout.is_user_dir(root / name)
        }
        return cls(root, entries, databases, system, users, _link_targets(root, entries))

    def paths(self, user_id: str) -> layout.UserPaths:
        """``user_id``'s places under the layout in force, relative to the tree (a row-id
        layout's folder named after the profile row this snapshot's system.db holds)."""
        return _paths(user_id, self.system)

    def under(self, prefix: str) -> dict[str, Entry]:
        """Entries at ``prefix`` and below it."""
        top = self._by_top.get(prefix.split("/", 1)[0], {})
        return {p: e for p, e in top.items() if p == prefix or p.startswith(prefix + "/")}

    @property
    def size(self) -> tuple[int, int]:
        """(users, rows of their live databases): how big a reproduction this tree is."""
        rows = sum(
            n
            for u in self.users.values()
            if u.live and u.live.content
            for t, n in u.live.content.row_counts.items()
            if t != "sqlite_sequence"
        )
        return len(self.users), rows

    @cached_property
    def _by_top(self) -> dict[str, dict[str, Entry]]:
        """Entries grouped by their top-level name, so per-user lookups stay linear."""
        out: dict[str, dict[str, Entry]] = {}
        for p, e in self.entries.items():
            out.setdefault(p.split("/", 1)[0], {})[p] = e
        return out


# What :func:`open_copy` reads: the sha256 of the file and of each sidecar that is a regular
# file, and their total size (what the memo's budget counts).
BytesKey = tuple[str, tuple[str | None, ...], int]
MEMO_ENTRIES = 512  # databases kept; a small user's content is some tens of KB
MEMO_MAX_BYTES = 8 << 20  # a bigger database (file and sidecars) is read every time
MEMO_BUDGET = 64 << 20  # bytes of database files whose content is kept, all entries together
_T = TypeVar("_T")


def _bytes_key(entries: dict[str, Entry], rel: str) -> BytesKey | None:
    """The sha256 of the database at ``rel`` and of the sidecars :func:`open_copy` copies
    (a regular file: its digest; anything else, which it skips: None), or None when that
    cannot be said (a file unread, or too big to keep)."""
    entry = entries.get(rel)
    if entry is None or entry.kind != "file" or entry.sha256 is None:
        return None
    size = entry.size
    sides: list[str | None] = []
    for suffix in SIDECARS:
        side = entries.get(rel + suffix)
        if side is None or side.kind != "file":
            sides.append(None)  # absent, a symlink, a folder: not copied, not read
            continue
        if side.sha256 is None:
            return None
        size += side.size
        sides.append(side.sha256)
    return (entry.sha256, tuple(sides), size) if size <= MEMO_MAX_BYTES else None


class _DbMemo:
    """Databases already read in this process, by the bytes they were read from.

    Only what a byte-identical copy must read the same is kept: content, integrity and the
    tables. A database SQLite could not read is read again every time (its error names the
    path it was read at, which differs from tree to tree).
    """

    def __init__(self, limit: int = MEMO_ENTRIES, budget: int = MEMO_BUDGET) -> None:
        self.limit, self.budget = limit, budget
        self._bytes = 0
        self._dbs: OrderedDict[BytesKey, DbState] = OrderedDict()
        self._systems: OrderedDict[BytesKey, SystemState] = OrderedDict()

    def db(self, key: BytesKey | None, rel: str, read: Callable[[], DbState]) -> DbState:
        known = self._get(self._dbs, key)
        if known is not None:
            return DbState(rel, known.content, known.error)
        state = read()
        if key is not None and state.content is not None:
            self._put(self._dbs, key, state)
        return state

    def system(self, key: BytesKey | None, read: Callable[[], SystemState]) -> SystemState:
        known = self._get(self._systems, key)
        if known is not None:
            return known
        state = read()
        if key is not None and state.error is None:
            self._put(self._systems, key, state)
        return state

    def _get(self, memo: OrderedDict[BytesKey, _T], key: BytesKey | None) -> _T | None:
        if key is None:
            return None
        value = memo.get(key)
        if value is not None:
            with contextlib.suppress(KeyError):  # evicted meanwhile by another thread
                memo.move_to_end(key)
        return value

    def _put(self, memo: OrderedDict[BytesKey, _T], key: BytesKey, value: _T) -> None:
        if key in memo:
            return
        memo[key] = value
        self._bytes += key[2]
        while memo and (len(memo) > self.limit or self._bytes > self.budget):
            self._bytes -= memo.popitem(last=False)[0][2]

    def clear(self) -> None:
        self._dbs.clear()
        self._systems.clear()
        self._bytes = 0


_MEMO = _DbMemo()


def _is_database(rel: str, entry: Entry) -> bool:
    name = rel.rsplit("/", 1)[-1]
    named = name in (layout.OLD_DB, layout.NEW_DB, layout.SYSTEM_DB) or name.endswith(
        layout.BACKUP_SUFFIX
    )
    return named or name in layout.active().file_names or entry.sqlite


def _walk(root: Path) -> Iterator[tuple[str, Entry]]:
    """Every entry under ``root`` (root included), depth first, symlinks not followed."""
    stack = [(root, ROOT)]
    while stack:
        path, rel = stack.pop()
        try:
            st = os.lstat(path)
        except OSError as exc:
            yield rel, Entry("other", 0, error=f"lstat: {exc.strerror}")
            continue
        entry = _entry(path, st)
        if entry.kind == "dir" and entry.error is None:
            for name in reversed(entry.names):
                stack.append((path / name, name if rel == ROOT else f"{rel}/{name}"))
        yield rel, entry


def _entry(path: Path, st: os.stat_result) -> Entry:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return Entry("symlink", mode, target=os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        try:
            names = tuple(sorted(os.listdir(path)))
        except OSError as exc:
            return Entry("dir", mode, error=f"cannot list: {exc.strerror}")
        return Entry("dir", mode, names=names)
    if not stat.S_ISREG(st.st_mode):
        return Entry("other", mode)  # never opened: a fifo would block the snapshot
    sha, head, error = _hash(path)
    return Entry(
        "file",
        mode,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        sha256=sha,
        error=error,
        sqlite=head[: len(SQLITE_HEADER)] == SQLITE_HEADER,
        magic=magic_of(head),
    )


def _hash(path: Path) -> tuple[str | None, bytes, str | None]:
    """(sha256, the first bytes, error) streaming 1 MiB at a time."""
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, b"", f"cannot open: {exc.strerror or errno.errorcode.get(exc.errno)}"
    head = b""
    try:
        with os.fdopen(fd, "rb", buffering=0) as f:
            while chunk := f.read(CHUNK):
                if not head:
                    head = chunk[:HEAD]
                h.update(chunk)
    except OSError as exc:
        return None, b"", f"cannot read: {exc.strerror}"
    return h.hexdigest(), head, None


def read_db(path: Path, rel: str, *, scratch: Path | None = None) -> DbState:
    """The DB at ``path`` judged as a person would: readable, intact, and a real DB.

    A zero-length file opens as an empty database; it is still damage (a real peek.db
    always has tables), so it is unsound, as is one whose integrity_check fails.
    """
    try:
        content = _read(path, scratch)
    except UnreadableDatabase as exc:
        return DbState(rel, None, f"unreadable: {exc}")
    if content.integrity != "ok":
        return DbState(rel, content, f"integrity_check: {content.integrity}")
    if not content.tables:
        return DbState(rel, content, "no tables (empty or zero-length file)")
    return DbState(rel, content)


def _read(path: Path, scratch: Path | None) -> DbContent:
    with open_copy(path, scratch=scratch) as conn:
        return content_of(conn)


def read_system(path: Path, *, scratch: Path | None = None) -> SystemState:
    """users and profiles rows of ``system.db`` (an absent profiles table means none)."""
    try:
        with open_copy(path, scratch=scratch) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            users = frozenset(r[0] for r in conn.execute("SELECT id FROM users"))
            profiles: tuple[ProfileRow, ...] = ()
            if "profiles" in tables:
                rows = conn.execute("SELECT user_id, slug, name, id FROM profiles ORDER BY 1, 2")
                profiles = tuple(ProfileRow(*r[:3], id=str(r[3])) for r in rows)
    except UnreadableDatabase as exc:
        return SystemState(error=str(exc))
    return SystemState(users, profiles)


def _user_state(
    user_id: str, entries: dict[str, Entry], databases: dict[str, DbState], system: SystemState
) -> UserState:
    paths = _paths(user_id, system)

    def rel(p: Path) -> str:
        return p.as_posix()

    slug = seed_places(paths)
    return UserState(
        user_id=user_id,
        old_db=databases.get(rel(paths.old_db)),
        new_db=databases.get(rel(paths.new_db)),
        backup=databases.get(rel(paths.backup)),
        old_sidecars=tuple(p.name for p in paths.old_sidecars() if rel(p) in entries),
        old_images=_images(rel(paths.old_images), entries),
        new_images=_images(rel(paths.new_images), entries),
        slug_db=databases.get(rel(slug.new_db)) if slug else None,
        slug_images=_images(rel(slug.new_images), entries) if slug else None,
    )


def seed_places(paths: layout.UserPaths) -> layout.UserPaths | None:
    """Under a row-id layout, the places of the seed's migration (profiles/default) that
    the migration renames; None under any other layout (nothing to rename)."""
    if not paths.layout.by_row_id:
        return None
    return layout.UserPaths(paths.data_dir, paths.user_id, None, layout.BUILT_IN[layout.PEEK_SLUG])


def _paths(user_id: str, system: SystemState) -> layout.UserPaths:
    rules = layout.active()
    profile_id = system.profile_id(user_id, rules.profile_slug) if rules.by_row_id else None
    return layout.UserPaths(Path(), user_id, profile_id, rules)


def _images(folder: str, entries: dict[str, Entry]) -> dict[str, str] | None:
    entry = entries.get(folder)
    if entry is None or entry.kind != "dir":
        return None
    prefix = folder + "/"
    return {
        p[len(prefix) :]: e.sha256 or f"unreadable: {e.error}"
        for p, e in entries.items()
        if p.startswith(prefix) and e.kind == "file"
    }


def _link_targets(root: Path, entries: dict[str, Entry]) -> dict[str, dict[str, Entry]]:
    """For each symlink pointing outside ``root``: the entries of its target (not followed)."""
    out = {}
    for rel, entry in entries.items():
        if entry.kind != "symlink":
            continue
        target = Path(os.path.realpath(root / rel))
        if target == root or root in target.parents or not os.path.lexists(target):
            continue
        out[rel] = dict(_walk(target))
    return out


# ---------------------------------------------------------------------------------------------
# What changed between two snapshots, in a person's terms.

LIST_LIMIT = 20  # lines per list in a printed diff; the rest is counted


@dataclass(frozen=True)
class Change:
    path: str  # relative to the tree
    what: str  # "added", "removed", or the differences ("size 4096 -> 0, content")

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


@dataclass(frozen=True)
class UserDiff:
    """What happened to one user's folder and data."""

    user_id: str
    changes: tuple[Change, ...] = ()
    # Rows of the user's data before (UserState.live) absent or different in their data
    # after (again UserState.live), per table.
    rows_missing: dict[str, int] = field(default_factory=dict)
    content_note: str | None = None  # e.g. "no database left" when rows cannot be compared
    images_missing: tuple[str, ...] = ()
    images_changed: tuple[str, ...] = ()

    @property
    def loses_data(self) -> bool:
        return bool(
            self.rows_missing or self.images_missing or self.images_changed or self.content_note
        )

    @property
    def empty(self) -> bool:
        return not (self.changes or self.loses_data)

    def lines(self) -> list[str]:
        out = [f"  {c}" for c in _limited(self.changes)]
        if self.content_note:
            out.append(f"  content: {self.content_note}")
        if self.rows_missing:
            rows = ", ".join(f"{t} {n}" for t, n in sorted(self.rows_missing.items()))
            out.append(f"  rows missing: {rows}")
        if self.images_missing:
            out.append(f"  images missing: {', '.join(_limited(self.images_missing))}")
        if self.images_changed:
            out.append(f"  images changed: {', '.join(_limited(self.images_changed))}")
        return out


@dataclass(frozen=True)
class TreeDiff:
    """Per user what changed, plus changes outside user folders."""

    users: dict[str, UserDiff]
    other: tuple[Change, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.other and all(u.empty for u in self.users.values())

    def user(self, user_id: str) -> UserDiff:
        return self.users.get(user_id, UserDiff(user_id))

    def __str__(self) -> str:
        if self.empty:
            return "nothing changed"
        out = []
        for uid, udiff in sorted(self.users.items()):
            if not udiff.empty:
                out += [f"user {uid}:", *udiff.lines()]
        if self.other:
            out += ["outside user folders:", *(f"  {c}" for c in _limited(self.other))]
        return "\n".join(out)


def _limited(items) -> list[str]:
    items = [str(i) for i in items]
    if len(items) <= LIST_LIMIT:
        return items
    return [*items[:LIST_LIMIT], f"... and {len(items) - LIST_LIMIT} more"]


def entry_changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[Change]:
    """Entries added, removed or changed between two sets of entries."""
    out = [Change(p, "removed") for p in sorted(before.keys() - after.keys())]
    out += [Change(p, "added") for p in sorted(after.keys() - before.keys())]
    for p in sorted(before.keys() & after.keys()):
        what = before[p].changes(after[p])
        if what:
            out.append(Change(p, ", ".join(what)))
    return sorted(out, key=lambda c: c.path)


def diff(before: Snapshot, after: Snapshot) -> TreeDiff:
    """What changed from ``before`` to ``after``: files per user, rows and images lost."""
    users = {}
    for uid in sorted(before.users.keys() | after.users.keys()):
        users[uid] = user_diff(before, after, uid)
    claimed = set(users)
    outside_before = {p: e for p, e in before.entries.items() if _owner(p) not in claimed}
    outside_after = {p: e for p, e in after.entries.items() if _owner(p) not in claimed}
    return TreeDiff(users, tuple(entry_changes(outside_before, outside_after)))


def _as_moves(
    changes: list[Change], before: dict[str, Entry], after: dict[str, Entry]
) -> list[Change]:
    """A file removed here and added there with the same name and bytes reads as a move."""
    added = {
        (c.path.rsplit("/", 1)[-1], after[c.path].sha256): c.path
        for c in changes
        if c.what == "added" and after[c.path].kind == "file"
    }
    out, moved_to = [], set()
    for c in changes:
        entry = before.get(c.path)
        key = (c.path.rsplit("/", 1)[-1], entry.sha256) if entry else None
        if c.what == "removed" and entry.kind == "file" and key in added:
            moved_to.add(added[key])
            out.append(Change(c.path, f"moved to {added[key]}"))
        else:
            out.append(c)
    return [c for c in out if c.path not in moved_to or c.what != "added"]


def _owner(rel: str) -> str:
    return rel.split("/", 1)[0]


def user_diff(before: Snapshot, after: Snapshot, user_id: str) -> UserDiff:
    """One user's diff: file changes, rows the user no longer has, images lost."""
    b_entries, a_entries = before.under(user_id), after.under(user_id)
    changes = tuple(_as_moves(entry_changes(b_entries, a_entries), b_entries, a_entries))
    b, a = before.users.get(user_id), after.users.get(user_id)
    rows: dict[str, int] = {}
    note = None
    images_missing: list[str] = []
    images_changed: list[str] = []
    if b is not None:
        rows, note = _rows_missing(b, a)
        for name, sha in sorted(b.images.items()):
            places = a.image_places(name) if a else []
            if not places:
                images_missing.append(name)
            elif sha not in places:
                images_changed.append(name)
    return UserDiff(user_id, changes, rows, note, tuple(images_missing), tuple(images_changed))


def _rows_missing(before: UserState, after: UserState | None) -> tuple[dict[str, int], str | None]:
    """Rows of the user's data before that the best DB after lacks (both as ``live`` says).

    "Best" on both sides keeps the diff about loss: whether the right DB is in the right
    place is a rule's question (R1, R5), answered by the oracles.
    """
    was = before.live
    if was is None or was.content is None:
        return {}, None  # nothing sound to lose
    now = after.live if after else None
    if now is None or now.content is None:
        return was.content.row_counts, "no sound database left for this user"
    return was.content.missing_rows(now.content), None
