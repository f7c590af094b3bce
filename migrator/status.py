"""``status``: the seed's "Immediate Action" check, per user, without changing anything.

"Check if any users have been migrated" becomes: for every user, the state (legacy,
migrated, half-migrated and which half, conflict, corrupt, orphan, no_db, symlink), whether
a backup is there and how old it is, and which users need a person. A user folder that is a
symlink is listed when system.db has a users row for it: ``migrate`` never follows it.
Databases are read through copies in the system temp dir, so running it on a live tree
leaves no sidecar behind.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from migrator import cleanup, datadir, layout, runlock, survey, systemdb


@dataclass(frozen=True)
class UserStatus:
    user: str
    state: str
    half: str | None
    detail: str
    needs_person: bool
    problem: str | None
    message: str | None
    backup: bool
    backup_age_days: float | None


@dataclass(frozen=True)
class Status:
    data_dir: str
    migration_running: bool
    users: tuple[UserStatus, ...]

    @property
    def needs_person(self) -> tuple[UserStatus, ...]:
        return tuple(u for u in self.users if u.needs_person)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(u.state for u in self.users).items()))


def collect(data_dir: Path | str) -> Status:
    """Inspect every user. Raises ``datadir.DataDirError`` for a path that is no data dir."""
    data_dir = Path(data_dir).absolute()
    users = datadir.check(data_dir)
    running = runlock.is_locked(data_dir)
    links = _linked_user_dirs(data_dir)
    accounts = systemdb.Accounts()
    if users or (links and (data_dir / layout.SYSTEM_DB).is_file()):
        try:
            accounts = systemdb.Accounts.read(data_dir)
        except systemdb.SystemDbError as exc:
            raise datadir.DataDirError(f"{exc}; pass the server's DATA_DIR") from exc
    found = []
    for user_dir in users:
        paths = accounts.paths(data_dir, user_dir.name)
        f = survey.inspect_user(paths, accounts, with_space=False)
        has_backup = paths.backup.is_file()
        age = cleanup.backup_age_days(paths.backup) if has_backup else None
        found.append(
            UserStatus(
                f.user,
                f.state,
                f.half,
                f.detail,
                f.needs_person,
                f.problem,
                f.message,
                has_backup,
                None if age is None else round(age, 2),
            )
        )
    found += [_linked_user(link) for link in links if accounts.has_user(link.name)]
    found.sort(key=lambda u: u.user)
    return Status(str(data_dir), running, tuple(found))


def _linked_user_dirs(data_dir: Path) -> list[Path]:
    """Symlinks in DATA_DIR named like a user folder: never followed (SPEC R13)."""
    with os.scandir(data_dir) as it:
        entries = [Path(e.path) for e in it if e.is_symlink()]
    return sorted(
        p for p in entries if not p.name.startswith(".") and p.name != layout.SERVER_BACKUPS_DIR
    )


def _linked_user(link: Path) -> UserStatus:
    """A user whose folder is a symlink: ``migrate`` never follows it, so their data is never
    migrated; with a users row, a person must replace the link with the folder."""
    try:
        target = f" (to {os.readlink(link)})"
    except OSError:
        target = ""
    message = (
        f"{link} is a symbolic link{target}; links are not followed (SPEC R13), so this "
        "user is never migrated. Replace it with the folder it points to, then re-run."
    )
    return UserStatus(link.name, "symlink", None, "", True, "symlink", message, False, None)


def render_text(status: Status, out: TextIO) -> None:
    if status.migration_running:
        print("note: a migration is running on this data dir; states may change", file=out)
    for u in status.users:
        state = u.state + (f" ({u.half})" if u.half else "")
        backup = f"backup {u.backup_age_days:.1f} days old" if u.backup else "no backup"
        line = f"{u.user}: {state}; {backup}"
        if u.detail:
            line += f"; {u.detail}"
        if u.needs_person:
            line += f"\n  NEEDS A PERSON: {u.message}"
        print(line, file=out)
    counts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in status.counts().items())
    people = len(status.needs_person)
    print(
        f"summary: {len(status.users)} users"
        + (f": {counts}" if counts else "")
        + (f"; {people} need a person" if people else "; nothing needs a person"),
        file=out,
    )


def render_json(status: Status, out: TextIO) -> None:
    doc = asdict(status)
    doc["summary"] = {"counts": status.counts(), "needs_person": len(status.needs_person)}
    print(json.dumps(doc, indent=2), file=out)
