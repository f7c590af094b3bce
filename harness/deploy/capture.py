"""``migration-kit capture``: describe a real data dir as a ``TreeSpec``, leaving its data behind.

A field failure is only fixed for good once it is a test. The tree that failed cannot leave
the server (it is people's data), but its *shape* can: which state each user is in, how
big the databases are, how much sits in a ``-wal``, what is damaged, which odd permissions
and stray entries are there. That shape is a ``fixtures.spec.TreeSpec``, which
``fixtures.build`` turns into a look-alike with generated content, so ``replay`` and CI can
run any migrator on it.

Two files are written: ``FIELD.json``, the spec itself (``fixtures.spec.spec_from_json``
loads it, ``migration-kit fixtures build`` builds it), and ``FIELD.measured.json`` beside it,
the measured facts that a spec has no field for (sizes, row counts per table, page size and
journal mode, integrity results, image sizes, quirk counts) and the approximations made,
so a person can judge how alike the look-alike is.

What never leaves the machine: row values, file names chosen by users, symlink targets,
and user ids. Ids become ``u-<sha256(salt, id)[:10]>`` with a secret per-installation salt
(``--salt-file``), so the same user gets the same id in every capture from this machine
(two tickets can be matched) while nobody without the salt can test a guessed id.

The source is only read: databases through copies in scratch space, and users classified
by ``harness.deploy.survey`` as in ``plan`` (the harness's own reading, not the migrator's).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fixtures import spec as S
from fixtures.build import kit_version
from harness.contract import layout
from harness.contract.errors import KitError
from harness.contract.layout import UserPaths
from harness.contract.settings import CAPTURE_SALT_ENV as SALT_ENV
from harness.deploy import survey
from harness.deploy.plan import plan_user
from harness.deploy.survey import Accounts, DamagedDb, Kind, UserFiles

MEASURED_SUFFIX = ".measured.json"
ID_HEX = 10
HEADER = 100
MIB = 1 << 20
DAY_SECONDS = 86400.0
NEW_DB_REL = f"{layout.PROFILES_DIR}/{layout.DEFAULT_PROFILE_SLUG}/{layout.NEW_DB}"
NEW_IMAGES_REL = f"{layout.PROFILES_DIR}/{layout.DEFAULT_PROFILE_SLUG}/{layout.IMAGES_DIR}"


class CaptureError(KitError):
    """The capture cannot be written as asked; the message names the path and what to do."""


# -- anonymous ids ----------------------------------------------------------------------------


def default_salt_file() -> Path:
    """``$MIGRATION_KIT_CAPTURE_SALT_FILE``, else ``~/.config/migration-kit/capture-salt``."""
    if os.environ.get(SALT_ENV):
        return Path(os.environ[SALT_ENV])
    return builtin_salt_file()


def builtin_salt_file() -> Path:
    """``~/.config/migration-kit/capture-salt``: the one salt file whose folder the kit
    creates (it is the kit's own); a folder the user named must exist already."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "migration-kit" / "capture-salt"


def load_salt(path: Path, data_dir: Path) -> bytes:
    """The salt in ``path``, created (random, mode 0600) on first use; never in DATA_DIR.

    Only the built-in default's folder is created: a missing folder in a path the user gave
    (``--salt-file``, the environment) is a typo to report, not a folder to make."""
    path = Path(path).absolute()
    if inside(path, data_dir):
        raise CaptureError(
            f"{path}: the salt file would be written inside the data dir {data_dir}; "
            "pass --salt-file outside it"
        )
    if not path.parent.is_dir() and path != builtin_salt_file().absolute():
        raise CaptureError(
            f"{path.parent}: no such directory for the salt file {path.name}; create it or "
            "pass --salt-file in an existing folder"
        )
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        salt = path.read_text().strip()
    except OSError as exc:
        raise CaptureError(
            f"{path}: cannot read or create the salt file ({exc.strerror}); pass --salt-file "
            "with a path you can write"
        ) from exc
    if len(salt) < 16:
        raise CaptureError(f"{path}: too short for a salt; delete it to get a new one")
    return salt.encode()


def anonymous_id(salt: bytes, user_id: str) -> str:
    """A stable id that says nothing about ``user_id`` to anyone without ``salt``.

    Hashed as the folder name's bytes (``os.fsencode``): a name that is not UTF-8 is a str
    with surrogate escapes here, which ``str.encode`` refuses."""
    return "u-" + hashlib.sha256(salt + b"\0" + os.fsencode(user_id)).hexdigest()[:ID_HEX]


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or under it, symlinks resolved."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


# -- one database -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbMeasure:
    """One SQLite file, measured through a scratch copy (the original is never opened)."""

    size: int
    wal: int
    shm: int
    journal: int
    mode: str  # permission bits, e.g. "0644"
    header: str  # "sqlite", "empty", "zeroed", "text" or "garbage"
    page_size: int | None
    journal_mode: str | None  # "wal" or "rollback" as the header says
    pages_in_header: int | None  # the header's database size in pages
    integrity: str  # "ok" or what is wrong
    rows: dict[str, int]  # per table, -wal included
    wal_only_items: int  # items rows that exist only in the -wal
    # The Peek schema generation (1 urls, 2 no images, 3 current). Named apart from the
    # word "generation", which is also a tag in generated rows: the leak test looks for
    # every row value in the output files, key names included.
    peek_schema: int | None = None

    @property
    def items(self) -> int:
        """The rows that are the user's items: ``urls`` in generation 1, else ``items``."""
        return self.rows.get(item_table(self.peek_schema), 0)

    @property
    def sound(self) -> bool:
        return self.integrity == "ok"


def _header_facts(head: bytes) -> tuple[str, int | None, str | None, int | None]:
    if not head:
        return "empty", None, None, None
    if head[:16] != survey.SQLITE_MAGIC:
        if not any(head):
            return "zeroed", None, None, None
        text = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
        return ("text" if text else "garbage"), None, None, None
    if len(head) < HEADER:
        return "sqlite", None, None, None
    raw_page = int.from_bytes(head[16:18], "big")
    page = 65536 if raw_page == 1 else raw_page
    mode = {1: "rollback", 2: "wal"}.get(head[18])
    return "sqlite", page, mode, int.from_bytes(head[28:32], "big")


def item_table(generation: int | None) -> str:
    """Where a datastore of ``generation`` keeps its items (peek-facts "Schema generations")."""
    return "urls" if generation == 1 else "items"


def _items_in_main(db: Path, scratch: Path, table: str = "items") -> int | None:
    """items rows in the main file alone, or None: a copy of it without its -wal, opened
    ``immutable`` (which reads no sidecar).

    A main file that opens but has no such table holds none of them: the field's 4 KB
    ``peek.db`` beside a 4 MB ``peek.db-wal`` keeps its whole schema in the -wal (written
    with checkpoints off, copied while open). That is a WAL share of 100 %, the very state
    that lost data, not an unknown one: None is for a main file SQLite cannot read.
    """
    with tempfile.TemporaryDirectory(dir=scratch, prefix="main-only-") as tmp:
        copy = Path(tmp) / "main.db"
        shutil.copyfile(db, copy)
        uri = f"file:{quote(str(copy))}?mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            try:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                    (table,),
                ).fetchone()[0]
                if not tables:
                    return 0
                return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            return None


def measure_db(db: Path, scratch: Path) -> DbMeasure:
    """Sizes, header facts, integrity and row counts of ``db`` (+ sidecars), via copies."""

    def size(suffix: str) -> int:
        return survey.file_size(db.with_name(db.name + suffix))

    with open(db, "rb") as f:
        head = f.read(HEADER)
    kind, page, journal_mode, pages = _header_facts(head)
    rows: dict[str, int] = {}
    wal_only = 0
    generation = None
    try:
        reading = survey.read_db(db, scratch=scratch)
        rows = dict(sorted(reading.rows.items()))
        generation = reading.generation
        integrity = "ok"
    except DamagedDb as exc:
        integrity = str(exc)[:200]
    table = item_table(generation)
    in_main = _items_in_main(db, scratch, table) if kind == "sqlite" else None
    if in_main is not None and table in rows:
        wal_only = max(0, rows[table] - in_main)
    return DbMeasure(
        size=survey.file_size(db),
        wal=size("-wal"),
        shm=size("-shm"),
        journal=size("-journal"),
        mode=f"{stat.S_IMODE(os.lstat(db).st_mode):04o}",
        header=kind,
        page_size=page,
        journal_mode=journal_mode,
        pages_in_header=pages,
        integrity=integrity,
        rows=rows,
        wal_only_items=wal_only,
        peek_schema=generation,
    )


def damage_kind(m: DbMeasure) -> str:
    """The ``fixtures.spec.DAMAGE_KINDS`` entry that best reproduces a damaged file."""
    if m.header == "empty":
        return "empty"
    if m.header == "zeroed":
        return "zeroed_header"
    if m.header == "text":
        return "not_a_db"
    if m.header == "garbage":
        return "garbage_header"
    if m.page_size and (m.size % m.page_size or (m.pages_in_header or 0) * m.page_size > m.size):
        return "truncated"
    return "btree"


# -- one user -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageMeasure:
    count: int
    bytes: tuple[int, ...]  # sizes, sorted
    extensions: dict[str, int]


def _images(folder: Path) -> ImageMeasure | None:
    if not folder.is_dir() or folder.is_symlink():
        return None
    sizes, exts = [], Counter()
    for e in os.scandir(folder):
        if e.is_file(follow_symlinks=False):
            sizes.append(e.stat(follow_symlinks=False).st_size)
            ext = e.name.rsplit(".", 1)[-1].lower() if "." in e.name else ""
            exts[ext if ext.isalnum() and len(ext) <= 5 else "other"] += 1
    return ImageMeasure(len(sizes), tuple(sorted(sizes)), dict(sorted(exts.items())))


@dataclass(frozen=True)
class UserCapture:
    """One user: the spec entry and what was measured (already anonymous)."""

    spec: S.UserSpec
    measured: dict[str, Any]
    notes: tuple[str, ...]


def _known_names(paths: UserPaths) -> set[str]:
    """Names in a user's folder that are SPEC's, or the reference migrator's scratch: the
    rest counts as stray entries."""
    scratch = (p.name for p in survey.reference_scratch_paths(paths) if p.parent == paths.root)
    return {
        layout.OLD_DB,
        *(p.name for p in paths.old_sidecars()),
        paths.backup.name,
        layout.IMAGES_DIR,
        layout.PROFILES_DIR,
        *scratch,
    }


def capture_user(paths: UserPaths, anon: str, accounts: Accounts, scratch: Path) -> UserCapture:
    """Measure one user and map them onto a ``UserSpec`` named ``anon``."""
    registered = accounts.has_user(paths.user_id)
    # An orphan is classified as if registered: its folder's state is what the spec needs,
    # the missing users row becomes the no_users_row quirk.
    found = plan_user(paths.data_dir, paths.user_id, accounts.registering(paths.user_id)).plan
    tree = survey.scan(paths)
    dbs = {
        rel: measure_db(p, scratch)
        for rel, p in (
            (layout.OLD_DB, paths.old_db),
            (NEW_DB_REL, paths.new_db),
            (paths.backup.name, paths.backup),
        )
        if p.is_file() and not p.is_symlink()
    }
    images = {
        rel: m
        for rel, m in (
            (layout.IMAGES_DIR, _images(paths.old_images)),
            (NEW_IMAGES_REL, _images(paths.new_images)),
        )
        if m is not None
    }
    root_mode = stat.S_IMODE(os.lstat(paths.root).st_mode)
    known = _known_names(paths)
    entries = list(os.scandir(paths.root))
    stray = [e for e in entries if e.name not in known]
    quirks = {
        "symlinks": sum(e.is_symlink() for e in entries),
        "stray_entries": len(stray),
        "stray_bytes": sum(e.stat(follow_symlinks=False).st_size for e in stray if e.is_file()),
        "scratch_of_interrupted_run": len(tree.leftovers),
    }
    backup_age = round(_age_days(paths.backup), 1) if tree.backup else None
    spec, notes = _user_spec(
        anon, found, tree, dbs, images, registered, accounts, root_mode, backup_age
    )
    measured = {
        "id": anon,
        "state": found.state if registered else "orphan",
        "state_if_registered": found.state,
        "half": found.half,
        "problem": found.problem if registered else "orphan",
        "users_row": registered,
        "profile_row": accounts.has_profile(paths.user_id),
        "dir_mode": f"{root_mode:04o}",
        "dbs": {rel: _plain(m) for rel, m in dbs.items()},
        "images": {rel: _plain(m) for rel, m in images.items()},
        "backup_age_days": backup_age,
        "quirks": quirks,
    }
    return UserCapture(spec, measured, tuple(f"{anon}: {n}" for n in notes))


def _age_days(path: Path) -> float:
    """Days since ``path`` was last modified: how old a backup is to a grace period (R11)."""
    return (time.time() - path.stat().st_mtime) / DAY_SECONDS


def _plain(obj: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(obj).items()}


def _user_spec(
    anon: str,
    found: Any,
    tree: UserFiles,
    dbs: dict[str, DbMeasure],
    images: dict[str, ImageMeasure],
    registered: bool,
    accounts: Accounts,
    root_mode: int,
    backup_age: float | None,
) -> tuple[S.UserSpec, list[str]]:
    """The fixture state, sizes and quirks that reproduce this user, and what is approximate."""
    notes: list[str] = []
    old = dbs.get(layout.OLD_DB)
    new = dbs.get(NEW_DB_REL)
    backup = dbs.get(layout.OLD_DB + layout.BACKUP_SUFFIX)
    has_profile = accounts.has_profile(tree.paths.user_id)
    st = _fixture_state(found, tree, old, backup, has_profile, notes)
    live = next((m for m in (old, new, backup) if m is not None and m.sound), None)
    kw: dict[str, Any] = {"user_id": anon, "state": st}
    damaged = old is not None and not old.sound and st in S.OLD_DB_STATES
    if st == "no_db":
        kw.update(items=0, images=0)
        if images:
            notes.append("an images folder without any database is not reproduced")
    elif damaged:
        kw["damage"] = damage_kind(old)
        kw["target_bytes"] = max(old.size, S.MIN_TARGET_BYTES)
    else:
        kw["items"] = live.items if live else 0
    generation = live.peek_schema if live is not None and not damaged else None
    if generation in (1, 2) and st != "no_db":
        kw["generation"] = generation  # replay rebuilds the same generation
    if st != "no_db":
        kw["images"] = _image_count(images, kw, notes)
    live_items = live.items if live is not None else 0
    if live_items and not damaged and st in S.LIVE_DB_STATES:
        kw["wal_share"] = round(min(1.0, live.wal_only_items / live_items), 3)
    if backup_age is not None and st in S.BACKUP_STATES:
        kw["backup_age_days"] = backup_age
    kw["quirks"] = _quirks(tree, registered, st, root_mode, old, notes)
    return S.UserSpec(**kw), notes


def _image_count(images: dict[str, ImageMeasure], kw: dict[str, Any], notes: list[str]) -> int:
    count = sum(m.count for m in images.values())
    if kw.get("generation", 3) < 3:
        if count:
            notes.append(
                f"{count} image files beside a datastore of Peek schema {kw['generation']} "
                "datastore (no image items) are not reproduced"
            )
        return 0
    if "target_bytes" not in kw and count > kw["items"]:
        notes.append(f"{count} image files for {kw['items']} items; built with {kw['items']}")
        count = kw["items"]
    if count > S.MAX_IMAGES:
        notes.append(f"{count} image files; built with {S.MAX_IMAGES}")
        count = S.MAX_IMAGES
    return count


def _fixture_state(
    found: Any,
    tree: UserFiles,
    old: DbMeasure | None,
    backup: DbMeasure | None,
    has_profile: bool,
    notes: list[str],
) -> str:
    """Map the survey's classification onto ``fixtures.spec.USER_STATES``."""
    kind = tree.kind
    if kind is Kind.LEGACY:
        if tree.leftovers:
            return "leftover_temp"
        if has_profile:
            return "profile_without_db"
        if backup is not None and (not backup.sound or backup.rows != (old.rows if old else {})):
            return "partial_backup"
        if backup is not None:
            notes.append("a legacy user with a matching backup is built without the backup")
        return "legacy"
    if kind is Kind.BOTH:
        if found.state == "conflict" or found.problem == "conflict":
            notes.append("a conflicting new DB is built empty (the dry-run trap)")
            return "both_different"
        return "both_identical"
    old_name = tree.paths.old_db.name  # the layout's name for it (peek.db by default)
    if kind is Kind.MIGRATED:
        if tree.stray_wal is not None:
            notes.append(f"a {old_name}-wal left without {old_name} is not reproduced")
        if tree.old_sidecars and tree.stray_wal is None:
            notes.append(f"empty {old_name} sidecars left without {old_name} are not reproduced")
        if tree.leftovers:
            notes.append("scratch of an interrupted run beside a migrated DB is not reproduced")
        if not has_profile:
            return "new_without_profile"
        if tree.old_images:
            return "images_half_moved"
        return "migrated"
    if tree.backup:
        return "backup_only"
    if tree.stray_wal is not None:
        notes.append(f"a {old_name}-wal without any database is not reproduced")
    return "no_db"


def _quirks(
    tree: UserFiles,
    registered: bool,
    st: str,
    root_mode: int,
    old: DbMeasure | None,
    notes: list[str],
) -> tuple[str, ...]:
    out = []
    if not registered:
        if st in S.PROFILE_ROW_STATES:
            notes.append("no users row, yet a profiles row: built with a users row")
        else:
            out.append("no_users_row")
    if old is not None and st in S.OLD_DB_STATES and not int(old.mode, 8) & 0o222:
        out.append("readonly_db")
    if not root_mode & 0o222:
        out.append("readonly_dir")
    return tuple(out)


# -- the whole tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    spec: S.TreeSpec
    measured: dict[str, Any]


def capture(data_dir: Path | str, *, salt: bytes) -> Capture:
    """Describe ``data_dir``; raises ``survey.DataDirError`` when it is no data dir."""
    data_dir = Path(data_dir).absolute()
    started = time.monotonic()
    user_dirs, accounts = survey.open_data_dir(data_dir)
    anon = {p.name: anonymous_id(salt, p.name) for p in user_dirs}
    if len(set(anon.values())) != len(anon):  # pragma: no cover - 40 bits, 10^4 users
        raise CaptureError("two user ids hash to the same anonymous id; capture again")
    users: list[UserCapture] = []
    with tempfile.TemporaryDirectory(prefix="mk-capture-") as scratch:
        for p in user_dirs:
            found = found_layout(data_dir, p.name, accounts)
            with _layout_in_force(found):  # the user measured where their files are
                user = capture_user(
                    accounts.paths(data_dir, p.name), anon[p.name], accounts, Path(scratch)
                )
            if found is not None:
                spec = dataclasses.replace(user.spec, layout=found)
                user = dataclasses.replace(
                    user, spec=spec, measured=user.measured | {"layout": found}
                )
            users.append(user)
    users.sort(key=lambda u: u.spec.user_id)
    extras, top = _top_level(data_dir, set(anon))
    profile_states = any(u.spec.state in S.PROFILE_ROW_STATES for u in users)
    spec = S.TreeSpec(
        users=tuple(u.spec for u in users),
        extras=extras,
        profiles_table=accounts.has_profiles_table or profile_states,
    )
    S.check_tree(spec)
    measured = {
        "kind": "field-measurements",
        "kit_version": kit_version(),
        "salt_id": hashlib.sha256(b"salt-id\0" + salt).hexdigest()[:8],
        "capture_seconds": round(time.monotonic() - started, 2),
        "tree": top | {"system_db": _system_facts(data_dir, accounts, set(anon))},
        "users": [u.measured for u in users],
        "approximations": [n for u in users for n in u.notes] + top.pop("notes", []),
    }
    return Capture(spec, measured)


def found_layout(data_dir: Path, user_id: str, accounts: Accounts) -> str | None:
    """The built-in layout whose profile folder the user's migrated files sit in, when it is
    not the layout in force: a field tree part way between two migrations (the seed's
    profiles/default where peek-uuid is in force, or profiles/<row id> under peek-slug).
    None: the layout in force (or no profile folder at all: legacy, no DB).

    Recorded as the user's ``layout`` so that ``replay`` rebuilds the folder where it was."""
    chosen = layout.active()
    profile_id = accounts.profile_ids.get(user_id)

    def has_folder(paths: UserPaths) -> bool:
        return paths.profile_dir.is_dir() and not paths.profile_dir.is_symlink()

    if has_folder(UserPaths(data_dir, user_id, profile_id, chosen)):
        return None
    for name in (layout.PEEK_UUID, layout.PEEK_SLUG):
        other = layout.BUILT_IN[name]
        if other.name != chosen.name and has_folder(
            UserPaths(data_dir, user_id, profile_id, other)
        ):
            return name
    return None


@contextlib.contextmanager
def _layout_in_force(name: str | None) -> Iterator[None]:
    """Read one user through the built-in layout ``name`` (None: leave the layout in force):
    the survey and plan read the layout from the environment, as every kit process does."""
    if name is None:
        yield
        return
    before = os.environ.get(layout.LAYOUT_ENV)
    os.environ[layout.LAYOUT_ENV] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(layout.LAYOUT_ENV, None)
        else:
            os.environ[layout.LAYOUT_ENV] = before


def _top_level(data_dir: Path, users: set[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    counts: Counter[str] = Counter()
    backups_bytes = backups_files = 0
    with os.scandir(data_dir) as it:
        entries = list(it)
    for e in entries:
        if e.name in users or e.name.startswith(layout.SYSTEM_DB):
            continue
        if e.is_symlink():
            counts["symlinks"] += 1
        elif e.name == layout.SERVER_BACKUPS_DIR and e.is_dir():
            counts["server_backups"] += 1
            for dirpath, _dirs, files in os.walk(e.path):
                backups_files += len(files)
                backups_bytes += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
        elif e.name.startswith("."):
            counts["dot_entries"] += 1
        elif e.is_file(follow_symlinks=False):
            counts["stray_files"] += 1
        else:
            counts["other"] += 1
    extras = []
    if counts["server_backups"]:
        extras.append("server_backups")
    if counts["dot_entries"]:
        extras.append("dot_entries")
    if counts["stray_files"]:
        extras.append("stray_files")
    if counts["symlinks"]:
        extras.append("symlinked_user")
    notes = []
    if counts["other"]:
        notes.append(f"{counts['other']} other top-level entries (folders?) are not reproduced")
    usage = os.statvfs(data_dir)
    top = {
        "entries": dict(sorted(counts.items())),
        "server_backups": {"files": backups_files, "bytes": backups_bytes},
        "filesystem": {
            "free": usage.f_bavail * usage.f_frsize,
            "total": usage.f_blocks * usage.f_frsize,
        },
        "notes": notes,
    }
    return tuple(extras), top


def _system_facts(data_dir: Path, accounts: Accounts, users: set[str]) -> dict[str, Any]:
    db = data_dir / layout.SYSTEM_DB
    return {
        "size": survey.file_size(db),
        "wal": survey.file_size(db.with_name(db.name + "-wal")),
        "users_rows": len(accounts.users),
        "users_rows_without_folder": len(accounts.users - users),
        "default_profile_rows": len(accounts.with_default_profile),
        "profiles_table": accounts.has_profiles_table,
    }


# -- writing -------------------------------------------------------------------------------------


def measured_path(field: Path) -> Path:
    """``FIELD.json`` -> ``FIELD.measured.json`` (the side file with the measured facts)."""
    name = field.name[:-5] if field.name.endswith(".json") else field.name
    return field.with_name(name + MEASURED_SUFFIX)


def check_out(out: Path, data_dir: Path) -> None:
    """Refuse an output path in the data dir (nothing is written there) or in no folder."""
    if inside(out, data_dir):
        raise CaptureError(
            f"{out}: inside the data dir being captured; nothing is written there: pass "
            "--out outside it"
        )
    if not out.parent.is_dir():
        raise CaptureError(f"{out.parent}: no such directory; create it or pass another --out")


def write(result: Capture, out: Path, data_dir: Path) -> tuple[Path, Path]:
    """Write ``out`` and its side file, each atomically; never inside ``data_dir``."""
    out = Path(out).absolute()
    side = measured_path(out)
    check_out(out, data_dir)
    texts = {
        out: S.spec_to_json(result.spec, indent=2) + "\n",
        side: json.dumps(result.measured, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    }
    for path, text in texts.items():
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CaptureError(
                f"{path}: cannot write it ({exc.strerror}); pass --out in a folder you can write"
            ) from exc
    return out, side
