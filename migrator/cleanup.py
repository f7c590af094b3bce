"""Backup clean-up after the grace period (SPEC R11), at every run, over every user.

The seed's version only looked at backups it had just created (always younger than the
grace period), so it never deleted anything. Here every run looks at every user, and a
backup goes only when *all* of these hold:

- the user is fully migrated (new DB, profile row, no old DB, sidecar, image folder or
  scratch left): for anyone else the backup may be the safety net still needed;
- the backup's mtime is older than the grace period (``os.utime`` ages it in tests);
- the new DB reads as a sound database: deleting the last copy next to a damaged DB
  would turn damage into loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from migrator import datadir, fsops, runlock, state, systemdb, verify
from migrator.log import OK, WOULD, Event, EventSink, TextLog

DAY = 86400.0


@dataclass(frozen=True)
class Sweep:
    """What a clean-up did: backups removed and, per user, problems found."""

    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    problems: dict[str, tuple[str, str]] = field(default_factory=dict)  # user -> (kind, msg)


def backup_age_days(backup: Path, now: float | None = None) -> float:
    now = time.time() if now is None else now
    return (now - backup.stat().st_mtime) / DAY


def sweep(
    data_dir: Path,
    user_dirs: list[Path],
    accounts: systemdb.Accounts,
    grace_days: float,
    *,
    dry_run: bool,
    emit: EventSink,
    now: float | None = None,
) -> Sweep:
    """Remove (or, in a dry run, name) every expired backup of a fully migrated user."""
    now = time.time() if now is None else now
    removed: list[str] = []
    kept: list[str] = []
    problems: dict[str, tuple[str, str]] = {}
    for user_dir in user_dirs:
        paths = accounts.paths(data_dir, user_dir.name)
        user = paths.user_id
        try:
            if not paths.backup.is_file() or paths.backup.is_symlink():
                continue
            age = backup_age_days(paths.backup, now)
            if age <= grace_days:
                continue
            tree = state.scan(paths)
        except OSError as exc:
            problems[user] = ("io_error", f"could not look at {paths.backup}: {exc}")
            emit(Event(user, "cleanup", "failed", error=problems[user][1], dry_run=dry_run))
            continue
        if not (accounts.has_user(user) and tree.fully_migrated(accounts.has_profile(user))):
            kept.append(user)
            emit(
                Event(
                    user,
                    "cleanup",
                    "kept",
                    detail=f"backup is {age:.1f} days old but the user is not fully migrated",
                    dry_run=dry_run,
                )
            )
            continue
        problem = verify.check_readable(paths.new_db)
        if problem is not None:
            message = (
                f"{paths.new_db} does not read as a sound database ({problem}); its backup "
                f"{paths.backup} ({age:.0f} days old) is kept. Check the new DB; restore it "
                "from the backup if it is damaged."
            )
            problems[user] = ("new_db_damaged", message)
            emit(Event(user, "cleanup", "failed", error=message, dry_run=dry_run))
            continue
        detail = f"backup {age:.1f} days old > {grace_days:g}-day grace period"
        if dry_run:
            emit(Event(user, "cleanup", WOULD, detail="remove " + detail, dry_run=True))
            continue
        try:
            fsops.unlink(paths.backup)
        except OSError as exc:
            message = f"could not remove {paths.backup}: {exc}; re-run to retry"
            problems[user] = ("io_error", message)
            emit(Event(user, "cleanup", "failed", error=message))
            continue
        removed.append(user)
        emit(Event(user, "cleanup", OK, detail="removed " + detail))
    return Sweep(tuple(removed), tuple(kept), problems)


def cleanup_backups(
    data_dir: Path | str,
    *,
    grace_days: float,
    dry_run: bool = False,
    log: EventSink | None = None,
) -> Sweep:
    """Only the clean-up, as its own command (``migration-kit cleanup-backups``)."""
    data_dir = Path(data_dir).absolute()
    emit = log if log is not None else TextLog()
    datadir.check(data_dir)
    with runlock.holding(data_dir, exclusive=not dry_run):
        users = datadir.check(data_dir)
        if not users:
            return Sweep()
        try:
            accounts = systemdb.Accounts.read(data_dir)
        except systemdb.SystemDbError as exc:
            raise datadir.DataDirError(f"{exc}; pass the server's DATA_DIR") from exc
        result = sweep(data_dir, users, accounts, grace_days, dry_run=dry_run, emit=emit)
    emit(
        Event(
            None,
            "summary",
            "failed" if result.problems else OK,
            detail=f"{len(result.removed)} backups removed, {len(result.problems)} problems",
            dry_run=dry_run,
        )
    )
    return result
