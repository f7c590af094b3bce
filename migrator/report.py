"""What a run did, per user: the value ``migrate`` returns and ``MigrationFailed`` carries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Outcomes a user can end a run with. Everything but FAILED is a success.
MIGRATED = "migrated"  # legacy -> new layout in this run
FINISHED = "finished"  # an interrupted migration (both DBs, equal) completed
ALREADY_MIGRATED = "already_migrated"  # nothing to move (loose ends may have been tied)
NO_DB = "no_db"  # no database at all: nothing created (SPEC R6)
WOULD_MIGRATE = "would_migrate"  # dry run
WOULD_FINISH = "would_finish"  # dry run
FAILED = "failed"


class UserProblem(Exception):
    """One user cannot be migrated now; their folder is left as it is for a person.

    ``kind`` is a stable word for programs (orphan, corrupt, conflict, no_space,
    backup_only, stray_wal, image_conflict, unexpected, io_error); the message is for people:
    what is wrong, where, and what to do.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class UserResult:
    user: str
    state: str  # the Kind found at the start (or orphan)
    outcome: str
    problem: str | None = None  # UserProblem.kind when failed
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == FAILED


@dataclass(frozen=True)
class MigrationReport:
    data_dir: Path
    dry_run: bool
    users: tuple[UserResult, ...]
    backups_removed: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[UserResult, ...]:
        return tuple(u for u in self.users if u.failed)

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(u.outcome for u in self.users).items()))

    def summary(self) -> str:
        parts = [f"{n} {outcome.replace('_', ' ')}" for outcome, n in self.counts().items()]
        text = f"{len(self.users)} users" + (": " + ", ".join(parts) if parts else "")
        if self.backups_removed:
            text += f"; {len(self.backups_removed)} expired backups removed"
        if self.failed:
            text += "; failed: " + ", ".join(u.user for u in self.failed)
        return text


class MigrationFailed(Exception):
    """At least one user failed; every other user was still processed.

    Raised after the whole run, so the callable contract (raise on failure) and the
    per-user isolation (SPEC R7, R14) hold together. ``report`` has the details.
    """

    def __init__(self, report: MigrationReport) -> None:
        lines = [f"migration failed for {len(report.failed)} of {len(report.users)} users:"]
        lines += [f"  {u.user}: {u.error}" for u in report.failed]
        super().__init__("\n".join(lines))
        self.report = report
