"""``status``: the seed's "Immediate Action" check, per user, without changing anything.

"Check if any users have been migrated" becomes: for every user, the state (legacy,
migrated, half-migrated and which half, conflict, corrupt, orphan, no_db), whether a backup
is there and how old it is, and which users need a person. Databases are read through
copies in the system temp dir, so running it on a live tree leaves no sidecar behind.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from migrator import cleanup, datadir, runlock, survey, systemdb


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
    accounts = systemdb.Accounts()
    if users:
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
    return Status(str(data_dir), running, tuple(found))


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
