"""``migration-kit plan``: what a production run would do, read before it is started.

The seed's deployment strategy says "run dry-run on production to verify what would be
migrated". A dry run's log is written for a machine watching one run; before a deploy a
person needs something else: the few things that must be looked at *first* (a user who
will fail, rows that sit only in a ``-wal``, a disk that cannot hold the backups), then per
user what would happen, and the free space as numbers.

The classification is the harness's own (``harness.deploy.survey``, written from SPEC and
reading every database through a copy in scratch space), never the migrator's: a preview
sharing the migrator's code would share its bugs. What a planner adds on top of one user's
inspection is what it cannot see: the WAL backlog per user, symlinks where data should be,
the Immediate Action of the seed (users migrated earlier without any backup), and the free
space the *whole* run needs (every backup it keeps plus the largest user's working
copies), which can be short even when each user fits on its own.

Nothing in the data dir is written, created or opened for writing: a test compares
snapshots (bytes and mtimes) before and after.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import struct
import tempfile
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TextIO

from harness.contract import layout
from harness.contract.layout import UserPaths
from harness.deploy import survey
from harness.deploy.survey import Accounts, Kind, UserFiles, mb
from harness.store.scratch import ram_scratch

# Outcomes a user would end the run with.
WOULD_MIGRATE = "would_migrate"
WOULD_FINISH = "would_finish"  # both DBs present and equal: the interrupted migration ends
WOULD_TIDY = "would_tidy"  # migrated, with loose ends the run ties (profile row, images, ...)
ALREADY_MIGRATED = "already_migrated"
NO_DB = "no_db"
WOULD_FAIL = "would_fail"
OUTCOMES = (WOULD_FAIL, WOULD_MIGRATE, WOULD_FINISH, WOULD_TIDY, ALREADY_MIGRATED, NO_DB)

PARALLEL_MIN_USERS = 200  # below this, worker processes cost more than they save
CHUNK_USERS = 100
MAX_WORKERS = 4
# Scratch copies go to a RAM disk when one has room for many copies of the largest DB:
# removing a scratch folder on a journaling disk costs more than inspecting a small user.
RAM_SCRATCH_FACTOR = 8
LIST_USERS = 10  # names listed in a warning about many users


@dataclass(frozen=True)
class PlanWarning:
    """Something a person must see before the run.

    ``needs_person`` means the run will not do it alone: a user will fail (and stay
    untouched) or the run will stop short; the others are what the run handles but a person
    deploying should know (a WAL backlog, a half-migrated user it will finish).
    """

    kind: str  # a survey problem (orphan, corrupt, conflict, no_space, ...) or wal,
    # half_migrated, symlink, no_backup, run_space
    user: str | None
    needs_person: bool
    message: str


@dataclass(frozen=True)
class UserPlan:
    """One user: the state found and what the run would do."""

    user: str
    state: str  # survey's state: legacy, migrated, half_migrated, conflict, corrupt, orphan, ...
    half: str | None
    outcome: str
    detail: str
    actions: tuple[str, ...]
    problem: str | None
    wal_bytes: int  # size of peek.db-wal (0: none)
    peak_bytes: int  # the most this user's migration writes at once (its working copies)
    kept_bytes: int  # what stays written after it: the new backup


@dataclass(frozen=True)
class SpaceNeed:
    """One filesystem: what the whole run needs there against what is free now."""

    filesystem: str  # a path on it
    kept: int  # backups the run leaves behind (kept for the grace period)
    peak: int  # the largest single user's working copies
    free: int

    @property
    def needed(self) -> int:
        return self.kept + self.peak

    @property
    def fits(self) -> bool:
        return self.free >= self.needed


@dataclass(frozen=True)
class Plan:
    data_dir: str
    migration_running: bool
    users: tuple[UserPlan, ...]
    warnings: tuple[PlanWarning, ...]
    space: tuple[SpaceNeed, ...]
    skipped: dict[str, int] = field(default_factory=dict)  # top-level entries that are no user

    @property
    def needs_person(self) -> tuple[PlanWarning, ...]:
        return tuple(w for w in self.warnings if w.needs_person)

    def counts(self) -> dict[str, int]:
        found = Counter(u.outcome for u in self.users)
        return {o: found[o] for o in OUTCOMES if found[o]}


@dataclass(frozen=True)
class _Found:
    """What a worker learns about one user: the plan, warnings, and space per filesystem."""

    plan: UserPlan
    warnings: tuple[PlanWarning, ...]
    needs: tuple[tuple[int, str, int, int], ...]  # (device, a path on it, peak, kept)


# -- one user -----------------------------------------------------------------------------


def plan_user(data_dir: Path, user: str, accounts: Accounts) -> _Found:
    """Inspect one user (``survey.inspect_user``) and add the planner's facts."""
    paths = accounts.paths(data_dir, user)
    finding = survey.inspect_user(paths, accounts)
    try:
        tree = survey.scan(paths)
    except OSError:
        tree = None  # an unreadable folder: the finding already says so (io_error)
    warnings: list[PlanWarning] = []
    if finding.problem:
        message = finding.message or ""
        if finding.problem == "io_error":
            message += (
                "; make this user's files readable by the account that runs the plan and the "
                "migration (the server's user), then plan again"
            )
        warnings.append(PlanWarning(finding.problem, user, True, message))
    wal = _wal_warning(paths) if tree is not None and tree.old_db else None
    if wal is not None:
        warnings.append(wal)
    warnings.extend(_symlink_warnings(paths))
    if finding.state == "half_migrated":
        warnings.append(
            PlanWarning(
                "half_migrated",
                user,
                False,
                f"{paths.root}: half-migrated ({finding.detail}); the run finishes it",
            )
        )
    needs: list[tuple[int, str, int, int]] = []
    peak = kept = 0
    outcome = _outcome(finding)
    if tree is not None and outcome != WOULD_FAIL:
        peak, kept, needs, short = _space(paths, tree)
        if short is not None:
            warnings.append(PlanWarning("no_space", user, True, short))
            outcome = WOULD_FAIL
    plan = UserPlan(
        user=user,
        state=finding.state,
        half=finding.half,
        outcome=outcome,
        detail=finding.detail,
        actions=finding.actions,
        problem=finding.problem or ("no_space" if outcome == WOULD_FAIL else None),
        wal_bytes=survey.file_size(paths.old_sidecars()[0]) if tree else 0,
        peak_bytes=peak,
        kept_bytes=kept,
    )
    return _Found(plan, tuple(warnings), tuple(needs))


def _outcome(finding: survey.Finding) -> str:
    if finding.problem:
        return WOULD_FAIL
    if finding.state == "legacy":
        return WOULD_MIGRATE
    if finding.state == "no_db":
        return NO_DB
    if finding.half and {"both", "seed_folder"} & set(finding.half.split(",")):
        return WOULD_FINISH
    return WOULD_TIDY if finding.actions else ALREADY_MIGRATED


def wal_frames(wal: Path) -> tuple[int, int]:
    """(size, frames) of a ``-wal``, read from its header (page size at bytes 8-11)."""
    size = survey.file_size(wal)
    if size <= survey.WAL_HEADER_BYTES:
        return size, 0
    with open(wal, "rb") as f:
        head = f.read(12)
    page = struct.unpack(">I", head[8:12])[0] if len(head) == 12 else 0
    return size, (size - survey.WAL_HEADER_BYTES) // (page + 24) if page else 0


def _wal_warning(paths: UserPaths) -> PlanWarning | None:
    wal = paths.old_sidecars()[0]  # the old DB's -wal, wherever the layout puts it
    old = paths.old_db.name
    try:
        size, frames = wal_frames(wal)
    except OSError as exc:
        return PlanWarning("wal", paths.user_id, True, f"{wal}: cannot be read ({exc.strerror})")
    if frames == 0:
        return None
    return PlanWarning(
        "wal",
        paths.user_id,
        False,
        f"{wal}: {mb(size)} ({frames} pages) not yet checkpointed into {old}: rows there "
        f"exist nowhere else, and a migrator that moves {old} alone loses them (the "
        f"shipped one did); the reference migrator copies {old} together with its -wal",
    )


def _symlink_warnings(paths: UserPaths) -> list[PlanWarning]:
    """Symlinks where the migration expects data: it never follows them (SPEC R13), so the
    data behind them would be left where it is, or the user misread as having none."""
    places = [
        paths.old_db,
        *paths.old_sidecars(),
        paths.backup,
        paths.old_images,
        paths.profiles_dir,
        paths.profile_dir,
        paths.new_db,
        paths.new_images,
    ]
    for folder in (paths.old_images, paths.new_images):
        if folder.is_dir() and not folder.is_symlink():
            try:
                places += [Path(e.path) for e in os.scandir(folder) if e.is_symlink()]
            except OSError:
                continue
    out = []
    for link in places:
        if not link.is_symlink():
            continue
        out.append(
            PlanWarning(
                "symlink",
                paths.user_id,
                True,
                f"{link} is a symlink (-> {os.readlink(link)}): the migration does not "
                "follow it, so what it points to is neither migrated nor backed up; "
                "replace the link by a copy of its target, then re-run the plan",
            )
        )
    return out


def _space(
    paths: UserPaths, tree: UserFiles
) -> tuple[int, int, list[tuple[int, str, int, int]], str | None]:
    """(peak, kept, per-filesystem needs, the no-space message if one is short)."""
    found = survey.space_needs(paths, tree)
    kept = 0
    if tree.kind in (Kind.LEGACY, Kind.BOTH) and not tree.backup:
        kept = sum(survey.file_size(p) for p in (paths.old_db, *paths.old_sidecars()))
    root_dev = survey.device_of(paths.root)
    needs = []
    for need in found:
        dev = survey.device_of(need.where)
        needs.append((dev, str(need.where), need.bytes, kept if dev == root_dev else 0))
    peak = max((n.bytes for n in found), default=0)
    return peak, kept, needs, survey.shortage(paths, found)


def _plan_chunk(data_dir: Path, users: list[str], accounts: Accounts) -> list[_Found]:
    return [plan_user(data_dir, u, accounts) for u in users]


def _use_scratch(scratch: str | None) -> None:
    """Worker initialiser: the survey's scratch copies go to ``scratch`` (this process only)."""
    if scratch is not None:
        tempfile.tempdir = scratch


# -- the whole tree -------------------------------------------------------------------------


def collect(data_dir: Path | str, *, workers: int | None = None) -> Plan:
    """Plan the run on ``data_dir``. Raises ``survey.DataDirError`` for a path that is no
    data dir (missing, a file, unreadable, folders without system.db, unreadable system.db,
    even with no user folder: the run reads it all the same).

    ``workers``: processes inspecting users (default: up to 4 from 200 users on). Results
    do not depend on it: users are independent and come back in order.
    """
    data_dir = Path(data_dir).absolute()
    user_dirs, accounts = survey.open_data_dir(data_dir)
    names = [p.name for p in user_dirs]
    found = _inspect_all(data_dir, names, accounts, workers)
    warnings = [w for f in found for w in f.warnings]
    warnings += _top_level_warnings(data_dir)
    spaces = _run_space(data_dir, found)
    # A filesystem where one user alone does not fit has that user's own warning already.
    warnings += [_run_space_warning(s) for s in spaces if not s.fits and s.peak <= s.free]
    no_backup = _migrated_without_backup(data_dir, found)
    if no_backup is not None:
        warnings.append(no_backup)
    warnings.sort(key=lambda w: (not w.needs_person, w.user is not None, w.user or "", w.kind))
    return Plan(
        data_dir=str(data_dir),
        migration_running=survey.reference_run_holds(data_dir),
        users=tuple(f.plan for f in found),
        warnings=tuple(warnings),
        space=tuple(spaces),
        skipped=_skipped(data_dir, set(names)),
    )


def _workers(count: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, workers)
    if count < PARALLEL_MIN_USERS:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def _inspect_all(
    data_dir: Path, names: list[str], accounts: Accounts, workers: int | None
) -> list[_Found]:
    n = _workers(len(names), workers)
    if n == 1:
        return _plan_chunk(data_dir, names, accounts)
    chunks = [names[i : i + CHUNK_USERS] for i in range(0, len(names), CHUNK_USERS)]
    context = multiprocessing.get_context("spawn")  # no fork of a threaded parent (xdist)
    scratch = _ram_scratch(data_dir, names, accounts)
    with ProcessPoolExecutor(
        n, mp_context=context, initializer=_use_scratch, initargs=(scratch,)
    ) as pool:
        results = pool.map(_plan_chunk, repeat(data_dir), chunks, repeat(accounts))
        return [f for chunk in results for f in chunk]


def _ram_scratch(data_dir: Path, names: list[str], accounts: Accounts) -> str | None:
    """``/dev/shm`` when it can hold many copies of the largest user DB, else None (the new
    DB found through the profile row, as a row-id layout names its folder)."""
    largest = 0
    for name in names:
        paths = accounts.paths(data_dir, name)
        for db in (paths.old_db, paths.new_db):
            size = sum(survey.file_size(db.with_name(db.name + s)) for s in ("", "-wal"))
            largest = max(largest, size)
    return ram_scratch(RAM_SCRATCH_FACTOR * largest + (64 << 20))


def _run_space(data_dir: Path, found: Iterable[_Found]) -> list[SpaceNeed]:
    """Per filesystem: every backup kept, plus the one largest user's working copies (users
    are migrated one at a time, and each one's scratch is gone before the next starts)."""
    home = survey.device_of(data_dir)
    per_dev: dict[int, list] = {}
    for f in found:
        for dev, where, peak, kept in f.needs:
            slot = per_dev.setdefault(dev, [str(data_dir) if dev == home else where, 0, 0])
            slot[1] += kept
            slot[2] = max(slot[2], peak)
    out = []
    for where, kept, peak in per_dev.values():
        out.append(SpaceNeed(where, kept, peak, survey.free_bytes(Path(where))))
    return out


def _run_space_warning(need: SpaceNeed) -> PlanWarning:
    return PlanWarning(
        "run_space",
        None,
        True,
        f"not enough free space for the whole run on the filesystem of {need.filesystem}: "
        f"it needs about {need.needed} bytes ({mb(need.needed)}: {mb(need.kept)} of backups "
        f"kept for the grace period + {mb(need.peak)} for the largest user's working "
        f"copies), {need.free} bytes ({mb(need.free)}) are free. Each user that no longer "
        "fits would be refused and left untouched; free some space (or move the server's "
        "backups/ elsewhere) before the run",
    )


def _profile_folder() -> str:
    chosen = layout.active()
    return chosen.in_user_folder(chosen.new_db).rsplit("/", 1)[0]


def _migrated_without_backup(data_dir: Path, found: list[_Found]) -> PlanWarning | None:
    """The seed's Immediate Action: users migrated before (by the shipped code) have no
    backup to fall back on; a person backs them up before anything else runs."""
    users = []
    folders: set[str] = set()
    for f in found:
        paths = UserPaths(data_dir, f.plan.user)
        moved = f.plan.state in ("migrated", "half_migrated") and not paths.old_db.exists()
        if moved and not paths.backup.exists():
            users.append(f.plan.user)
            seed = "seed_folder" in (f.plan.half or "").split(",")  # still profiles/default
            folders.add(f"{layout.PROFILES_DIR}/{layout.DEFAULT_PROFILE_SLUG}" if seed else "")
    if not users:
        return None
    named = ", ".join(users[:LIST_USERS]) + (
        f" and {len(users) - LIST_USERS} more" if len(users) > LIST_USERS else ""
    )
    return PlanWarning(
        "no_backup",
        None,
        False,
        f"{len(users)} user(s) already migrated by an earlier run have no pre-migration "
        f"backup ({named}): as the seed's Immediate Action says, back up their "
        f"{' or '.join(sorted(f or _profile_folder() for f in folders))}/ folders now, "
        "before deploying",
    )


def _top_level_warnings(data_dir: Path) -> list[PlanWarning]:
    out = []
    with os.scandir(data_dir) as it:
        links = sorted(Path(e.path) for e in it if e.is_symlink())
    for link in links:
        out.append(
            PlanWarning(
                "symlink",
                None,
                False,
                f"{link} is a symlink (-> {os.readlink(link)}): not a user folder to the "
                "migration, which skips it without following it (SPEC R13); if it is a "
                "user's real folder, move that folder into the data dir first",
            )
        )
    return out


def _skipped(data_dir: Path, users: set[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with os.scandir(data_dir) as it:
        for e in it:
            if e.name in users or e.name.startswith(layout.SYSTEM_DB):
                continue
            if e.is_symlink():
                counts["symlinks"] += 1
            elif e.name == layout.SERVER_BACKUPS_DIR:
                counts["server backups/"] += 1
            elif e.name.startswith("."):
                counts["dot entries"] += 1
            elif e.is_file():
                counts["regular files"] += 1
            else:
                counts["other"] += 1
    return dict(sorted(counts.items()))


# -- output ---------------------------------------------------------------------------------


_OUTCOME_WORDS = {
    WOULD_MIGRATE: "would migrate",
    WOULD_FINISH: "would finish the migration",
    WOULD_TIDY: "would tidy up",
    ALREADY_MIGRATED: "nothing to do",
    NO_DB: "nothing to do (no {old})",  # {old}: the layout's old DB, as in a user's folder
    WOULD_FAIL: "WOULD FAIL",
}


def _outcome_words(outcome: str) -> str:
    chosen = layout.active()
    return _OUTCOME_WORDS[outcome].format(old=chosen.in_user_folder(chosen.old_db))


def render_text(plan: Plan, out: TextIO) -> None:
    """Warnings first (a person reads the top), then per user, then the summary."""
    print(f"plan for {plan.data_dir} (read-only: nothing was changed)", file=out)
    if plan.migration_running:
        print("note: a migration is running on this data dir right now", file=out)
    if plan.warnings:
        print(f"\nWARNINGS ({len(plan.needs_person)} need a person before the run)", file=out)
        for w in plan.warnings:
            who = f"{w.user}: " if w.user is not None else ""
            print(f"  {'!' if w.needs_person else '-'} {w.kind}: {who}{w.message}", file=out)
    print("\nPER USER", file=out)
    for u in plan.users:
        state_text = u.state + (f" ({u.half})" if u.half else "")
        line = f"  {u.user}: {state_text} -> {_outcome_words(u.outcome)}"
        if u.outcome == WOULD_FAIL:
            line += f" ({u.problem}; see WARNINGS)"
        elif u.actions:
            line += ": " + "; ".join(u.actions)
        elif u.detail and u.outcome != NO_DB:
            line += f" ({u.detail})"
        print(line, file=out)
    print("\nSUMMARY", file=out)
    counts = ", ".join(f"{n} {_outcome_words(o)}" for o, n in plan.counts().items())
    print(f"  {len(plan.users)} users" + (f": {counts}" if counts else ""), file=out)
    for s in plan.space:
        verdict = "fits" if s.fits else "DOES NOT FIT"
        print(
            f"  space on {s.filesystem}: needs {mb(s.needed)} ({mb(s.kept)} backups + "
            f"{mb(s.peak)} largest user), {mb(s.free)} free: {verdict}",
            file=out,
        )
    if plan.skipped:
        skipped = ", ".join(f"{n} {what}" for what, n in plan.skipped.items())
        print(f"  not users, skipped: {skipped}", file=out)
    people = len(plan.needs_person)
    print(
        f"  {people} warning(s) need a person" if people else "  nothing needs a person",
        file=out,
    )


def render_json(plan: Plan, out: TextIO) -> None:
    doc = asdict(plan)
    for s, need in zip(doc["space"], plan.space, strict=True):
        s.update(needed=need.needed, fits=need.fits)
    doc["summary"] = {"counts": plan.counts(), "needs_person": len(plan.needs_person)}
    print(json.dumps(doc, indent=2, ensure_ascii=False), file=out)
