"""What an exploration found, as plain data: cases, their results, and the whole report.

Kept apart from the engine (:mod:`harness.explore.cases`) so that any explorer of "one thing goes
wrong at point k" reuses the same vocabulary and report: the fault explorer (an errno or a
kill at file operation k), and the power-loss explorer (unsynced writes dropped at point k,
:mod:`harness.explore.powerloss`). A :class:`Case` is (point k, what happens there, the
effect); a :class:`CaseResult` is the verdicts, what was lost, and one command that replays
exactly that case. Everything round-trips through JSON, because results cross process
boundaries (pytest-xdist workers report to the controller, the controller to the
``explore`` command).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.contract import layout
from harness.contract.layout import SERVER_BACKUPS_DIR
from harness.faults.plan import KILL
from harness.judge.snapshot import Snapshot, TreeDiff, entry_changes
from harness.judge.verdict import RuleBroken, Verdict, rule_text
from harness.report import findings as fnd
from harness.store import codec

# SPEC's rule for each kind of fault: a kill is R10; EXDEV is the cross-device rename (R12);
# ENOSPC is the full disk (R8); any other errno is R9's I/O error.
RULE_BY_EFFECT: Mapping[str, str] = {KILL: "R10", "EXDEV": "R12", "ENOSPC": "R8"}


class CaseOutcome(StrEnum):
    """How one case went (see :class:`CaseResult`)."""

    OK = "ok"
    BROKEN = "broken"  # a rule broken
    # The fault could not be placed on the recorded operation (the run did not repeat
    # itself, or strace cannot single the call out), so the case proves nothing either way.
    # It is counted and shown, never taken for a failure of the migrator, nor for a pass.
    NOT_JUDGED = "not judged"


OK, BROKEN, NOT_JUDGED = CaseOutcome.OK, CaseOutcome.BROKEN, CaseOutcome.NOT_JUDGED
OUTCOMES: tuple[CaseOutcome, ...] = tuple(CaseOutcome)
OUTPUT_TAIL = 3000  # characters of a migrator's output kept in a result
DETAIL_LINES = 6  # differences of a broken verdict listed in a summary (then "and N more")


def nothing_judged_reason(before: Snapshot, after: Snapshot, exit_status: int) -> str | None:
    """Why an exploration, whose fault-free run took ``before`` to ``after``, can judge
    nothing (None when it can). Such an exploration is "not judged", never "passed":

    - the fault-free run did not finish (killed by a signal, or timed out): there is no
      result a faulted run could be compared with;
    - it changed nothing in the tree (``cmd:true``, a migrator that fails at start, a
      wrong DATA_DIR): no file operation to fail, so "every case ok" would prove nothing.

    A fault-free run that loses content is judged as it was: its own test reports the loss
    (the item fails), and the cases judge what the faults add.
    """
    if exit_status < 0:
        return (
            f"the fault-free run did not finish (signal {-exit_status}): there is no result "
            "to compare a faulted run with"
        )
    if not entry_changes(before.entries, after.entries):
        return (
            f"the fault-free run changed nothing in the tree (exit status {exit_status}): "
            "there is no file operation to fail"
        )
    return None


class Shade(StrEnum):
    """A case's outcome as a picture colours it: a person looks for red (content lost)
    first, then orange (a rule broken without a loss: a file left over, an exit status, a
    run that did not converge), then grey (not judged)."""

    OK = "ok"
    CONTENT_LOST = "content lost"
    LEFT_OVER = "left over"  # or another rule broken, nothing lost
    NOT_JUDGED = "not judged"


@dataclass(frozen=True)
class Step:
    """One file operation of the recorded fault-free run, as a report draws it on a
    timeline: its paths relative to the data dir (absolute outside it) and the user whose
    folder it touches (``owner``, "" for the data dir's own files or a scratch file).
    Power-loss reports end with the ``end`` step: the crash point after the last operation.
    """

    index: int
    operation: str
    paths: tuple[str, ...] = ()
    syscall: str = ""
    owner: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", tuple(self.paths))

    def describe(self) -> str:
        """``#17 rename alice/peek.db -> alice/x``."""
        return f"#{self.index} {self.operation} {' -> '.join(self.paths)}".rstrip()


def owner_of(paths: Sequence[str]) -> str:
    """The user whose folder the (data-dir-relative) ``paths`` are in: the first component
    of the first path that is ``<user>/...``; "" for the data dir's own files
    (``system.db``), the server's ``backups/`` and paths outside the data dir."""
    for path in paths:
        first, sep, rest = path.partition("/")
        if sep and rest and first not in ("", ".", "..", SERVER_BACKUPS_DIR):
            return first
    return ""


def rule_for(effect: str) -> str:
    """The SPEC rule a fault with ``effect`` is judged under (R9 for a plain I/O error)."""
    return RULE_BY_EFFECT.get(effect, "R9")


@dataclass(frozen=True)
class Case:
    """One point of an exploration: operation ``index`` of the trace, hit by ``effect``.

    ``paths`` are relative to the data dir when inside it (absolute otherwise), so a case
    reads the same wherever the tree was built; ``plan`` is the backend's own text for the
    fault (a ``FaultPlan`` in its one-line form), kept for a person and for a replay.
    """

    index: int  # k: the operation's position in the recorded trace (0-based)
    effect: str  # an errno name, "kill", or another explorer's effect ("power-loss")
    operation: str  # "rename", "write", ...
    paths: tuple[str, ...]
    syscall: str = ""  # the call behind the operation (renameat2, os.replace, ...)
    plan: str = ""
    rule: str = ""  # SPEC rule a failure breaks; "" means rule_for(effect)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", tuple(self.paths))
        if not self.rule:
            object.__setattr__(self, "rule", rule_for(self.effect))

    @property
    def id(self) -> str:
        """``17:kill``: what ``--case`` takes and pytest shows as the test id."""
        return f"{self.index}:{self.effect}"

    def describe_op(self) -> str:
        """``#17 rename alice/peek.db -> alice/x (renameat2)``."""
        how = f" ({self.syscall})" if self.syscall else ""
        return f"#{self.index} {self.operation} {' -> '.join(self.paths) or '?'}{how}"

    def describe(self) -> str:
        what = "the process killed just before it" if self.effect == KILL else self.effect
        return f"operation {self.describe_op()}: {what}"


def parse_case_id(text: str) -> tuple[int, str]:
    """``"17:kill"`` -> ``(17, "kill")``; ValueError with the expected form otherwise."""
    number, sep, effect = text.strip().partition(":")
    if not sep or not effect or not number.isdigit():
        raise ValueError(f"{text!r}: expected K:EFFECT, e.g. 17:kill or 4:EIO")
    return int(number), effect


@dataclass(frozen=True)
class Loss:
    """What one user no longer has anywhere after a case (rows per table, images)."""

    user: str
    rows: Mapping[str, int] = field(default_factory=dict)  # table -> rows missing
    images: tuple[str, ...] = ()  # image files missing or changed
    note: str | None = None  # e.g. "no sound database left for this user"

    def describe(self) -> str:
        parts = []
        if self.note:
            parts.append(self.note)
        if self.rows:
            rows = ", ".join(f"{t} {n}" for t, n in sorted(self.rows.items()))
            parts.append(f"rows missing: {rows}")
        if self.images:
            parts.append(f"images lost: {', '.join(self.images)}")
        return f"user {self.user}: " + ("; ".join(parts) or "content not found whole anywhere")


def losses(diff: TreeDiff, users: Sequence[str]) -> tuple[Loss, ...]:
    """What each of ``users`` lost, read off a before/after diff (only users who lost any)."""
    out = []
    for uid in users:
        u = diff.user(uid)
        if u.loses_data:
            images = (*u.images_missing, *u.images_changed)
            out.append(Loss(uid, dict(u.rows_missing), tuple(images), u.content_note))
    return tuple(out)


@dataclass(frozen=True)
class CaseResult:
    """How one case went: ``ok``, ``broken`` (a rule broken) or ``not judged`` (the fault
    could not be placed on the recorded operation, so the case proves nothing either way)."""

    case: Case
    outcome: CaseOutcome
    verdicts: tuple[Verdict, ...]
    replay: str  # one shell command that replays exactly this case
    lost: tuple[Loss, ...] = ()
    fault: str = ""  # how the fault landed (or why it did not)
    output: str = ""  # the faulted run's exit and output (tail)
    blocks: tuple[tuple[str, str], ...] = ()  # more titled context (diffs), failures only
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            known = ", ".join(OUTCOMES)
            raise ValueError(f"outcome must be one of {known}, not {self.outcome!r}")
        object.__setattr__(self, "outcome", CaseOutcome(self.outcome))  # a str is welcome

    @property
    def broken(self) -> bool:
        return self.outcome == BROKEN

    @property
    def rules_broken(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.rule for v in self.verdicts if not v.ok))

    @property
    def shade(self) -> Shade:
        """How a picture colours this case: content lost (a loss, or a broken verdict whose
        damage loses content) before any other broken rule."""
        if self.outcome == NOT_JUDGED:
            return Shade.NOT_JUDGED
        if self.outcome == OK:
            return Shade.OK
        damages = {v.damage for v in self.verdicts if not v.ok}
        if self.lost or damages & fnd.CONTENT_DAMAGE:
            return Shade.CONTENT_LOST
        return Shade.LEFT_OVER

    def summary(self) -> str:
        """A few lines for a report: the op, the effect, the rule, what was lost, the replay."""
        lines = [f"case {self.case.id}: {self.case.describe()}"]
        if self.outcome == NOT_JUDGED:
            lines.append(f"  NOT JUDGED: {self.fault}")
        for rule in self.rules_broken:
            lines.append(f"  broke {rule_text(rule)}")
        # Losses before leftovers, every difference listed up to a cap.
        lines += [f"    {line}" for line in fnd.verdict_lines(self.verdicts, cap=DETAIL_LINES)]
        lines += [f"  lost: {loss.describe()}" for loss in self.lost]
        lines.append(f"  replay: {self.replay}")
        return "\n".join(lines)

    def error(
        self,
        *,
        seed: int | None = None,
        context: Sequence[tuple[str, str]] = (),
        size: tuple[int, int] | None = None,
    ) -> AssertionError:
        """The failure a test raises: ``RuleBroken`` with every block, or a plain assertion
        when no verdict is broken (a case not judged, replayed by hand). ``seed`` and
        ``context`` (more titled blocks) are what the caller knows beyond the case: a
        checklist scenario adds its fault site, its tree and its own replay command."""
        blocks = [("Case", self.case.describe()), ("Fault", self.fault), *self.blocks]
        if self.lost:
            blocks.append(("What was lost", "\n".join(x.describe() for x in self.lost)))
        blocks += context
        if self.outcome == NOT_JUDGED or not any(not v.ok for v in self.verdicts):
            text = "\n".join(f"{t}\n{'-' * len(t)}\n{b}" for t, b in blocks)
            seed_line = "" if seed is None else f"\nseed: {seed}"
            return AssertionError(f"{text}\n\nReplay\n------\n{self.replay}{seed_line}")
        return RuleBroken(
            self.verdicts,
            output=self.output,
            seed=seed,
            replay=self.replay,
            context=blocks,
            size=size,
        )

    def observation(self, size: tuple[int, int] | None = None) -> fnd.Observation:
        """This case as the findings fold reads it: at the kind of operation it hit."""
        return fnd.Observation(
            source=f"case {self.case.id}",
            kind=fnd.Source.CASE,
            verdicts=tuple(v for v in self.verdicts if not v.ok),
            replay=self.replay,
            size=size,
            step=self.case.operation,
            output=self.output,
            problem=f"not judged: {self.fault}" if self.outcome == NOT_JUDGED else "",
        )


@dataclass(frozen=True)
class ExploreReport:
    """A whole exploration: what was explored, the fault-free run's own judgment, each case.

    ``exit_status`` is the ``explore`` command's: 1 when the fault-free run or any case
    broke a rule, 0 otherwise. Cases not judged are counted and shown ("judged 499 of
    531"), never a failure of the migrator; ``status(strict_coverage=True)`` makes them one,
    for a gate that wants every case judged.
    An exploration that can judge nothing (``nothing_judged``: its fault-free run changed
    nothing or did not finish) is not a pass either: 1.
    """

    target: Mapping[str, Any]  # migrator, tree, backend, effects: what was explored
    baseline: tuple[Verdict, ...]  # the fault-free run judged (no content lost)
    results: tuple[CaseResult, ...]
    not_explored: str = ""  # operations left out and why
    nothing_judged: str = ""  # why nothing could be judged (``nothing_judged_reason``), or ""
    # The fault-free run's file operations, for the pictures of ``--html`` (a report of an
    # older kit, or of a child pytest before the command adds them, has none).
    steps: tuple[Step, ...] = ()

    @property
    def broken(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.outcome == BROKEN)

    @property
    def not_judged(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.outcome == NOT_JUDGED)

    @property
    def judged(self) -> int:
        return len(self.results) - len(self.not_judged)

    @property
    def baseline_broken(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.baseline if not v.ok)

    @property
    def exit_status(self) -> int:
        return self.status(strict_coverage=False)

    def status(self, *, strict_coverage: bool) -> int:
        """1 when a rule is broken, or (``strict_coverage``) a case was not judged; else 0."""
        holes = strict_coverage and bool(self.not_judged)
        failed = self.broken or self.baseline_broken or self.nothing_judged
        return 1 if failed or holes else 0

    def verdict_line(self, status: int) -> str:
        """The verdict a page or a job summary opens with, for the run's exit ``status``
        (which ``--strict-coverage`` may have made a failure)."""
        if self.nothing_judged:
            return f"NOT JUDGED: {self.nothing_judged}"
        if self.broken:
            return f"FAILED: {len(self.broken)} of {self.judged} judged case(s) broke a rule"
        if self.baseline_broken:
            return "FAILED: the fault-free run itself loses content"
        if status:
            return f"FAILED: {len(self.not_judged)} case(s) not judged (--strict-coverage)"
        return "PASSED: no case broke a rule"

    @functools.cached_property  # the terminal, the job summary and the page all read it
    def findings(self) -> list[fnd.Finding]:
        """The fault-free run's failures and every failing case, folded into root causes."""
        observations = [r.observation() for r in self.broken]  # not judged proves nothing
        if self.baseline_broken:
            run = fnd.Observation("the fault-free run", fnd.Source.RUN, self.baseline_broken)
            observations.insert(0, run)
        return fnd.fold(observations)

    def render(self) -> str:
        t = self.target
        ok = len(self.results) - len(self.broken) - len(self.not_judged)
        lines = [
            f"exploration of {t.get('migrator')} ({t.get('backend')} backend)",
            f"tree: {t.get('tree')}",
            f"effects: {t.get('effects') or 'every applicable effect'}",
        ]
        if t.get("fs"):
            lines.insert(2, f"file system profile: {t['fs']} (power-loss crash kinds)")
        if layout.header_line():
            lines.append(layout.header_line())
        if self.not_explored:
            lines.append(f"not explored: {self.not_explored}")
        if self.nothing_judged:
            lines += ["", f"NOT JUDGED: {self.nothing_judged}"]
            return "\n".join(lines)
        lines += ["", *fnd.terminal_lines(self.findings)]
        if self.baseline_broken:
            lines.append("the fault-free run itself already loses content (not a fault's doing):")
            lines += [f"  {v}" for v in self.baseline_broken]
        for r in self.broken + self.not_judged:
            lines += ["", r.summary()]
        lines += [
            "",
            f"{len(self.results)} case(s), judged {self.judged} of {len(self.results)}: "
            f"{ok} ok, {len(self.broken)} broke a rule, {len(self.not_judged)} not judged; "
            f"{fnd.headline(self.findings)}",
        ]
        return "\n".join(lines)

    def to_json(self) -> str:
        data = codec.to_data(self)
        if not self.steps:  # the format's keys as they were, unless there are steps
            del data["steps"]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ExploreReport:
        return codec.from_json(cls, text)


def write_reports(path: Path, reports: Sequence[ExploreReport]) -> None:
    """Write ``reports`` where ``--explore-json`` says: what :func:`load_reports` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([codec.to_data(r) for r in reports], indent=1), encoding="utf-8")


def load_reports(path: Path) -> list[ExploreReport]:
    """The reports :func:`write_reports` wrote (a child pytest's ``--explore-json``)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [codec.from_data(ExploreReport, r) for r in data]


def nothing_judged_report(
    target: Mapping[str, Any],
    before: Snapshot,
    after: Snapshot,
    exit_status: int,
    baseline: Sequence[Verdict],
    not_explored: str = "",
) -> ExploreReport | None:
    """The report of an exploration that can judge nothing (:func:`nothing_judged_reason`)
    without running a case, or None when it can: what ``explore`` prints instead of "0 cases
    ok"."""
    reason = nothing_judged_reason(before, after, exit_status)
    if reason is None:
        return None
    return ExploreReport(target, tuple(baseline), (), not_explored, nothing_judged=reason)


def merge_reports(slices: Sequence[ExploreReport]) -> ExploreReport:
    """The slices of one exploration (``explore --shard K/N``) as the whole run's report:
    the first slice's target, fault-free verdicts and note, every slice's cases in case
    order. The caller checks that they are slices of one run (:mod:`harness.report.shards`)."""
    first = slices[0]
    results = sorted(
        (r for s in slices for r in s.results), key=lambda r: (r.case.index, r.case.effect)
    )
    return ExploreReport(
        first.target,
        first.baseline,
        tuple(results),
        first.not_explored,
        nothing_judged=first.nothing_judged,
        steps=first.steps,
    )
