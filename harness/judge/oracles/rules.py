"""One oracle per SPEC rule: ``check_rN(before, after, run, ..., users=...) -> list[Verdict]``.

``before`` and ``after`` are snapshots around ``run``. ``users`` names the users the rule is
about; by default they are read off ``before`` (see ``judgments``: legacy, migrated, ...),
which is right for a generated tree, and a scenario that built a tree for one rule may pass
them explicitly. Every oracle returns passing verdicts too, so a report can say what held.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from harness.contract import layout
from harness.judge.oracles import judgments as j
from harness.judge.snapshot import Entry, Snapshot, entry_changes
from harness.judge.verdict import Damage, Verdict
from harness.run.process import RunResult
from harness.run.serve import SERVE_SAYS

Users = Sequence[str] | None


def check_r1(before: Snapshot, after: Snapshot, run: RunResult, *, users: Users = None):
    """Legacy user: new DB with the old content, images moved byte-identical, profile row,
    backup with the old content, no peek.db/-wal/-shm left. The risk: a move that loses what
    sits in peek.db-wal, or a migration that stops half way."""
    out: list[Verdict] = []
    for uid in j.legacy_users(before) if users is None else users:
        source = before.users[uid].live
        assert source is not None, f"{uid} is not a legacy user with a sound peek.db"
        out += j.migration_finished("R1", before, after, uid, source=source)
    return out


def check_r2(before: Snapshot, after: Snapshot, run: RunResult, *, users: Users = None):
    """Dry run: the whole tree untouched, byte for byte, system.db and symlink targets
    included (no new dirs, sidecars or backups), and a log line naming each user it would
    migrate. The risk: the field's dry run that created an empty new DB."""
    changes = entry_changes(before.entries, after.entries)
    out = [
        Verdict(
            "R2",
            None,
            not changes,
            "the whole tree untouched (no new dirs, no sidecars, no backups)",
            "untouched" if not changes else f"{len(changes)} entries changed",
            "\n".join(f"  {c}" for c in j.first(changes)),
            damage=Damage.CHANGED,
            evidence=tuple(str(c) for c in changes),
        ),
        *_link_targets_untouched("R2", before, after),
    ]
    for uid in j.legacy_users(before) if users is None else users:
        named = j.mentions(run.output, uid)
        out.append(
            Verdict(
                "R2",
                uid,
                named,
                f"a log line naming {uid}, which it would migrate",
                "named" if named else f"the output never names {uid}",
                damage=Damage.NOT_REPORTED,
                place="dry-run log",
            )
        )
    return out


def check_r3(
    first: Snapshot,
    second: Snapshot,
    run: RunResult,
    *,
    users: Users = None,
    original: Snapshot | None = None,
):
    """Run twice: ``first`` is the tree after the first run, ``second`` after the second,
    ``run`` the second run. Nothing changes, backup mtimes included (a re-created backup
    restarts its grace clock). system.db is compared by its rows: the server's own live DB
    may be checkpointed by anyone who opens it, which changes bytes, not rows.

    ``original`` (the tree before the first run), when given, tells which files outside
    user folders the migrator made itself: a lock file or a log of its own may change (SPEC
    lets it keep them) as long as it holds no user content."""
    own = frozenset() if original is None else _added_outside(original, first)
    out = [_outside_users_untouched("R3", first, second, system_rows=True, own=own)]
    for uid in sorted(first.users) if users is None else users:
        out.append(j.untouched("R3", first, second, uid, user=uid))
    return out


def check_r4(before: Snapshot, after: Snapshot, run: RunResult, *, users: Users = None):
    """Already migrated (new DB only): the user's folder untouched (so no backup created)
    and the profile row ensured. The risk: a re-run that re-migrates or backs up again.
    Under a row-id layout a user the seed's code migrated (profiles/default) is migrated
    once more: the folder renamed to profiles/<row id>, content and images whole, nothing
    of profiles/default left (Peek at 398e4a1)."""
    out: list[Verdict] = []
    renamed = set(j.seed_folder_users(before))
    chosen = j.migrated_users(before) + sorted(renamed) if users is None else users
    for uid in chosen:
        if uid in renamed:  # under a row-id layout "already migrated" is the seed's folder,
            out += j.profile_renamed("R4", before, after, uid)  # renamed after its row
        else:
            out += [j.untouched("R4", before, after, uid, user=uid)]
            out.append(j.profile_row("R4", after, uid))
    return out


def check_r5(before: Snapshot, after: Snapshot, run: RunResult, *, users: Users = None):
    """Both old and new DB: when the new one is a verified copy (same logical content),
    finish the migration (R1's outcome); otherwise leave both untouched and report an error.
    The risk: the field's dry-run trap, an empty new DB taken for a finished migration."""
    out: list[Verdict] = []
    for uid in j.both_present_users(before) if users is None else users:
        user = before.users[uid]
        if j.is_verified_copy(user):
            out += j.migration_finished("R5", before, after, uid, source=user.old_db)
        else:
            out += [
                j.untouched("R5", before, after, uid, user=uid),
                j.error_reported("R5", run, uid),
            ]
    return out


def check_r6(before: Snapshot, after: Snapshot, run: RunResult, *, users: Users = None):
    """No peek.db: nothing created in the user's folder, in particular no backup. The risk:
    an empty backup or DB that later passes for the user's data."""
    out = []
    for uid in j.no_db_users(before) if users is None else users:
        added = sorted(after.under(uid).keys() - before.under(uid).keys())
        out.append(
            Verdict(
                "R6",
                uid,
                not added,
                f"nothing created in {uid}/ (no backup)",
                "nothing created" if not added else f"created: {', '.join(j.first(added))}",
                damage=Damage.CHANGED,
                place="the user's folder",
                evidence=tuple(f"created: {p}" for p in added),
            )
        )
    return out


def check_r7(
    before: Snapshot,
    after: Snapshot,
    run: RunResult,
    *,
    users: Users = None,
    others: Users = None,
):
    """Corrupt peek.db: that user untouched and the error reported, and every other legacy
    user (``others``) migrated as R1 says. The risk: one bad DB stopping everyone, or a
    corrupt DB moved over and its backup deleted later."""
    out: list[Verdict] = []
    for uid in j.corrupt_users(before) if users is None else users:
        out += [j.untouched("R7", before, after, uid, user=uid), j.error_reported("R7", run, uid)]
    for uid in j.legacy_users(before) if others is None else others:
        source = before.users[uid].live
        out += j.migration_finished("R7", before, after, uid, source=source)
    return out


def check_r8(before: Snapshot, after: Snapshot, run: RunResult, *, users: Users = None):
    """Disk nearly full: each legacy user either completely migrated or untouched with the
    error reported, and no partial file left anywhere (outside user folders included: a
    file the migrator added there is a finding when it holds user content or a partial copy
    of it, ``judgments.user_content``; a lock file or a log is its own business). For
    "after space is freed, a re-run migrates them": run again and apply ``check_r1`` with the
    original ``before``."""
    own = _added_outside(before, after)
    out = [_outside_users_untouched("R8", before, after, system_rows=False, own=own)]
    for uid in j.legacy_users(before) if users is None else users:
        stayed, verdicts = j.untouched_or_finished("R8", before, after, uid)
        out += [*verdicts, j.error_reported("R8", run, uid)] if stayed else verdicts
    return out


def check_r11(
    before: Snapshot,
    after: Snapshot,
    run: RunResult,
    *,
    grace_days: float | None = None,
    users: Users = None,
):
    """Backups and the grace period, ages measured from the run's start:
    - fully migrated before the run and the backup older than ``grace_days``: deleted;
    - fully migrated and the backup younger: kept, untouched (mtime included);
    - not fully migrated after the run: the backup still there (never deleted).
    Within an hour of the grace period the age is too close to call and is not judged; a
    user the run itself finished is R1's business. The risk: a clean-up that never deletes,
    or one that deletes the only good copy of a user still at risk."""
    margin = 1 / 24
    if grace_days is None:
        grace_days = layout.active().grace_days  # the layout's grace period
    out = []
    for uid in _with_backup(before) if users is None else users:
        rel = before.paths(uid).backup.as_posix()
        entry = before.entries.get(rel)
        assert entry is not None, f"{uid} has no {rel} to judge"
        age = (run.started_at * 1e9 - entry.mtime_ns) / 86_400e9
        present = after.entries.get(rel)
        if not j.is_fully_migrated(after, uid):
            out.append(
                Verdict(
                    "R11",
                    uid,
                    present is not None,
                    "the backup kept: the user is not fully migrated",
                    "kept" if present else "deleted",
                    damage=Damage.BACKUP_DELETED,
                )
            )
        elif not j.is_fully_migrated(before, uid) or abs(age - grace_days) < margin:
            continue
        elif age > grace_days:
            out.append(
                Verdict(
                    "R11",
                    uid,
                    present is None,
                    f"the backup ({age:.1f} days old, grace {grace_days:g}) deleted",
                    "deleted" if present is None else "still there",
                    damage=Damage.BACKUP_KEPT,
                )
            )
        else:
            out.append(j.untouched("R11", before, after, rel, user=uid))
    return out


def _with_backup(snap: Snapshot) -> list[str]:
    return [uid for uid, u in sorted(snap.users.items()) if u.backup is not None]


def check_r13(before: Snapshot, after: Snapshot, run: RunResult):
    """Symlinks, regular files, dot entries and ``backups/`` at the top of DATA_DIR: not
    followed, not touched, and neither is what a symlink points to. The risk: a symlinked
    user dir migrated through the link, or the server's backups taken for a user."""
    out = []
    for name in before.entries["."].names:
        if name in before.users or _is_system_db(name):
            continue
        verdict = j.untouched("R13", before, after, name, user=None)
        bait = sorted(p for p, e in before.under(name).items() if e.sqlite)
        if bait:  # say what the bait was: a finding there reads "took X for a user"
            what = f"; bait: {', '.join(j.first(bait))} (SQLite, where no user lives)"
            verdict = dataclasses.replace(verdict, expected=verdict.expected + what)
        out.append(verdict)
    out += _link_targets_untouched("R13", before, after)
    return out


def check_r14(before: Snapshot, after: Snapshot, run: RunResult, *, users: Users = None):
    """A user dir with no users row: untouched or migrated completely (no profile row can
    exist), never half, and the error reported either way. The risk: the field's failure, a
    DB moved before the profile insert failed, stranding the images."""
    out: list[Verdict] = []
    for uid in j.orphan_users(before) if users is None else users:
        _, verdicts = j.untouched_or_finished("R14", before, after, uid, profile=False)
        out += [*verdicts, j.error_reported("R14", run, uid)]
    return out


def check_r15(
    before: Snapshot,
    after: Snapshot,
    runs: Sequence[RunResult],
    *,
    users: Users = None,
    alone: Snapshot | None = None,
):
    """Two migrators started together (``runs``): each legacy user migrated exactly once:
    R1's outcome, one profile row, and nothing in the user's folder beyond what one
    migration makes (a second copy, temp file or backup of a backup means two migrations
    raced). The risk: both processes moving the same files.

    "What one migration makes" is ``alone``: the same migrator run by itself on an identical
    tree (same spec, same seed), so a migrator's own names (a backup of the images folder,
    say) are judged against its own habits. Without ``alone``, the files SPEC's layout
    names."""
    out: list[Verdict] = []
    for uid in j.legacy_users(before) if users is None else users:
        out += j.migration_finished("R15", before, after, uid, source=before.users[uid].live)
        added = after.under(uid).keys() - before.under(uid).keys()
        if alone is None:
            extra = sorted(p for p in added if not _made(after, uid, p))
            expected = "nothing beyond one migration's files (SPEC's layout)"
        else:
            extra = sorted(added - alone.under(uid).keys())
            expected = "nothing beyond the files the same migrator makes when it runs alone"
        out.append(
            Verdict(
                "R15",
                uid,
                not extra,
                expected,
                "nothing else" if not extra else f"also: {', '.join(j.first(extra))}",
                damage=Damage.LEFT_OVER,
                place="the user's folder",
                evidence=tuple(f"also: {p}" for p in extra),
            )
        )
    return out


def _made(after: Snapshot, uid: str, rel: str) -> bool:
    """Whether ``rel`` is a file or folder one migration of ``uid`` creates."""
    paths = after.paths(uid)
    made = {
        paths.backup.as_posix(),
        paths.profiles_dir.as_posix(),
        paths.profile_dir.as_posix(),
        paths.new_db.as_posix(),
        paths.new_images.as_posix(),
        *(p.as_posix() for p in paths.new_sidecars()),
    }
    return rel in made or rel.startswith(paths.new_images.as_posix() + "/")


def check_r16(
    before: Snapshot,
    after: Snapshot,
    run: RunResult,
    *,
    max_rss_bytes: int,
    users: Users = None,
):
    """A large user: all content migrated (R1's outcome) and the migrator's peak RSS at most
    ``max_rss_bytes``, a bound the scenario sets well below the DB's size so that a migrator
    that reads the DB into memory fails it."""
    out = [dataclasses.replace(v, rule="R16") for v in check_r1(before, after, run, users=users)]
    rss = run.peak_rss_bytes
    out.append(
        Verdict(
            "R16",
            None,
            rss is not None and rss <= max_rss_bytes,
            f"peak RSS at most {max_rss_bytes >> 20} MiB",
            "not measured (in-process run)" if rss is None else f"{rss >> 20} MiB",
            damage=Damage.MEMORY,
        )
    )
    return out


AFTER_CHECK_LINES = 12  # lines of a failed after-check quoted in its verdict


def check_r18(check: RunResult, *, spec: str) -> list[Verdict]:
    """The app on the migrated tree: the user's after-check (``spec``) ran on it and passed.

    It fails on what says the app failed, and on nothing else: a non-zero exit, a crash or a
    timeout (for a ``serve:`` check also exiting before it was ready, not getting ready in
    time, or a line matching the ``--fail-line`` the user gave: the launcher's exit status
    1), or a JSON log event whose level is error, critical or fatal. A working app talks: a
    warning on stderr, "checked 3 users, 0 errors" are not failures, and counting them would
    fail a correct app (a false alarm is as bad as a miss). An app that only says its
    failure in plain words is caught with ``--fail-line`` (``serve:--fail-line R -- CMD``).
    """
    events = j.error_events(check)
    lines = [*events, *_launcher_lines(check)]
    problems = []
    if check.timed_out or check.exit_status != 0:
        problems.append(check.describe())
    if events:
        problems.append(f"{len(events)} JSON error event(s)")
    if problems and not lines:
        lines = check.tail().splitlines()  # a bare exit status: what the app said last
    shown = lines[:AFTER_CHECK_LINES]
    more = len(lines) - len(shown)
    found = (
        f"{'; '.join(problems)}; the check: {spec}"
        + ("\n" + "\n".join(shown) if shown else "\nlast lines:\n(none)")
        + (f"\n... and {more} more" if more > 0 else "")
    )
    return [
        Verdict(
            "R18",
            None,
            not problems,
            "the after-check to pass on the migrated tree: exit status 0 (for serve:, ready "
            "and no --fail-line match), no JSON error event",
            found if problems else f"passed ({check.describe()}): {spec}",
            damage=Damage.APP_FAILS if problems else "",
            place=spec if len(spec) <= 80 else spec[:77] + "...",  # the title: which app
            evidence=tuple(lines) if problems else (),
        )
    ]


def _launcher_lines(check: RunResult) -> list[str]:
    """The ``serve:`` launcher's own verdict lines (why a server check failed: the line that
    matched ``--fail-line``, not ready in time, exited early)."""
    return [line for line in check.stderr.splitlines() if line.startswith(SERVE_SAYS)]


# ---------------------------------------------------------------------------------------------


def _is_system_db(name: str) -> bool:
    return name == layout.SYSTEM_DB or (
        name.startswith(layout.SYSTEM_DB) and name[len(layout.SYSTEM_DB) :] in ("-wal", "-shm")
    )


def _outside(snap: Snapshot) -> dict[str, Entry]:
    """Entries outside user folders, system.db and its sidecars left out."""
    return {
        p: e
        for p, e in snap.entries.items()
        if p != "." and p.split("/", 1)[0] not in snap.users and not _is_system_db(p)
    }


def _added_outside(before: Snapshot, after: Snapshot) -> frozenset[str]:
    """Paths outside user folders that ``after`` has and ``before`` had not."""
    return frozenset(_outside(after).keys() - _outside(before).keys())


def _outside_users_untouched(
    rule: str,
    before: Snapshot,
    after: Snapshot,
    *,
    system_rows: bool,
    own: frozenset[str] = frozenset(),
) -> Verdict:
    """Nothing outside user folders added, removed or changed, except the migrator's own
    files (``own``: the paths it added) while they hold no user content (SPEC: a lock file
    or a log may stay; a copy, partial or whole, of a user's data may not). A symlink or
    anything but a file or folder is never its own. system.db is the server's live DB, so
    its bytes are not compared; with ``system_rows`` its rows are (a run that should change
    nothing), without, they are the per-user profile verdicts' business."""
    changes, kept = [], []
    for change in entry_changes(_outside(before), _outside(after)):
        entry = after.entries.get(change.path)
        if change.path not in own or (entry and entry.kind not in ("file", "dir")):
            changes.append(str(change))
        elif entry and (why := j.user_content(change.path, before, after)):
            changes.append(f"{change}: {why}")
        elif entry and entry.kind == "file":
            kept.append(change.path)
    b, a = before.databases.get(layout.SYSTEM_DB), after.databases.get(layout.SYSTEM_DB)
    if system_rows and (b and b.digest) != (a and a.digest):
        changes.append("system.db: its rows changed")
    found = "nothing changed" if not changes else f"{len(changes)} change(s)"
    if kept and not changes:
        found += f" but the migrator's own files ({', '.join(j.first(kept))}: no user content)"
    return Verdict(
        rule,
        None,
        not changes,
        "nothing added, removed or changed outside user folders"
        + (" (system.db: same rows)" if system_rows else "")
        + (", but files of the migrator's own that hold no user content" if own else ""),
        found,
        "\n".join(f"  {c}" for c in j.first(changes)),
        damage=Damage.CHANGED,
        evidence=tuple(changes),
    )


def _link_targets_untouched(rule: str, before: Snapshot, after: Snapshot) -> list[Verdict]:
    out = []
    for link, entries in sorted(before.link_targets.items()):
        expected = f"what {link} points to untouched (the link not followed)"
        if link not in after.link_targets:
            gone = Verdict(rule, None, False, expected, "the link itself is gone")
            out.append(dataclasses.replace(gone, damage=Damage.CHANGED))
            continue
        changes = entry_changes(entries, after.link_targets[link])
        out.append(
            Verdict(
                rule,
                None,
                not changes,
                expected,
                "untouched" if not changes else f"{len(changes)} entries changed",
                "\n".join(f"  {c}" for c in j.first(changes)),
                damage=Damage.CHANGED,
                evidence=tuple(str(c) for c in changes),
            )
        )
    return out
