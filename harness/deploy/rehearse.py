"""``migration-kit rehearse``: the migration run on a copy of real data, judged by every rule.

The seed's deployment strategy: "deploy to staging, test migration with real data". Real
data is the only data with the quirks nobody thought to generate, so the rehearsal copies
the real tree to scratch space (mtimes kept, symlinks kept as symlinks), runs the migrator
on the copy exactly as production would (dry run, real run, second run), and judges each
run with the harness's oracles: every rule that a tree of unknown make-up can be judged
on (R1-R7, R11, R13, R14, no content lost, the exit status). R8-R10, R12 and R15-R17 need
a tree or a fault made for them: ``checklist`` and ``explore`` cover those.

The original is only read. One trap is closed on purpose: a symlink in the tree that
points outside it would, in a verbatim copy, still point at production data, and a
migrator that wrongly follows links (R13) would write there. Such links are re-pointed to
a private copy of their target in scratch space (or, for a big target, to nothing) before
anything runs; links inside the tree are kept as they are.

``judge`` is also what ``replay`` runs on a look-alike built from a field spec.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fixtures.cache import copy_tree
from harness.contract import layout
from harness.contract.errors import KitError
from harness.deploy import survey
from harness.deploy.capture import inside
from harness.judge import oracles
from harness.judge.oracles import judgments as j
from harness.judge.snapshot import Snapshot, diff
from harness.judge.verdict import RULES, RuleBroken, Verdict
from harness.report.progress import Progress, progress
from harness.run.adapters import Migrator
from harness.run.process import RunResult
from harness.run.sandbox import also_writable
from harness.store.scratch import remove_tree

# The migration writes about one more copy of every database (the backups) plus a working
# copy of the largest user; twice the tree is a safe bound for the scratch filesystem.
SPACE_FACTOR = 2
SLACK = 64 << 20
# Targets of outward symlinks up to this size are copied so a rehearsal can show what a
# migrator that follows links would do to them; bigger ones become dangling links.
OUTSIDE_COPY_LIMIT = 64 << 20
OUTSIDE_DIR = "outside-targets"
# The rules ``judge`` applies, in the order a report lists them.
JUDGED = (
    "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R11", "R13", "R14", "R18", "content", "contract"
)  # fmt: skip


class RehearsalError(KitError):
    """The rehearsal cannot start (source, scratch space); the message says what to do."""


@dataclass(frozen=True)
class Rehearsal:
    """Three runs of a migrator on a tree and every verdict on them."""

    subject: str  # what was rehearsed, for the report's first line
    tree: str  # where the runs happened
    migrator: str
    runs: tuple[tuple[str, RunResult], ...]  # ("dry run" | "run" | "second run", result)
    verdicts: tuple[Verdict, ...]
    changes: str  # what the real run changed, in a person's terms
    again: str  # the command that repeats this rehearsal
    notes: tuple[str, ...] = ()

    @property
    def broken(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.ok)

    @property
    def ok(self) -> bool:
        return not self.broken

    def failure(self) -> RuleBroken:
        """The broken verdicts as the harness reports a failed scenario (call when broken):
        the rules, each verdict, what the real run changed, the three runs' output, and
        the command that repeats it."""
        output = "\n".join(f"--- {name}: {run.describe()}\n{run.output}" for name, run in self.runs)
        return RuleBroken(self.broken, diff=self.changes, output=output, replay=self.again)

    def by_rule(self) -> dict[str, tuple[int, int]]:
        """rule -> (verdicts held, verdicts broken), in SPEC's order."""
        out: dict[str, list[int]] = {}
        for v in self.verdicts:
            out.setdefault(v.rule, [0, 0])[0 if v.ok else 1] += 1
        return {r: (a, b) for r, (a, b) in sorted(out.items(), key=lambda kv: _rule_key(kv[0]))}


def _rule_key(rule: str) -> tuple[int, str]:
    return (int(rule[1:]), "") if rule[1:].isdigit() else (1000, rule)


# -- judging ------------------------------------------------------------------------------------


def again_command(
    verb: str, path: Path, migrator: Migrator, after_check: Migrator | None = None
) -> str:
    """The shell line that repeats a rehearsal or replay: every word quoted, because a
    ``cmd:`` migrator spec is itself a shell command full of quotes and spaces."""
    argv = ["migration-kit", verb, str(path), "--migrator", migrator.spec]
    if after_check is not None:
        argv += ["--after-check", after_check.spec]
    return shlex.join(argv)


def expected_failures(before: Snapshot) -> list[str]:
    """Users SPEC says a correct migrator reports as failed: corrupt (R7), orphan (R14),
    both DBs with different content (R5), and data left only in a backup."""
    conflicts = [
        uid for uid in j.both_present_users(before) if not j.is_verified_copy(before.users[uid])
    ]
    backup_only = [
        uid
        for uid, u in before.users.items()
        if u.old_db is None and u.new_db is None and u.backup is not None
    ]
    found = {*j.corrupt_users(before), *j.orphan_users(before), *conflicts, *backup_only}
    return sorted(found)


def judge(
    tree: Path,
    migrator: Migrator,
    *,
    subject: str,
    again: str,
    notes: tuple[str, ...] = (),
    after_check: Migrator | None = None,
    what: str = "rehearse",
) -> Rehearsal:
    """Dry run, run, second run of ``migrator`` on ``tree`` (which it changes), judged;
    ``what`` (the command) names the progress shown on stderr while the runs go on.

    Every rule is judged against the tree as it was *before the dry run*: a dry run that
    changed the tree (the field's empty new DB) must show up as the loss it caused in the
    real run, not be taken as the new starting point. With ``after_check`` (R18), the app
    then runs on the migrated tree, once both real runs succeeded and every snapshot is
    taken: it is the app and may write, so it comes after everything it could disturb.
    """
    before = Snapshot.take(tree)
    with progress(what, 3 if after_check is None else 4, unit="runs") as shown:
        dry = _timed(shown, "dry run", lambda: migrator.run(tree, dry_run=True))
        after_dry = Snapshot.take(tree)
        run = _timed(shown, "run", lambda: migrator.run(tree))
        after = Snapshot.take(tree)
        second = _timed(shown, "second run", lambda: migrator.run(tree))
        again_snap = Snapshot.take(tree)
        checked = None
        if after_check is not None and run.ok and second.ok:
            checked = _timed(shown, "after-check", lambda: after_check.run(tree))
        else:
            shown.set_total(3)  # no app to check after a failed migration
    verdicts = [
        *oracles.check_r2(before, after_dry, dry),
        *oracles.check_r1(before, after, run),
        *oracles.check_r4(before, after, run),
        *oracles.check_r5(before, after, run),
        *oracles.check_r6(before, after, run),
        *oracles.check_r7(before, after, run, others=[]),  # the others are R1's verdicts
        *oracles.check_r11(before, after, run),
        *oracles.check_r13(before, after, run),
        *oracles.check_r14(before, after, run),
        *oracles.check_no_content_lost(before, after),
        oracles.check_exit_status(run, failed_users=expected_failures(before)),
        *oracles.check_r3(after, again_snap, second, original=before),
        *oracles.check_stayed_inside((dry, run, second)),
    ]
    runs = [("dry run", dry), ("run", run), ("second run", second)]
    if after_check is not None and checked is not None:
        runs.append(("after-check", checked))
        verdicts += oracles.check_r18(checked, spec=after_check.spec)
    return Rehearsal(
        subject=subject,
        tree=str(tree),
        migrator=migrator.spec,
        runs=tuple(runs),
        verdicts=tuple(verdicts),
        changes=str(diff(before, after)),
        again=again,
        notes=notes,
    )


def _timed(shown: Progress, name: str, run: Callable[[], RunResult]) -> RunResult:
    """``run()`` as step ``name`` of ``shown``: a run that fails or hangs is a finding."""
    shown.start(name)
    result = run()
    shown.done(name, findings=0 if result.ok else 1)
    return result


# -- the copy -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFacts:
    files: int
    bytes: int
    outward_links: tuple[str, ...]  # relative paths of symlinks pointing outside the tree


def survey_source(source: Path) -> SourceFacts:
    """Walk ``source`` without following links: its size, and that all of it is readable.

    Raises ``RehearsalError`` naming the first entry this process cannot read: a copy
    that silently skipped it would rehearse another tree.
    """
    files = total = 0
    outward: list[str] = []
    real_root = os.path.realpath(source)
    for dirpath, dirnames, filenames in os.walk(source, onerror=_raise_unreadable):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, source)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if not (target == real_root or target.startswith(real_root + os.sep)):
                    outward.append(rel)
                continue
            if not os.access(path, os.R_OK | (os.X_OK if name in dirnames else 0)):
                raise RehearsalError(
                    f"{path}: cannot be read (permission denied); run the rehearsal as the "
                    "server's user (or root), or fix the permissions"
                )
            if name in filenames:
                files += 1
                total += st.st_size
    return SourceFacts(files, total, tuple(sorted(outward)))


def _raise_unreadable(exc: OSError) -> None:
    raise RehearsalError(
        f"{exc.filename}: cannot be listed ({exc.strerror}); run the rehearsal as the "
        "server's user (or root), or fix the permissions"
    )


def check_scratch(scratch: Path, facts: SourceFacts) -> None:
    need = SPACE_FACTOR * facts.bytes + SLACK
    free = survey.free_bytes(scratch)
    if free < need:
        raise RehearsalError(
            f"{scratch}: {free} bytes free, the rehearsal needs about {need} (a copy of "
            f"{facts.bytes} bytes plus the migration's backups); pass --scratch DIR on a "
            "filesystem with more room"
        )


def copy_source(source: Path, dest: Path, facts: SourceFacts, outside: Path) -> tuple[str, ...]:
    """Copy ``source`` to ``dest`` (mtimes, modes, symlinks kept); re-point outward links."""
    try:
        copy_tree(source, dest)
    except (subprocess.CalledProcessError, OSError) as exc:
        raise RehearsalError(
            f"{source}: copying it to {dest} failed ({exc}); check that every file is "
            "readable and the scratch filesystem has room, then retry"
        ) from exc
    notes = []
    for n, rel in enumerate(facts.outward_links):
        notes.append(
            f"{rel} points outside the tree; in the copy it points to "
            + _repoint(source / rel, dest / rel, outside / str(n))
        )
    return tuple(notes)


def _repoint(original: Path, link: Path, private: Path) -> str:
    """Make ``link`` (in the copy) point at a private copy of what ``original`` points to;
    returns what it points to now, for the report."""
    target = Path(os.path.realpath(original))
    private.mkdir(parents=True)
    dest = private / (target.name or "root")
    copied = False
    if os.path.lexists(target) and _size_within(target, OUTSIDE_COPY_LIMIT):
        if target.is_dir():
            copy_tree(target, dest)
        else:
            shutil.copy2(target, dest)
        copied = True
    st = os.lstat(link)
    link.unlink()
    link.symlink_to(dest, target_is_directory=target.is_dir())
    os.utime(link, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    return "a private copy of its target" if copied else "nothing (its target is absent or too big)"


def _size_within(path: Path, limit: int) -> bool:
    if not path.is_dir():
        return path.stat().st_size <= limit
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
            if total > limit:
                return False
    return True


@contextlib.contextmanager
def scratch_dir(scratch: Path | None, *, keep: bool, prefix: str) -> Iterator[Path]:
    """A fresh folder under ``scratch`` (default: the system temp dir), removed unless kept."""
    base = Path(scratch) if scratch is not None else Path(tempfile.gettempdir())
    if not base.is_dir():
        raise RehearsalError(f"{base}: no such directory; pass --scratch an existing folder")
    try:
        work = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    except OSError as exc:
        raise RehearsalError(
            f"{base}: cannot create a scratch folder there ({exc.strerror}); pass --scratch "
            "a folder you can write"
        ) from exc
    try:
        yield work
    finally:
        if not keep:
            remove_tree(work)


def rehearse(
    source: Path | str,
    migrator: Migrator,
    *,
    scratch: Path | None = None,
    keep: bool = False,
    after_check: Migrator | None = None,
) -> Rehearsal:
    """Copy ``source`` to scratch space, run ``migrator`` on the copy, judge every run
    (and the app on the migrated copy, with ``after_check``)."""
    source = Path(source).absolute()
    # DataDirError: not a data dir, or its system.db is not the server's (damaged, no
    # users table): the run would fail on it and every user would look like a broken rule.
    survey.open_data_dir(source)
    if scratch is not None and inside(Path(scratch), source):
        raise RehearsalError(
            f"{scratch}: inside the data dir {source}; the rehearsal writes nothing there: "
            "pass --scratch outside it"
        )
    facts = survey_source(source)
    with scratch_dir(scratch, keep=keep, prefix="mk-rehearse-") as work:
        check_scratch(work, facts)
        copy = work / "data"
        notes = copy_source(source, copy, facts, work / OUTSIDE_DIR)
        if keep:
            notes += (f"the copy is kept at {copy}",)
        with also_writable(work / OUTSIDE_DIR):  # R13 judges writes through the links there
            return judge(
                copy,
                migrator,
                subject=f"a copy of {source} ({facts.files} files, {facts.bytes} bytes)",
                again=again_command("rehearse", source, migrator, after_check),
                notes=notes,
                after_check=after_check,
            )


# -- output -----------------------------------------------------------------------------------


def render_text(r: Rehearsal, out: TextIO) -> None:
    """One line per run and per rule, then the broken rules as the harness reports them."""
    print(f"rehearsal of {r.migrator} on {r.subject}", file=out)
    if layout.header_line():
        print(f"  {layout.header_line()}", file=out)
    for note in r.notes:
        print(f"  note: {note}", file=out)
    for name, run in r.runs:
        print(f"  {name}: {run.describe()}", file=out)
    print(f"  sandbox: {r.runs[0][1].protection}", file=out)
    print("rules:", file=out)
    judged = r.by_rule()
    for rule in JUDGED:
        held, broken = judged.get(rule, (0, 0))
        if broken:
            mark, count = "BROKEN", f"{broken} of {held + broken} verdicts broken"
        elif held:
            mark, count = "held", f"{held} verdict(s)"
        elif rule == "R18":
            mark, count = "n/a", "no --after-check, or no successful run to check"
        else:
            mark, count = "n/a", "no user in this situation"
        print(f"  {rule:8} {mark:6}  {RULES[rule][0]} ({count})", file=out)
    if r.ok:
        print(f"result: every applicable rule held ({len(r.verdicts)} verdicts)", file=out)
        return
    report = r.failure()
    print(f"\n{report.render()}\n", file=out)
    print(f"result: {len(r.broken)} verdict(s) broken: {', '.join(report.rules)}", file=out)
