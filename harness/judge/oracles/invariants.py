"""Judgments that hold in every state, not one rule's situation.

``check_no_content_lost`` is SPEC's "no content lost at any moment", applied after every
injected fault (R9, R10, R17); ``check_converged`` is "after a clean re-run the tree equals
the fault-free result"; ``check_exit_status`` is the external contract's exit status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harness.contract import layout
from harness.judge.oracles import judgments as j
from harness.judge.snapshot import DbState, Entry, Snapshot, UserState
from harness.judge.verdict import Damage, Verdict
from harness.run.process import RunResult


def check_no_content_lost(
    before: Snapshot, after: Snapshot, *, users: Sequence[str] | None = None, rule: str = "content"
) -> list[Verdict]:
    """Each user's content is fully present in at least one place a person or the next run
    will find it, and each image in the old or the new folder, byte-identical.

    "Content" is the user's data before (``UserState.live``: peek.db if sound, else the new
    DB, else the backup); "fully present" means every row of every table, identical, in a
    sound old DB, new DB or backup (extra rows are not loss). A user whose only DB was
    already damaged keeps that file's bytes at one of the three paths: damage must not be
    thrown away either. Two verdicts per user: rows, images.
    """
    out = []
    for uid in sorted(before.users) if users is None else users:
        b = before.users[uid]
        a = after.users.get(uid)
        out.append(_rows_kept(rule, uid, b, a, before, after))
        out.append(_images_kept(rule, uid, b, a))
    return out


def _places(user: UserState | None) -> list[DbState]:
    return [d for d in (user.old_db, user.new_db, user.backup) if d] if user else []


def _rows_kept(rule, uid, b: UserState, a: UserState | None, before, after) -> Verdict:
    live = b.live
    if live is None:
        damaged = _places(b)
        if not damaged:
            return Verdict(rule, uid, True, "no database to keep", "none before")
        shas = {after.entries[d.path].sha256 for d in _places(a) if d.path in after.entries}
        kept = [d.path for d in damaged if before.entries[d.path].sha256 in shas]
        return Verdict(
            rule,
            uid,
            bool(kept),
            "the damaged database's bytes kept at peek.db, the new DB or the backup",
            f"kept ({kept[0]})" if kept else "gone",
            damage=Damage.ROWS_LOST,
            place="anywhere",
        )
    expected = f"every row of {live.path} in a sound peek.db, new DB or backup"
    findings = []
    least = live.content.row_counts if live.content else {}  # rows missing from the best copy
    for place in _places(a):
        if not place.sound:
            findings.append(f"{place.path}: {place.error}")
            continue
        missing = live.content.missing_rows(place.content)
        if not missing:
            return Verdict(rule, uid, True, expected, f"all in {place.path}")
        lost = ", ".join(f"{t} {n}" for t, n in sorted(missing.items()))
        findings.append(f"{place.path}: rows missing: {lost}")
        if sum(missing.values()) < sum(least.values()):
            least = missing
    return Verdict(
        rule,
        uid,
        False,
        expected,
        "; ".join(findings) or "no database left",
        damage=Damage.ROWS_LOST,
        place="anywhere",
        rows=tuple(sorted((t, n) for t, n in least.items() if n and t != "sqlite_sequence")),
        evidence=tuple(findings),
    )


def _images_kept(rule, uid, b: UserState, a: UserState | None) -> Verdict:
    lost = sorted(
        name for name, sha in b.images.items() if sha not in (a.image_places(name) if a else [])
    )
    return Verdict(
        rule,
        uid,
        not lost,
        f"each of {len(b.images)} image(s) byte-identical in {_image_folders()}",
        "all kept" if not lost else f"lost: {', '.join(j.first(lost))}",
        damage=Damage.IMAGES_LOST,
        place="anywhere",
        evidence=tuple(f"lost: {n}" for n in lost),
    )


# ---------------------------------------------------------------------------------------------


def _image_folders() -> str:
    chosen = layout.active()
    old, new = (chosen.in_user_folder(t) for t in (chosen.old_images, chosen.new_images))
    return f"{old}/ or {new}/"


def check_converged(result: Snapshot, reference: Snapshot, *, rule: str = "R9") -> list[Verdict]:
    """``result`` (a faulted run, then a clean re-run) equals ``reference`` (a fault-free run
    on the same tree) in everything a person can observe:

    - the same paths (files, folders, symlinks), leaving out the -wal and -shm of a DB that
      exists: whether a WAL was checkpointed is invisible to the application (a sidecar
      whose DB is gone is compared like any file);
    - SQLite files by logical content (rows and schema, -wal included) and soundness,
      because a DB recovered by another path may lay out its pages differently; every
      other file by its bytes; symlinks by target;
    - system.db by its users and by its profiles as (user_id, slug, name): profile ids are
      UUIDs and timestamps are the time of the run.

    Not compared: mtimes (two runs at two times; backup ages included) and permission bits.
    One verdict per user folder, one for the rest of the tree.
    """
    out = []
    tops = {p.split("/", 1)[0] for p in (*result.entries, *reference.entries) if p != "."}
    users = sorted(t for t in tops if t in result.users or t in reference.users)
    for uid in users:
        diffs = _differences(result, reference, lambda p, u=uid: p.split("/", 1)[0] == u)
        out.append(_converged_verdict(rule, uid, diffs))
    rest = _differences(
        result,
        reference,
        lambda p: p.split("/", 1)[0] not in users and p != layout.SYSTEM_DB,
    )
    rest += _system_differences(result, reference)
    out.append(_converged_verdict(rule, None, rest))
    return out


def _converged_verdict(rule: str, uid: str | None, diffs: list[str]) -> Verdict:
    diffs = sorted(diffs, key=difference_order)
    return Verdict(
        rule,
        uid,
        not diffs,
        "the same as after a fault-free run (paths, DB content, file bytes, link targets)",
        "the same" if not diffs else f"{len(diffs)} difference(s)",
        "\n".join(f"  {d}" for d in j.first(diffs)),
        damage=Damage.NOT_CONVERGED,
        evidence=tuple(diffs),
    )


_LEFTOVER = "not in the fault-free result"


def difference_order(line: str) -> tuple[int, str]:
    """Losses before leftovers: a database whose content differs or is missing first, then
    any other file missing or changed, then what the fault-free run does not leave, with
    -wal/-shm sidecars last (they are the noise around a database, rarely the story)."""
    path = line.split(": ", 1)[0]
    database = line.endswith("different database content") or path.endswith(
        (layout.OLD_DB, ".sqlite", layout.BACKUP_SUFFIX)
    )
    sidecar = path.endswith(("-wal", "-shm", "-journal"))
    if line.endswith(_LEFTOVER):
        rank = 4 if sidecar else 3
    else:
        rank = 0 if database else 1 if not line.startswith(layout.SYSTEM_DB) else 2
    return rank, line


def _observable(snap: Snapshot, keep) -> dict[str, tuple[str, Entry]]:
    """Observable entries by the name they are compared under, with their path."""
    alias = _profile_aliases(snap)
    return {
        _aliased(p, alias): (p, e)
        for p, e in snap.entries.items()
        if p != "." and keep(p) and not _attached_sidecar(snap, p)
    }


PROFILE_ALIAS = "<profile row id>"


def _profile_aliases(snap: Snapshot) -> dict[str, str]:
    """Under a layout whose profile folder is named after the profile row's id: each user's
    folder -> one name, as the row ids are (UUIDs, chosen by each run) not compared."""
    if not layout.active().by_row_id:
        return {}
    out = {}
    for uid in snap.users:
        folder = snap.paths(uid).profile_dir
        out[uid] = (folder.as_posix(), (folder.parent / PROFILE_ALIAS).as_posix())
    return out


def _aliased(path: str, alias: dict) -> str:
    if not alias:
        return path
    found = alias.get(path.split("/", 1)[0])
    if found is None:
        return path
    folder, name = found
    if path == folder or path.startswith(folder + "/"):
        return name + path[len(folder) :]
    return path


def _attached_sidecar(snap: Snapshot, path: str) -> bool:
    """A -wal/-shm beside its database: part of that DB's content, not a file of its own.

    One whose database is gone is observable: a stray ``peek.db-wal`` may hold the user's
    latest rows, and a migrator that leaves one behind has not converged.
    """
    for suffix in ("-wal", "-shm"):
        if path.endswith(suffix):
            return path[: -len(suffix)] in snap.entries
    return False


def _differences(result: Snapshot, reference: Snapshot, keep) -> list[str]:
    mine, theirs = _observable(result, keep), _observable(reference, keep)
    out = [f"{p}: missing" for p in sorted(theirs.keys() - mine.keys())]
    out += [f"{p}: not in the fault-free result" for p in sorted(mine.keys() - theirs.keys())]
    for p in sorted(mine.keys() & theirs.keys()):
        (p_mine, e_mine), (p_theirs, e_theirs) = mine[p], theirs[p]
        what = _entry_difference((p_mine, p_theirs), e_mine, e_theirs, result, reference)
        if what:
            out.append(f"{p}: {what}")
    return out


def _entry_difference(
    where: tuple[str, str], mine: Entry, theirs: Entry, result, reference
) -> str | None:
    if mine.kind != theirs.kind:
        return f"a {mine.kind}, fault-free: a {theirs.kind}"
    if mine.kind == "symlink" and mine.target != theirs.target:
        return f"points to {mine.target!r}, fault-free: {theirs.target!r}"
    if mine.kind != "file":
        return None
    db_mine, db_theirs = result.databases.get(where[0]), reference.databases.get(where[1])
    if db_mine and db_theirs and (db_mine.content or db_theirs.content):
        if (db_mine.sound, db_mine.digest) != (db_theirs.sound, db_theirs.digest):
            return "different database content"
        return None
    return None if mine.sha256 == theirs.sha256 else "different bytes"


def _system_differences(result: Snapshot, reference: Snapshot) -> list[str]:
    a, b = result.system, reference.system
    out = []
    if a.error or b.error:
        if (a.error is None) != (b.error is None):
            out.append(f"system.db: {a.error or 'readable'}, fault-free: {b.error or 'readable'}")
        return out
    if a.users != b.users:
        out.append(f"system.db users differ: {sorted(a.users ^ b.users)}")
    if set(a.profiles) != set(b.profiles):
        extra = sorted((p.user_id, p.slug) for p in set(a.profiles) - set(b.profiles))
        missing = sorted((p.user_id, p.slug) for p in set(b.profiles) - set(a.profiles))
        out.append(f"system.db profiles: extra {extra}, missing {missing}")
    elif len(a.profiles) != len(b.profiles):
        out.append("system.db profiles: duplicated rows")
    return out


# ---------------------------------------------------------------------------------------------


def check_exit_status(run: RunResult, *, failed_users: Sequence[str] = ()) -> Verdict:
    """SPEC's contract: exit status 0 when every user was migrated or skipped as expected,
    non-zero when any user failed (``failed_users``, as the scenario knows them)."""
    if failed_users:
        return Verdict(
            "contract",
            None,
            run.exit_status != 0,
            f"a non-zero exit status ({', '.join(failed_users)} failed)",
            run.describe(),
            damage=Damage.EXIT_STATUS,
        )
    return Verdict(
        "contract", None, run.ok, "exit status 0", run.describe(), damage=Damage.EXIT_STATUS
    )


def check_stayed_inside(runs: Iterable[RunResult]) -> list[Verdict]:
    """SPEC's external contract for each run: a migrator "must not write anywhere outside
    DATA_DIR and its own temporary space". One broken verdict per run that did (or tried:
    in the sandbox the write failed and did not happen), naming the paths."""
    verdicts = []
    for run in runs:
        if not run.outside:
            continue
        paths = ", ".join(run.outside[:5]) + (" ..." if len(run.outside) > 5 else "")
        verdicts.append(
            Verdict(
                "contract",
                None,
                False,
                "nothing written outside DATA_DIR and its own temporary space",
                f"{Damage.OUTSIDE}: {paths} (sandbox: {run.protection})",
                damage=Damage.OUTSIDE,
                place=paths,
                evidence=tuple(run.outside),
            )
        )
    return verdicts
