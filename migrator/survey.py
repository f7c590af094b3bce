"""Read-only inspection of one user: what the dry run says and ``status`` shows.

Everything is learnt from copies in the system temp dir (never the data dir): the tree is
left byte-for-byte as it was, mtimes included (SPEC R2). The same messages are used by the
real run (``server``), so a dry run's warning and a real run's error read the same.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from migrator import fsops, images, space, verify
from migrator.layout import UserPaths
from migrator.report import UserProblem
from migrator.state import Kind, UserTree, scan
from migrator.systemdb import Accounts


@dataclass(frozen=True)
class Finding:
    """One user's state, as a person (status) or the dry run needs it."""

    user: str
    state: str  # legacy, migrated, half_migrated, conflict, corrupt, orphan, no_db, ...
    half: str | None = None  # for half_migrated: which half ("both", "images", ...)
    detail: str = ""
    problem: str | None = None  # UserProblem kind when a person is needed
    message: str | None = None
    actions: tuple[str, ...] = field(default=())  # what a real run would do

    @property
    def needs_person(self) -> bool:
        return self.problem is not None


# -- messages shared with the real run ---------------------------------------------------


def orphan_message(paths: UserPaths) -> str:
    return (
        f"{paths.root}: no users row for {paths.user_id!r} in system.db (a deleted user?); "
        "folder left untouched. Restore the users row to migrate it, or archive the folder "
        "elsewhere; then re-run."
    )


def corrupt_message(paths: UserPaths, why: str) -> str:
    return (
        f"{paths.old_db} is damaged or not a database ({why}); this user's folder is left "
        "untouched. Restore peek.db from the server's backups/ (or from a sound "
        f"{paths.backup.name}), then re-run."
    )


def unreadable_new_message(paths: UserPaths, why: str) -> str:
    return (
        f"{paths.new_db} exists but is not a readable database ({why}), while "
        f"{paths.old_db} is; both left untouched. If the new file holds nothing you need "
        "(e.g. an empty file left by an earlier dry run), delete it and re-run."
    )


def conflict_message(paths: UserPaths, old: verify.Content, new: verify.Content) -> str:
    return (
        f"both {paths.old_db} ({old.describe()}) and {paths.new_db} ({new.describe()}) exist "
        "and their contents differ; both left untouched. Compare them (e.g. sqlite3 FILE "
        "'select count(*) from items'), then keep one: to keep peek.db, move "
        "datastore.sqlite (and any datastore.sqlite-wal) out of the folder; to keep "
        "datastore.sqlite, move peek.db (and any peek.db-wal) out; then re-run."
    )


def stray_wal_message(paths: UserPaths, wal: Path) -> str:
    size = fsops.file_size(wal)
    if paths.new_db.is_file():
        return (
            f"{wal} ({size} bytes) remains without its peek.db and holds rows that "
            f"{paths.new_db} lacks (how the first server migration lost data: peek.db moved "
            "without its -wal); left untouched. With the server stopped, copy datastore.sqlite "
            "and this file side by side as X and X-wal, check X with sqlite3, replace "
            "datastore.sqlite with it, delete this file, then re-run."
        )
    return (
        f"{wal} ({size} bytes) remains without its peek.db and there is no new DB: it may "
        "hold the user's latest rows and cannot be read alone; left untouched. Put the "
        "matching peek.db back beside it (e.g. from the server's backups/), then re-run."
    )


def backup_only_message(paths: UserPaths) -> str:
    return (
        f"{paths.root}: neither peek.db nor profiles/default/datastore.sqlite exists, only "
        f"{paths.backup.name}: the user's data survives only in the backup; left untouched. "
        f"Check it (sqlite3 {paths.backup} 'pragma integrity_check') and copy it to "
        f"{paths.old_db}, then re-run."
    )


def odd_database_entry(paths: UserPaths) -> str | None:
    """A message when a DB name holds something else than a regular file (a symlink, a
    folder), or a folder the migration moves or writes into is a symlink (``images/``,
    ``profiles/``, ``profiles/default/``, the new ``images/``): never followed, never
    replaced (SPEC R13); the user is left for a person. A linked ``images/`` was once
    skipped and the user called migrated, its images left wherever the link points."""
    for db in (paths.old_db, paths.new_db, paths.backup):
        if db.is_symlink():
            return (
                f"{db} is a symbolic link; links are not followed (the data may live "
                "elsewhere); left untouched. Replace it with the file it points to, then re-run."
            )
        if db.exists() and not db.is_file():
            return f"{db} is not a regular file; left untouched. Move it away, then re-run."
    for folder in (paths.old_images, paths.profiles_dir, paths.profile_dir, paths.new_images):
        if folder.is_symlink():
            return (
                f"{folder} is a symbolic link{_target(folder)}; links are not followed (the "
                "data may live elsewhere); left untouched. Replace it with the folder it "
                "points to, then re-run."
            )
    return None


def _target(link: Path) -> str:
    try:
        return f" (to {os.readlink(link)})"
    except OSError:
        return ""


def nothing_problem(paths: UserPaths, tree: UserTree) -> tuple[str, str] | None:
    """For a user with neither DB: (kind, message) when data is stranded, else None."""
    if tree.backup:
        return "backup_only", backup_only_message(paths)
    if tree.stray_wal is not None:
        return "stray_wal", stray_wal_message(paths, tree.stray_wal)
    return None


def no_db_detail(tree: UserTree) -> str:
    text = "no peek.db: nothing to migrate, nothing created"
    if tree.old_images:
        text += "; an images folder without a database is left as it is"
    return text


# -- inspection ----------------------------------------------------------------------------


def inspect_user(paths: UserPaths, accounts: Accounts, *, with_space: bool = True) -> Finding:
    """What state this user is in and what a real run would do; writes nothing."""
    user = paths.user_id
    if not accounts.has_user(user):
        return Finding(user, "orphan", problem="orphan", message=orphan_message(paths))
    try:
        tree = scan(paths)
    except OSError as exc:
        return Finding(user, "unknown", problem="io_error", message=f"{paths.root}: {exc}")
    try:
        with tempfile.TemporaryDirectory(prefix="peek-migration-inspect-") as tmp:
            return _inspect(paths, tree, accounts, Path(tmp), with_space)
    except UserProblem as problem:
        state = {"corrupt": "corrupt", "conflict": "conflict"}.get(problem.kind, tree.kind.value)
        return Finding(user, state, problem=problem.kind, message=str(problem))
    except OSError as exc:
        return Finding(
            user,
            tree.kind.value,
            problem="io_error",
            message=f"could not inspect {paths.root}: {exc}",
        )


def _sealed(db: Path, scratch: Path) -> verify.Content:
    scratch.mkdir()
    return verify.sealed_content(db, scratch)


def _inspect(
    paths: UserPaths, tree: UserTree, accounts: Accounts, tmp: Path, with_space: bool
) -> Finding:
    user = paths.user_id
    odd = odd_database_entry(paths)
    if odd:
        raise UserProblem("unexpected", odd)
    actions: list[str] = []
    if tree.leftovers:
        actions.append("remove scratch of an interrupted run")
    if tree.kind is Kind.NOTHING:
        problem = nothing_problem(paths, tree)
        if problem:
            return Finding(user, problem[0], problem=problem[0], message=problem[1])
        return Finding(user, "no_db", detail=no_db_detail(tree))

    old = None
    if tree.old_db:
        try:
            old = _sealed(paths.old_db, tmp / "old")
        except verify.UnreadableDb as exc:
            raise UserProblem("corrupt", corrupt_message(paths, str(exc))) from exc
    if tree.kind is Kind.BOTH:
        assert old is not None
        try:
            new = _sealed(paths.new_db, tmp / "new")
        except verify.UnreadableDb as exc:
            raise UserProblem("conflict", unreadable_new_message(paths, str(exc))) from exc
        if new.digest != old.digest:
            raise UserProblem("conflict", conflict_message(paths, old, new))
    if tree.kind is Kind.MIGRATED and tree.stray_wal is not None:
        (tmp / "wal").mkdir()
        if not verify.wal_adds_nothing(paths.new_db, tree.stray_wal, tmp / "wal"):
            raise UserProblem("stray_wal", stray_wal_message(paths, tree.stray_wal))
    images.check(paths)
    if with_space:
        space.check(paths, tree)

    if old is not None:
        actions.append(_backup_action(paths, tree, old))
    if tree.kind is Kind.LEGACY:
        actions.append(f"copy peek.db ({old.describe()}) to the new DB and verify it")
    if not accounts.has_profile(user):
        actions.append("create the default profile row")
    if tree.old_images:
        n = sum(1 for _ in Path(paths.old_images).iterdir())
        actions.append(f"move images/ ({n} files)")
    if tree.old_db or tree.old_sidecars:
        actions.append("remove peek.db and its sidecars")

    if tree.kind is Kind.LEGACY:
        return Finding(user, "legacy", detail=old.describe(), actions=tuple(actions))
    halves = []
    if tree.kind is Kind.BOTH:
        halves.append("both")
    if not accounts.has_profile(user):
        halves.append("profile_row")
    if tree.old_images:
        halves.append("images")
    if tree.old_sidecars and not tree.old_db:
        halves.append("sidecars")
    if tree.leftovers:
        halves.append("scratch")
    if not halves:
        return Finding(user, "migrated", detail="migrated")
    return Finding(
        user,
        "half_migrated",
        half=",".join(halves),
        detail=_half_detail(halves),
        actions=tuple(actions),
    )


_HALVES = {
    "both": "new DB in place and equal to peek.db; peek.db not yet removed",
    "profile_row": "no profile row in system.db",
    "images": "images/ not yet (fully) moved",
    "sidecars": "peek.db sidecars left without peek.db",
    "scratch": "scratch of an interrupted run",
}


def _half_detail(halves: list[str]) -> str:
    return "; ".join(_HALVES[h] for h in halves)


def _backup_action(paths: UserPaths, tree: UserTree, old: verify.Content) -> str:
    if not tree.backup:
        return f"create {paths.backup.name}"
    try:
        if verify.content(paths.backup).digest == old.digest:
            return "keep the existing backup (it verifies)"
    except verify.UnreadableDb:
        pass
    return "replace the existing backup (it does not match peek.db)"
