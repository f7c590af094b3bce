"""The judgments the rules are made of: who is in which situation, and the facts SPEC names.

Each rule in ``rules.py`` is a short composition of these, so "untouched", "error reported"
or "migration finished" mean the same thing in every rule that says them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

from harness.contract import layout
from harness.judge.snapshot import DbState, Snapshot, UserState, entry_changes, seed_places
from harness.judge.verdict import Damage, Verdict
from harness.run.process import RunResult

# ---------------------------------------------------------------------------------------------
# Who is in which situation (SPEC's "situation" column), read off the snapshot before a run.
# A scenario that knows better (it built the tree) passes users= explicitly.


def registered(snap: Snapshot, uid: str) -> bool:
    return uid in snap.system.users


def legacy_users(snap: Snapshot) -> list[str]:
    """R1: a sound peek.db, no new DB, and a users row."""
    return [
        uid
        for uid, u in sorted(snap.users.items())
        if u.old_db and u.old_db.sound and u.new_db is None and registered(snap, uid)
    ]


def migrated_users(snap: Snapshot) -> list[str]:
    """R4: the new DB only (no peek.db, no backup, no image left behind), registered."""
    return [
        uid
        for uid, u in sorted(snap.users.items())
        if u.old_db is None
        and u.backup is None
        and u.new_db is not None
        and not u.old_images
        and registered(snap, uid)
    ]


def both_present_users(snap: Snapshot) -> list[str]:
    """R5: peek.db and the new DB both exist."""
    return [uid for uid, u in sorted(snap.users.items()) if u.old_db and u.new_db]


def no_db_users(snap: Snapshot) -> list[str]:
    """R6: no peek.db, no new DB (nor the seed's, under a row-id layout), no backup."""
    return [
        uid
        for uid, u in sorted(snap.users.items())
        if u.old_db is None and u.new_db is None and u.slug_db is None and u.backup is None
    ]


def seed_folder_users(snap: Snapshot) -> list[str]:
    """R4 under a row-id layout: migrated by the seed's code into profiles/default (no
    peek.db, no new DB at profiles/<row id>), registered: the migration renames the folder."""
    return [
        uid
        for uid, u in sorted(snap.users.items())
        if u.old_db is None
        and u.new_db is None
        and u.slug_db is not None
        and u.slug_db.sound
        and registered(snap, uid)
    ]


def profile_renamed(rule: str, before: Snapshot, after: Snapshot, uid: str) -> list[Verdict]:
    """The seed's profiles/default renamed to profiles/<row id>: the new DB with the seed
    folder's content, every image in the new folder and none left in the old ones, nothing
    left behind (profiles/default gone: renamed, not copied), the profile row."""
    a = after.users.get(uid)
    source = before.users[uid].slug_db
    assert source is not None, f"{uid} has no profiles/default to rename"
    return [
        same_content(rule, uid, "new DB", a.new_db if a else None, source),
        images_moved(rule, after, uid, before.users[uid].images),
        nothing_left_behind(rule, after, uid),
        profile_row(rule, after, uid),
    ]


def corrupt_users(snap: Snapshot) -> list[str]:
    """R7: a peek.db that SQLite cannot read, fails integrity_check, or has no tables."""
    return [uid for uid, u in sorted(snap.users.items()) if u.old_db and not u.old_db.sound]


def orphan_users(snap: Snapshot) -> list[str]:
    """R14: a legacy-looking folder (sound peek.db, no new DB) without a users row."""
    if snap.system.error:
        return []
    return [
        uid
        for uid, u in sorted(snap.users.items())
        if u.old_db and u.old_db.sound and u.new_db is None and not registered(snap, uid)
    ]


def is_verified_copy(user: UserState) -> bool:
    """R5: the new DB holds exactly the old DB's content (both sound)."""
    return bool(
        user.old_db
        and user.new_db
        and user.old_db.sound
        and user.new_db.sound
        and user.old_db.digest == user.new_db.digest
    )


def is_fully_migrated(snap: Snapshot, uid: str) -> bool:
    """R11: nothing left to migrate: no peek.db or sidecar, a sound new DB, no image left in
    the old folder, and the profile row."""
    u = snap.users.get(uid)
    return bool(
        u
        and u.old_db is None
        and not u.old_sidecars
        and u.new_db
        and u.new_db.sound
        and not u.old_images
        and len(_default_profiles(snap, uid)) == 1
    )


# ---------------------------------------------------------------------------------------------
# Facts SPEC names, each one verdict.


def untouched(rule: str, before: Snapshot, after: Snapshot, path: str, *, user: str | None):
    """Same names, sizes, contents, mtimes (and modes) at ``path`` and below it."""
    changes = entry_changes(before.under(path), after.under(path))
    entry = before.entries.get(path)
    what = f"{path}/ and everything in it" if entry and entry.kind == "dir" else path
    return Verdict(
        rule,
        user,
        not changes,
        f"{what} untouched (same names, sizes, contents, mtimes)",
        "untouched" if not changes else _count(len(changes), "entry changed", "entries changed"),
        "\n".join(f"  {c}" for c in first(changes)),
        damage=Damage.CHANGED,
        place=_within(path, user),
        evidence=tuple(str(c) for c in changes),
    )


def _within(path: str, user: str | None) -> str:
    """``path`` as every user's folder would name it (``alice/x`` -> ``x``), so that one
    kind of damage in many users' folders is one place; "" for a path outside them."""
    if user is None:
        return ""
    if path == user:
        return "the user's folder"
    return path.removeprefix(f"{user}/")


def mentions(output: str, uid: str) -> bool:
    """Whether ``output`` names ``uid`` as a word (``user-1`` is not in ``user-10``)."""
    return re.search(_word(uid), output) is not None


def _word(uid: str) -> str:
    spellings = "|".join(re.escape(s) for s in spellings_in_output(uid))
    return rf"(?<![\w-])(?:{spellings})(?![\w-])"


def spellings_in_output(uid: str) -> tuple[str, ...]:
    """How ``uid`` can appear in a run's output as the kit decodes it (UTF-8, a bad byte
    replaced by U+FFFD). A folder name that is not UTF-8 is a str with surrogate escapes
    (``os.fsdecode``); printed raw, its bytes come back with U+FFFD, printed escaped (Python's
    ``repr``, ``backslashreplace``) as ``\\udcXX``. Either spelling names the user; matching
    the surrogate itself never would, and the user would look unreported (a false R14)."""
    raw = os.fsencode(uid)
    return tuple(
        dict.fromkeys(
            (
                raw.decode("utf-8", errors="replace"),
                uid.encode("utf-8", errors="backslashreplace").decode("utf-8"),
            )
        )
    )


# A line that says it reports a failure: error, fail, critical as words (their inflections
# too: "Failed to migrate alice", "ERROR", "errors").
_ERROR_WORD = re.compile(r"\b(?:error|fail|critical)\w*", re.IGNORECASE)
_ERROR_LEVELS = frozenset({"error", "critical", "fatal"})


def error_lines(run: RunResult, uid: str) -> list[str]:
    """The lines of ``run``'s output that report a failure of ``uid`` (SPEC: "reported").

    A line names ``uid`` as a word and is either on stderr, or says error, fail or critical,
    or is a JSON event whose level (``level``, ``levelname`` or ``severity``) is an error
    level. The user's name alone is not enough: a server may name every user on success,
    and a failure exit status with a success line would then pass by luck.
    """
    named = re.compile(_word(uid))
    return [line for line in failure_lines(run) if named.search(line)]


def failure_lines(run: RunResult) -> list[str]:
    """The lines of ``run``'s output that report a failure, whoever they name: a line on
    stderr, a line saying error, fail or critical, or a JSON event with an error level
    (SPEC's "reported", without the user). A migrator's failure report, read only together
    with a user's name and a failure to judge; not what R18 reads in a working app's output
    (a warning on stderr, "0 errors"): that is :func:`error_events`."""
    stderr = {line.strip() for line in run.stderr.splitlines()}
    return [
        line
        for line in run.output.splitlines()
        if line.strip()
        and (line.strip() in stderr or _ERROR_WORD.search(line) or json_error_event(line))
    ]


def error_events(run: RunResult) -> list[str]:
    """The lines of ``run``'s output that are JSON events with an error level: an app's
    structured log saying something went wrong, whatever else it prints (R18)."""
    return [line for line in run.output.splitlines() if json_error_event(line)]


def json_error_event(line: str) -> bool:
    """Whether ``line`` is a JSON object whose ``level``, ``levelname`` or ``severity`` is
    error, critical or fatal (any case): a structured logger's error event."""
    text = line.strip()
    if not text.startswith("{"):
        return False
    try:
        event = json.loads(text)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    levels = (event.get(k) for k in ("level", "levelname", "severity"))
    return any(isinstance(v, str) and v.lower() in _ERROR_LEVELS for v in levels)


def error_reported(rule: str, run: RunResult, uid: str) -> Verdict:
    """SPEC's contract (non-zero exit when a user failed) and a person's need: an error line
    names the user (``error_lines``), so they know whose data to look at."""
    problems = []
    if run.exit_status == 0:
        problems.append("exit status 0")
    if not error_lines(run, uid):
        if mentions(run.output, uid):
            problems.append(
                f"{uid} is named in no error line (stderr, error/fail/critical, JSON error event)"
            )
        else:
            problems.append(f"the output never names {uid}")
    return Verdict(
        rule,
        uid,
        not problems,
        f"the failure reported: non-zero exit status and an error line naming {uid}",
        "; ".join(problems) or f"exit status {run.exit_status}, an error line names {uid}",
        damage=Damage.NOT_REPORTED,
        place="exit status" if run.exit_status == 0 else "output",
    )


def user_content(rel: str, before: Snapshot, after: Snapshot) -> str | None:
    """Why the file ``rel`` of ``after`` holds user content, or None when it holds none.

    User content, or a partial copy of it: the bytes of a file that was in a user folder
    ``before``; a SQLite file that does not open cleanly (a partial copy) or that shares a
    row with a user's DB; a WAL, an image or a zip by its first bytes. A lock file or a log
    holds none of these, and SPEC lets a migrator keep such files of its own. Not caught:
    a truncated copy of an image stored without a magic number (``.bin``).
    """
    entry = after.entries[rel]
    if entry.kind != "file":
        return None
    if entry.size:
        for path, old in before.entries.items():
            if old.sha256 == entry.sha256 and path.split("/", 1)[0] in before.users:
                return f"a copy of {path}"
    if entry.sqlite:
        db = after.databases.get(rel)
        if db is None or not db.sound:
            return "a SQLite file that does not open cleanly (a partial copy?)"
        owner = _sharing_rows(db, before)
        return f"a SQLite file holding rows of {owner}" if owner else None
    if entry.magic is not None:
        return f"starts like {_MAGIC_WORDS.get(entry.magic, entry.magic)}"
    return None


_MAGIC_WORDS = {"sqlite-wal": "a SQLite WAL", "image": "an image", "zip": "a zip archive"}


def _sharing_rows(db: DbState, before: Snapshot) -> str | None:
    """The first user (or DB path) of ``before`` a row of ``db`` also belongs to."""
    assert db.content is not None
    for rel, other in sorted(before.databases.items()):
        if other.content is None or rel == layout.SYSTEM_DB:
            continue
        for name, table in db.content.tables.items():
            theirs = other.content.tables.get(name)
            if theirs and table.rows.items() & theirs.rows.items():
                return rel
    return None


def profile_row(rule: str, after: Snapshot, uid: str) -> Verdict:
    """Exactly one profiles row (user_id, slug, name) of the layout in force (by default
    (user_id, 'default', 'Default'))."""
    want = layout.active()
    expected = (
        f"one profiles row (user_id={uid!r}, slug={want.profile_slug!r}, "
        f"name={want.profile_name!r})"
    )
    facts = {"damage": Damage.PROFILE_ROW, "place": layout.SYSTEM_DB}
    if after.system.error:
        return Verdict(rule, uid, False, expected, f"system.db: {after.system.error}", **facts)
    rows = _default_profiles(after, uid)
    if len(rows) == 1 and rows[0].name == want.profile_name:
        return Verdict(rule, uid, True, expected, "present", **facts)
    found = "no such row" if not rows else f"rows: {[(r.slug, r.name) for r in rows]}"
    return Verdict(rule, uid, False, expected, found, **facts)


def _default_profiles(snap: Snapshot, uid: str):
    slug = layout.active().profile_slug
    return [p for p in snap.system.profiles_of(uid) if p.slug == slug]


def same_content(rule: str, uid: str, what: str, db: DbState | None, source: DbState) -> Verdict:
    """``db`` is sound and holds exactly ``source``'s content (rows of every table, schema)."""
    expected = f"{what} with the old content ({_counts(source)})"
    lost = {"damage": Damage.ROWS_LOST, "place": what, "rows": _all_rows(source)}
    if db is None:
        return Verdict(
            rule, uid, False, expected, f"no {what}", damage=Damage.NOT_CREATED, place=what
        )
    if not db.sound:
        return Verdict(rule, uid, False, expected, f"{db.path}: {db.error}", **lost)
    if db.digest == source.digest:
        return Verdict(rule, uid, True, expected, "same content")
    missing = source.content.missing_rows(db.content)
    if missing:
        found = "rows missing: " + ", ".join(f"{t} {n}" for t, n in sorted(missing.items()))
        # Per table, gone or changed, and whether it was rebuilt: a cascade reads as one
        # ("item_tags: every row gone from the new DB"; "items: rebuilt, ...").
        told = tuple(t.describe(what) for t in source.content.table_losses(db.content))
        facts = {**lost, "rows": tuple(sorted(missing.items())), "evidence": told}
    else:
        found = "different content (extra rows or another schema)"
        facts = {"damage": Damage.CONTENT_DIFFERS, "place": what}
    return Verdict(rule, uid, False, expected, f"{db.path}: {found}", **facts)


def _all_rows(db: DbState) -> tuple[tuple[str, int], ...]:
    """Every row of ``db`` per table: what is lost when no copy of it is readable."""
    counts = db.content.row_counts if db.content else {}
    return tuple(sorted((t, n) for t, n in counts.items() if n and t != "sqlite_sequence"))


def images_moved(rule: str, after: Snapshot, uid: str, images: dict[str, str]) -> Verdict:
    """Every image in the new folder, byte-identical, and none left in the old folder."""
    a = after.users.get(uid)
    new = (a.new_images if a else None) or {}
    old = a.left_images if a else {}
    problems = []
    missing = sorted(n for n in images if n not in new)
    changed = sorted(n for n in images if n in new and new[n] != images[n])
    extra = sorted(n for n in new if n not in images)
    left = sorted(old)
    for label, names in (
        ("missing from the new folder", missing),
        ("changed bytes", changed),
        ("unexpected in the new folder", extra),
        ("still in the old folder", left),
    ):
        if names:
            problems.append(f"{label}: {', '.join(first(names))}")
    # Missing from the new folder but still in the old one is left behind, not lost.
    lost = changed or [n for n in missing if n not in old]
    damage = Damage.IMAGES_LOST if lost else Damage.IMAGES_LEFT if left else Damage.LEFT_OVER
    return Verdict(
        rule,
        uid,
        not problems,
        f"{len(images)} image(s) in {_new_images()}, byte-identical, none left behind",
        "; ".join(problems) or "all moved",
        damage=damage,
        place="" if damage == Damage.IMAGES_LEFT else "new images folder",
        evidence=(
            *(f"missing from the new folder: {n}" for n in missing),
            *(f"changed bytes: {n}" for n in changed),
            *(f"unexpected in the new folder: {n}" for n in extra),
            *(f"still in the old folder: {n}" for n in left),
        ),
    )


def _new_images() -> str:
    chosen = layout.active()
    return chosen.in_user_folder(chosen.new_images)


def nothing_left_behind(rule: str, after: Snapshot, uid: str) -> Verdict:
    """No peek.db, -wal, -shm (or -journal) in the user's folder; under a row-id layout no
    profiles/default either (the seed's folder, renamed, not copied)."""
    paths = layout.UserPaths(after.root, uid)
    names = [p.name for p in (paths.old_db, *paths.old_sidecars()) if _exists(after, p)]
    seed = seed_places(after.paths(uid))
    seed_dir = seed.profile_dir if seed is not None else None
    if (
        seed_dir
        and seed_dir != after.paths(uid).profile_dir
        and seed_dir.as_posix() in after.entries
    ):
        names.append(seed_dir.as_posix().removeprefix(f"{uid}/") + "/")
    return Verdict(
        rule,
        uid,
        not names,
        "no peek.db, -wal, -shm left",
        "none left" if not names else f"left: {', '.join(names)}",
        damage=Damage.LEFT_OVER,
        place=", ".join(names),
        evidence=tuple(f"left: {n}" for n in names),
    )


def _exists(snap: Snapshot, path) -> bool:
    return path.relative_to(snap.root).as_posix() in snap.entries


def migration_finished(
    rule: str,
    before: Snapshot,
    after: Snapshot,
    uid: str,
    *,
    source: DbState,
    profile: bool = True,
) -> list[Verdict]:
    """R1's outcome for one user: new DB and backup with ``source``'s content, images moved,
    profile row (unless ``profile`` is False: an orphan cannot have one), nothing left."""
    a = after.users.get(uid)
    verdicts = [
        same_content(rule, uid, "new DB", a.new_db if a else None, source),
        images_moved(rule, after, uid, before.users[uid].images),
        same_content(rule, uid, "backup", a.backup if a else None, source),
        nothing_left_behind(rule, after, uid),
    ]
    if profile:
        verdicts.append(profile_row(rule, after, uid))
    return verdicts


def untouched_or_finished(
    rule: str,
    before: Snapshot,
    after: Snapshot,
    uid: str,
    *,
    profile: bool = True,
) -> tuple[bool, list[Verdict]]:
    """R8/R14: the user is either exactly as before or completely migrated; a user in
    between is the half migration SPEC forbids. Returns (left untouched, verdicts); whether
    an error must be reported is the caller's rule."""
    same = untouched(rule, before, after, uid, user=uid)
    if same.ok:
        return True, [same]
    source = before.users[uid].live
    assert source is not None, f"{uid} has no sound DB to migrate"
    finished = migration_finished(rule, before, after, uid, source=source, profile=profile)
    if all(v.ok for v in finished):
        return False, finished
    half = Verdict(
        rule,
        uid,
        False,
        "the user untouched or completely migrated, never half",
        "half migrated: " + "; ".join(v.found for v in finished if not v.ok),
        same.details,
        damage=Damage.HALF_MIGRATED,
        evidence=tuple(v.found for v in finished if not v.ok) + same.evidence,
    )
    return False, [half, *finished]


# ---------------------------------------------------------------------------------------------
# Small formatting helpers.

LIMIT = 10  # names per list in a verdict; the rest is counted


def first(items: Iterable) -> list[str]:
    items = [str(i) for i in items]
    return items if len(items) <= LIMIT else [*items[:LIMIT], f"... {len(items) - LIMIT} more"]


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _counts(db: DbState) -> str:
    counts = db.content.row_counts if db.content else {}
    return ", ".join(f"{t} {n}" for t, n in sorted(counts.items()) if t != "sqlite_sequence")
