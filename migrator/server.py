"""The server's profiles migration, per user, resumable at every step.

For a legacy user (old ``peek.db``, no new DB) the steps are, in this order:

1. remove scratch names left by an interrupted run (copies, never the only copy of data);
2. check free space (SPEC R8);
3. copy ``peek.db`` and its ``-wal`` into ``layout.WORK_DIR`` (a ``peek.db`` without
   sidecars to ``peek.db.migrating`` beside it); check and checkpoint the *copy* (the
   original is never opened, so a corrupt or WAL-heavy DB is safe, R7);
4. make ``peek.db.pre-migration-backup`` from the copy, verified byte for byte, unless a
   backup with that content already exists (re-creating it would restart its grace
   clock, R3). A ``peek.db`` without sidecars and without a backup is copied byte for
   byte in step 3 (verified equal) and becomes the backup itself in step 8, by a rename:
   one file created per user fewer, the costliest operation of a small migration;
5. rename the copy to ``profiles/default/datastore.sqlite`` (copy-verify-rename when
   ``profiles/`` is on another filesystem, R12);
6. ensure the ``profiles`` row in ``system.db``;
7. move ``images/`` (one rename, or a file-by-file merge);
8. remove ``peek.db`` (or rename it to the backup, see 4) and then its sidecars, then the
   work dir.

The old DB goes last, so at every moment the user's content is in ``peek.db`` or in a
verified new DB (plus a verified backup): a crash or an error anywhere leaves a tree that
``state.scan`` recognises and the next run finishes (R9, R10). Every user is independent:
one failing is reported and the others go on (R7, R14).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migrator import (
    cleanup,
    datadir,
    fsops,
    images,
    layout,
    report,
    runlock,
    space,
    state,
    survey,
    systemdb,
    verify,
)
from migrator.layout import UserPaths
from migrator.log import OK, Event, EventSink, TextLog
from migrator.report import MigrationFailed, MigrationReport, UserProblem, UserResult
from migrator.state import Kind, UserTree

__all__ = ["MigrationFailed", "MigrationReport", "grace_days_from_env", "migrate"]


_MOVED_NOW = {report.MIGRATED, report.FINISHED, report.WOULD_MIGRATE, report.WOULD_FINISH}


def grace_days_from_env(environ: os._Environ | dict | None = None) -> float:
    """``MIGRATION_BACKUP_GRACE_DAYS`` as a number of days (default 30)."""
    env = os.environ if environ is None else environ
    raw = env.get(layout.GRACE_DAYS_ENV)
    if raw is None or raw.strip() == "":
        return layout.DEFAULT_GRACE_DAYS
    try:
        days = float(raw)
    except ValueError:
        raise ValueError(
            f"{layout.GRACE_DAYS_ENV}={raw!r} is not a number of days (e.g. 30)"
        ) from None
    if days < 0 or days != days:
        raise ValueError(f"{layout.GRACE_DAYS_ENV}={raw!r} must be zero or more days")
    return days


# The spellings of "yes" and "no" people put in an environment variable. The seed's switch is
# ``MIGRATION_DRY_RUN=true``; a ``1`` or ``yes`` that silently ran the real migration would
# be the worst possible reading of an operator's intent, so anything else is refused.
_TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"", "false", "0", "no", "n", "off"})


def dry_run_from_env(environ: os._Environ | dict | None = None) -> bool:
    """``MIGRATION_DRY_RUN`` as a yes/no; ``ValueError`` for a value that is neither."""
    env = os.environ if environ is None else environ
    raw = env.get(layout.DRY_RUN_ENV, "")
    word = raw.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(
        f"{layout.DRY_RUN_ENV}={raw!r} is neither yes nor no: set it to true for a dry run, "
        "or unset it; nothing was changed"
    )


def migrate(
    data_dir: Path | str,
    *,
    dry_run: bool = False,
    grace_days: float | None = None,
    log: EventSink | None = None,
) -> MigrationReport:
    """Migrate every user of ``data_dir``; raise ``MigrationFailed`` if any user failed.

    Every user is processed before raising, so one bad user never holds back the others.
    ``datadir.DataDirError`` (raised before anything is read or written) means the path is
    not a data dir at all. ``log`` receives one ``Event`` per user and step (default: text
    lines on stdout). A dry run writes nothing and opens no database in place.
    """
    data_dir = Path(data_dir).absolute()
    grace = grace_days_from_env() if grace_days is None else float(grace_days)
    if not grace >= 0:
        raise ValueError(f"grace_days={grace_days!r}: must be zero or more days")
    emit = log if log is not None else TextLog()
    target = layout.layout_from_env()  # an unknown layout stops the run before any change
    datadir.check(data_dir)

    def waiting() -> None:
        emit(Event(None, "lock", "waiting", detail=f"another migration holds {data_dir}"))

    with (
        runlock.holding(data_dir, exclusive=not dry_run, on_wait=waiting),
        systemdb.ProfileWriter(data_dir) as profiles,
    ):
        users = datadir.check(data_dir)  # re-read: the other process may have changed it
        accounts = _read_accounts(data_dir, users)
        if dry_run:
            emit(Event(None, "start", OK, detail="no data will be moved", dry_run=True))
        results: dict[str, UserResult] = {}
        profiled: set[str] = set()
        for user_dir in users:
            paths = accounts.paths(data_dir, user_dir.name)
            if dry_run:
                results[paths.user_id] = _plan_user(_dry_paths(paths, target), accounts, emit)
            else:
                run = _UserRun(paths, accounts, emit, profiles=profiles)
                results[paths.user_id], accounts = run.run()
                if run.profiled:
                    profiled.add(paths.user_id)
        accounts = accounts.with_profiles(profiled)
        profiles.sync()  # the rows are durable before the clean-up relies on them
        # R11 is judged as the run found the tree: a user migrated just now was not fully
        # migrated, so its backup is not a candidate in this run.
        fresh = {u for u, r in results.items() if r.outcome in _MOVED_NOW}
        candidates = [d for d in users if d.name not in fresh]
        sweep = cleanup.sweep(data_dir, candidates, accounts, grace, dry_run=dry_run, emit=emit)
        for user, (kind, message) in sweep.problems.items():
            prior = results[user]
            results[user] = UserResult(user, prior.state, report.FAILED, kind, message)
    result = MigrationReport(data_dir, dry_run, tuple(results.values()), sweep.removed)
    emit(
        Event(
            None,
            "summary",
            report.FAILED if result.failed else OK,
            detail=result.summary(),
            dry_run=dry_run,
        )
    )
    if result.failed:
        raise MigrationFailed(result)
    return result


def _read_accounts(data_dir: Path, users: list[Path]) -> systemdb.Accounts:
    if not users and not (data_dir / layout.SYSTEM_DB).exists():
        return systemdb.Accounts()
    try:
        return systemdb.Accounts.read(data_dir)
    except systemdb.SystemDbError as exc:
        raise datadir.DataDirError(
            f"{exc}; pass the server's DATA_DIR (its system.db must be the server's)"
        ) from exc


def _dry_paths(paths: UserPaths, target: str) -> UserPaths:
    """The paths a dry run inspects: under peek-uuid, a profile still in ``profiles/default``
    (which a real run renames first) is inspected there."""
    if target != layout.PEEK_UUID or paths.profile_dir.exists():
        return paths
    slug = UserPaths(paths.data_dir, paths.user_id)
    return slug if slug.profile_dir.is_dir() and not slug.profile_dir.is_symlink() else paths


def _plan_user(paths: UserPaths, accounts: systemdb.Accounts, emit: EventSink) -> UserResult:
    """Dry run: say what a real run would do, from copies in the system temp dir."""
    finding = survey.inspect_user(paths, accounts)
    user = paths.user_id
    if finding.problem:
        emit(Event(user, "plan", report.FAILED, error=finding.message, dry_run=True))
        return UserResult(user, finding.state, report.FAILED, finding.problem, finding.message)
    if finding.state == "legacy":
        outcome = report.WOULD_MIGRATE
        text = f"migrate {user}: {paths.old_db} -> {paths.new_db}"
    elif "both" in (finding.half or "").split(","):
        outcome = report.WOULD_FINISH
        text = f"finish migrating {user}: {paths.new_db} verified equal to {paths.old_db}"
    elif finding.state == "no_db":
        emit(Event(user, "plan", "skipped", detail=finding.detail, dry_run=True))
        return UserResult(user, finding.state, report.NO_DB)
    else:
        outcome = report.ALREADY_MIGRATED
        text = f"leave {user} ({finding.detail})"
    if finding.actions:
        text += " [" + "; ".join(finding.actions) + "]"
    emit(Event(user, "plan", "would", detail=text, dry_run=True))
    return UserResult(user, finding.state, outcome)


@dataclass(frozen=True)
class _Staged:
    """A checked, checkpointed copy of a DB in the work dir.

    Its logical content is digested only when it is compared with another database (an
    existing backup, the other DB of a half-migrated user): a digest reads every row in
    Python, 9 s for 128 MiB, while a byte copy of the staged file is verified by its bytes.
    """

    path: Path
    byte_copy: bool = False  # the bytes of a peek.db without sidecars, verified equal

    @functools.cached_property
    def content(self) -> verify.Content:
        return verify.content(self.path)


class _UserRun:
    """One user's real migration: classify, then run the steps that are still to do."""

    def __init__(
        self,
        paths: UserPaths,
        accounts: systemdb.Accounts,
        emit: EventSink,
        *,
        profiles: systemdb.ProfileWriter | None = None,
    ) -> None:
        self.paths = paths
        # Without the run's writer (a test driving one user), this run owns one and makes
        # its row durable itself; the run's writer is synced once by ``migrate``.
        self._own_profiles = profiles is None
        self.profiles = profiles or systemdb.ProfileWriter(paths.data_dir)
        self.accounts = accounts
        self.profiled = False  # a profile row was ensured in this run
        # Set before the first write outside scratch names in the user's folder: until
        # then a failure can give the folder back exactly as found (see _restore_folder_times).
        self.wrote = False
        self.emit = emit
        self.user = paths.user_id

    def step(self, step: str, detail: str | None = None) -> None:
        self.emit(Event(self.user, step, OK, detail=detail))

    def run(self) -> tuple[UserResult, systemdb.Accounts]:
        if not self.accounts.has_user(self.user):
            return self._fail("orphan", "orphan", survey.orphan_message(self.paths)), self.accounts
        try:
            found = os.stat(self.paths.root)
            with fsops.ordered_dir_syncs():
                self.adopt_slug_folder()
            tree = state.scan(self.paths)
        except UserProblem as problem:
            return self._fail("unknown", problem.kind, str(problem)), self.accounts
        except (OSError, sqlite3.Error) as exc:
            return self._fail("unknown", *_describe_error(exc)), self.accounts
        kind = tree.kind
        odd = survey.odd_database_entry(self.paths)
        if odd:
            return self._fail(kind, "unexpected", odd), self.accounts
        handler: Callable[[UserTree], str] = {
            Kind.LEGACY: self.legacy,
            Kind.BOTH: self.both,
            Kind.MIGRATED: self.migrated,
            Kind.NOTHING: self.nothing,
        }[kind]
        try:
            # Directory fsyncs are paid once per commit point, not after every change
            # (fsops.ordered_dir_syncs); whatever happens, all is durable when it ends.
            with fsops.ordered_dir_syncs():
                outcome = handler(tree)
        except UserProblem as problem:
            self._discard_scratch(kind)
            self._restore_folder_times(found)
            return self._fail(kind, problem.kind, str(problem)), self.accounts
        except (OSError, sqlite3.Error, verify.UnreadableDb) as exc:
            self._discard_scratch(kind)
            self._restore_folder_times(found)
            return self._fail(kind, *_describe_error(exc)), self.accounts
        except Exception as exc:  # a bug here must not stop the other users
            self._discard_scratch(kind)
            message = (
                f"unexpected {type(exc).__name__}: {exc}; nothing is lost (the old DB is "
                "removed only after the new one is verified); please report this log"
            )
            return self._fail(kind, "unexpected", message), self.accounts
        self.emit(Event(self.user, "done", OK, detail=outcome))
        return UserResult(self.user, str(kind), outcome), self.accounts

    def _fail(self, state_name: str, kind: str, message: str) -> UserResult:
        self.emit(Event(self.user, "done", report.FAILED, error=message, detail=kind))
        return UserResult(self.user, str(state_name), report.FAILED, kind, message)

    def _discard_scratch(self, kind: Kind) -> None:
        """After a failure: remove what this run wrote under scratch names (R8: no partial
        files). Never anything else; errors here are secondary and ignored."""
        if kind is Kind.NOTHING:
            return
        for path in state.scratch_names(self.paths):
            with contextlib.suppress(OSError):
                fsops.remove_tree(path)

    def _restore_folder_times(self, found: os.stat_result) -> None:
        """When a user fails before anything but scratch was written (a ``UserProblem``
        is always raised that early; ENOSPC while copying too) and the scratch is gone
        again, give the folder back its mtime as well, so it is untouched by every
        measure (SPEC R5, R7, R8: same names, sizes, bytes, mtimes)."""
        if self.wrote:
            return
        with contextlib.suppress(OSError):
            os.utime(self.paths.root, ns=(found.st_atime_ns, found.st_mtime_ns))

    # -- the four states -------------------------------------------------------------

    def legacy(self, tree: UserTree) -> str:
        tree = self.remove_leftovers(tree)
        images.check(self.paths)  # a conflict must stop the user before step 3, not in 7
        self.step("preflight", space.check(self.paths, tree))
        old_stat = os.stat(self.paths.old_db)
        staged = self.stage(self.paths.old_db, corrupt_kind="corrupt")
        if staged.byte_copy and not tree.backup:
            # peek.db alone, copied byte for byte: it becomes the backup itself, last.
            self.place_new_db(staged, old_stat)
            self.finish(old_becomes_backup=True)
            return report.MIGRATED
        self.ensure_backup(staged, old_stat, tree.backup)
        self.place_new_db(staged, old_stat)
        self.finish()
        return report.MIGRATED

    def both(self, tree: UserTree) -> str:
        tree = self.remove_leftovers(tree)
        images.check(self.paths)
        self.step("preflight", space.check(self.paths, tree))
        old_stat = os.stat(self.paths.old_db)
        old = self.stage(self.paths.old_db, corrupt_kind="corrupt")
        new = self.stage(self.paths.new_db, corrupt_kind="conflict")
        if old.content.digest != new.content.digest:
            message = survey.conflict_message(self.paths, old.content, new.content)
            raise UserProblem("conflict", message)
        self.step("compare", f"new DB verified equal to peek.db ({old.content.describe()})")
        fsops.unlink(new.path)
        self.ensure_backup(old, old_stat, tree.backup)
        self.finish()
        return report.FINISHED

    def migrated(self, tree: UserTree) -> str:
        tree = self.remove_leftovers(tree)
        images.check(self.paths)
        self.ensure_profile()
        if tree.old_images:
            self.step("preflight", space.check(self.paths, tree))
            self.wrote = True
            self.step("images", images.move(self.paths, owner_like=os.stat(self.paths.root)))
        if tree.old_sidecars:
            self.remove_stray_sidecars(tree)
        return report.ALREADY_MIGRATED

    def nothing(self, tree: UserTree) -> str:
        problem = survey.nothing_problem(self.paths, tree)
        if problem is not None:
            raise UserProblem(*problem)
        self.emit(Event(self.user, "classify", "skipped", detail=survey.no_db_detail(tree)))
        return report.NO_DB

    # -- the steps ---------------------------------------------------------------------

    def remove_leftovers(self, tree: UserTree) -> UserTree:
        """Step 1. Scratch names are copies whose source still exists: safe to remove.
        Returns the tree as it is now (scanned again only when something was removed)."""
        if not tree.leftovers:
            return tree
        self.wrote = True
        for path in tree.leftovers:
            fsops.remove_tree(path)
        names = ", ".join(p.name for p in tree.leftovers)
        self.step("leftovers", f"removed scratch of an interrupted run: {names}")
        return state.scan(self.paths)

    def stage(self, db: Path, *, corrupt_kind: str) -> _Staged:
        """Step 3: copy ``db`` (+ -wal/-journal) into the work dir, check, checkpoint.

        A ``peek.db`` without sidecars (most users) is copied next to itself instead
        (``old_db_temp``): a work dir would cost a mkdir, an rmdir and a directory read
        per user, for nothing.
        """
        byte_copy = db == self.paths.old_db and not verify.has_sidecars(db)
        if byte_copy:
            # Nothing to replay: the checked copy keeps peek.db's bytes, verified equal.
            copy = self.paths.old_db_temp
            fsops.copy_file(db, copy, durable=False, verified=True)
        else:
            fsops.mkdirs(self.paths.work_dir)
            copy = verify.copy_with_sidecars(db, self.paths.work_dir / db.name)
        try:
            verify.seal(copy)
        except verify.UnreadableDb as exc:
            if corrupt_kind == "conflict":
                message = survey.unreadable_new_message(self.paths, str(exc))
            else:
                message = survey.corrupt_message(self.paths, str(exc))
            raise UserProblem(corrupt_kind, message) from exc
        # No fsync here: a staged copy only reaches its final name through place_new_db,
        # which fsyncs it first (adopt_and_fsync); the backup is a copy with its own fsync.
        size = fsops.file_size(copy)
        self.step("copy", f"{db.name}: {size} bytes, integrity checked and checkpointed")
        return _Staged(copy, byte_copy)

    def ensure_backup(self, staged: _Staged, old_stat: os.stat_result, exists: bool) -> None:
        """Step 4: a verified backup with peek.db's content; an equal one is kept (R3)."""
        backup = self.paths.backup
        replacing = False
        if exists:
            try:
                if verify.content(backup).digest == staged.content.digest:
                    # Kept, not re-copied (R3); but its grace period counts from this
                    # migration, or an old one would be deleted at the very next run.
                    self.wrote = True
                    os.utime(backup)
                    fsops.fsync_file(backup)
                    self.step("backup", "kept the existing backup: it verifies")
                    return
            except verify.UnreadableDb:
                pass
            replacing = True
        tmp = self.paths.backup_temp
        fsops.unlink_if_exists(tmp)
        # A byte copy of the checked file, verified by its bytes: equal bytes are equal
        # content, and comparing them costs a read of both, not a digest of every row.
        fsops.copy_file(staged.path, tmp, like=old_stat, verified=True)
        self.wrote = True
        fsops.rename(tmp, backup)
        self.step(
            "backup",
            "replaced a backup that did not match peek.db" if replacing else "created, verified",
        )

    def place_new_db(self, staged: _Staged, old_stat: os.stat_result) -> None:
        """Step 5: the checked copy becomes the new DB (rename, or copy across filesystems)."""
        new_db = self.paths.new_db
        self.wrote = True
        fsops.mkdirs(self.paths.profile_dir, owner_like=os.stat(self.paths.root))
        fsops.adopt_and_fsync(staged.path, old_stat)
        try:
            fsops.rename(staged.path, new_db)
            self.step("place", f"renamed the checked copy to {new_db}")
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        tmp = self.paths.new_db_temp
        fsops.unlink_if_exists(tmp)
        fsops.copy_file(staged.path, tmp, like=old_stat, verified=True)
        fsops.rename(tmp, new_db)
        fsops.unlink(staged.path)
        self.step("place", f"copied to {new_db} (another filesystem) and verified")

    @property
    def by_row_id(self) -> bool:
        return self.accounts.layout_name == layout.PEEK_UUID

    def adopt_slug_folder(self) -> None:
        """peek-uuid: a profile the seed's migration left in ``profiles/default`` is renamed
        to ``profiles/<row id>``, as the server's ``migrateProfileFoldersToUuid`` does.

        The row first, durable: the folder's new name refers to it. One rename moves the
        folder whole (a crash leaves it under one name or the other, both recognised); its
        directory is fsynced with the rest of the block. Run again, there is nothing to do.
        """
        slug, target = self.paths.slug_dir, self.paths.profile_dir
        if not self.by_row_id or slug == target or not slug.is_dir() or slug.is_symlink():
            return
        if os.path.lexists(target):
            raise UserProblem(
                "conflict",
                f"{slug} and {target} both exist: keep the one with the user's data (move the "
                "other out of the folder), then re-run; nothing was changed",
            )
        self.wrote = True
        self.ensure_profile()
        fsops.rename(slug, target)
        self.step("profile", f"renamed {slug.name}/ to {target.name}/ (the profile row's id)")

    def ensure_profile(self) -> None:
        """Step 6: the default profile row, inserted only when missing. Under peek-uuid
        its id names the folder, so it is made durable at once (a folder named after a row
        lost to a power cut would be found again only because the id is derived)."""
        if self.profiled or self.accounts.has_profile(self.user):
            return
        profile_id = self.accounts.profile_id(self.user) if self.by_row_id else None
        inserted = self.profiles.ensure(self.user, profile_id)
        self.profiled = True
        if self.by_row_id:
            self.profiles.sync()
        if self._own_profiles:
            self.profiles.close()
        self.step("profile", "row created" if inserted else "row already present")

    def finish(self, *, old_becomes_backup: bool = False) -> None:
        """Steps 6-8, once the new DB is in place and verified."""
        self.wrote = True
        self.ensure_profile()
        if self.paths.old_images.is_dir() and not self.paths.old_images.is_symlink():
            self.step("images", images.move(self.paths, owner_like=os.stat(self.paths.root)))
        self.remove_old(as_backup=old_becomes_backup)

    def remove_old(self, *, as_backup: bool = False) -> None:
        """Step 8: ``peek.db`` first, so a crash between leaves a state the next run reads
        as migrated-with-stray-sidecars (never peek.db without its -wal: that would read
        as a conflict). It is unlinked, or with ``as_backup`` renamed to the backup."""
        if as_backup:
            self._old_to_backup()
        else:
            fsops.unlink(self.paths.old_db)
        for side in self.paths.old_sidecars():
            fsops.unlink_if_exists(side)
        fsops.unlink_if_exists(self.paths.old_db_temp)  # a staged copy kept only to compare
        fsops.remove_tree(self.paths.work_dir)
        self.step("remove-old", "peek.db and its sidecars removed")

    def _old_to_backup(self) -> None:
        """Steps 4 and 8 in one rename, for a ``peek.db`` without sidecars and no backup yet.

        The new DB is a copy of its bytes, verified equal, so ``peek.db`` itself can be the
        backup: no second copy to write, verify and fsync, no unlink. First its mtime is set
        to now and made durable (a backup's grace period counts from the migration, R11:
        renamed with its old mtime, a kill right after the rename would let the next run
        delete it at once); then everything so far is made durable (the new DB, its
        folders, the images), as before an unlink, and only then does the name go.
        """
        os.utime(self.paths.old_db)
        fsops.fsync_file(self.paths.old_db)
        fsops.commit_point()
        fsops.rename(self.paths.old_db, self.paths.backup)
        self.step("backup", "peek.db renamed to the backup (the new DB verified equal to it)")

    def remove_stray_sidecars(self, tree: UserTree) -> None:
        """Sidecars of a removed peek.db: deleted only when they hold nothing new."""
        wal = tree.stray_wal
        if wal is not None:
            self.step("preflight", space.check(self.paths, tree))
            fsops.mkdirs(self.paths.work_dir)
            redundant = verify.wal_adds_nothing(self.paths.new_db, wal, self.paths.work_dir)
            fsops.remove_tree(self.paths.work_dir)
            if not redundant:
                raise UserProblem("stray_wal", survey.stray_wal_message(self.paths, wal))
        self.wrote = True
        for side in tree.old_sidecars:
            fsops.unlink_if_exists(side)
        self.step("remove-old", "removed sidecars left without peek.db")


def _describe_error(exc: BaseException) -> tuple[str, str]:
    """(problem kind, message) for an unexpected error during a user's migration."""
    kind = "no_space" if isinstance(exc, OSError) and exc.errno == errno.ENOSPC else "io_error"
    where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
    what = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return kind, (
        f"{type(exc).__name__}: {what}{where}; nothing is lost (the old DB is removed only "
        "after the new one is verified): fix the cause and re-run to continue"
    )
