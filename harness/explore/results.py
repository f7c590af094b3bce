"""What an exploration found, as plain data: cases, their results, and the whole report.

Kept apart from the engine (:mod:`harness.explore.engine`) so that any explorer of "one thing goes
wrong at point k" reuses the same vocabulary and report: the fault explorer (an errno or a
kill at file operation k), and the power-loss explorer (unsynced writes dropped at point k,
:mod:`harness.explore.powerloss`). A :class:`Case` is (point k, what happens there, the
effect); a :class:`CaseResult` is the verdicts, what was lost, and one command that replays
exactly that case. Everything round-trips through JSON, because results cross process
boundaries (pytest-xdist workers report to the controller, the controller to the
``explore`` command).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.faults.plan import KILL
from harness.judge.snapshot import Snapshot, TreeDiff, entry_changes
from harness.judge.verdict import RuleBroken, Verdict, rule_text

# SPEC's rule for each kind of fault: a kill is R10; EXDEV is the cross-device rename (R12);
# ENOSPC is the full disk (R8); any other errno is R9's I/O error.
RULE_BY_EFFECT: Mapping[str, str] = {KILL: "R10", "EXDEV": "R12", "ENOSPC": "R8"}

OK, BROKEN, MISSED = "ok", "broken", "missed"
OUTCOMES = (OK, BROKEN, MISSED)
OUTPUT_TAIL = 3000  # characters of a migrator's output kept in a result
DETAIL_LINES = 3  # lines of a broken verdict's details in a summary


def not_judged_reason(before: Snapshot, after: Snapshot, exit_status: int) -> str | None:
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

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "paths": list(self.paths)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Case:
        return cls(**{**data, "paths": tuple(data["paths"])})


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "rows": dict(self.rows),
            "images": list(self.images),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Loss:
        return cls(data["user"], dict(data["rows"]), tuple(data["images"]), data.get("note"))


def losses(diff: TreeDiff, users: Sequence[str]) -> tuple[Loss, ...]:
    """What each of ``users`` lost, read off a before/after diff (only users who lost any)."""
    out = []
    for uid in users:
        u = diff.user(uid)
        if u.loses_data:
            images = (*u.images_missing, *u.images_changed)
            out.append(Loss(uid, dict(u.rows_missing), tuple(images), u.content_note))
    return tuple(out)


def verdict_to_dict(v: Verdict) -> dict[str, Any]:
    return asdict(v)


def verdict_from_dict(data: Mapping[str, Any]) -> Verdict:
    return Verdict(**data)


@dataclass(frozen=True)
class CaseResult:
    """How one case went: ``ok``, ``broken`` (a rule broken) or ``missed`` (the fault did
    not land on the recorded operation, so the case proves nothing either way)."""

    case: Case
    outcome: str
    verdicts: tuple[Verdict, ...]
    replay: str  # one shell command that replays exactly this case
    lost: tuple[Loss, ...] = ()
    fault: str = ""  # how the fault landed (or why it did not)
    output: str = ""  # the faulted run's exit and output (tail)
    blocks: tuple[tuple[str, str], ...] = ()  # more titled context (diffs), failures only
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")

    @property
    def broken(self) -> bool:
        return self.outcome == BROKEN

    @property
    def rules_broken(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.rule for v in self.verdicts if not v.ok))

    def summary(self) -> str:
        """A few lines for a report: the op, the effect, the rule, what was lost, the replay."""
        lines = [f"case {self.case.id}: {self.case.describe()}"]
        if self.outcome == MISSED:
            lines.append(f"  MISSED: {self.fault}")
        for rule in self.rules_broken:
            lines.append(f"  broke {rule_text(rule)}")
        for v in self.verdicts:
            if not v.ok:
                lines.append(f"    {v}")
                lines += [f"      {d.strip()}" for d in v.details.splitlines()[:DETAIL_LINES]]
        lines += [f"  lost: {loss.describe()}" for loss in self.lost]
        lines.append(f"  replay: {self.replay}")
        return "\n".join(lines)

    def error(self) -> AssertionError:
        """The failure a test raises: ``RuleBroken`` with every block, or a plain assertion
        for a missed case (nothing was proved, which must not pass silently)."""
        context = [("Case", self.case.describe()), ("Fault", self.fault), *self.blocks]
        if self.lost:
            context.append(("What was lost", "\n".join(x.describe() for x in self.lost)))
        if self.outcome == MISSED or not any(not v.ok for v in self.verdicts):
            text = "\n".join(f"{t}\n{'-' * len(t)}\n{b}" for t, b in context)
            return AssertionError(f"{text}\n\nReplay\n------\n{self.replay}")
        return RuleBroken(self.verdicts, output=self.output, replay=self.replay, context=context)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.to_dict(),
            "outcome": self.outcome,
            "verdicts": [verdict_to_dict(v) for v in self.verdicts],
            "replay": self.replay,
            "lost": [x.to_dict() for x in self.lost],
            "fault": self.fault,
            "output": self.output,
            "blocks": [list(b) for b in self.blocks],
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        return cls(
            case=Case.from_dict(data["case"]),
            outcome=data["outcome"],
            verdicts=tuple(verdict_from_dict(v) for v in data["verdicts"]),
            replay=data["replay"],
            lost=tuple(Loss.from_dict(x) for x in data["lost"]),
            fault=data["fault"],
            output=data["output"],
            blocks=tuple((t, b) for t, b in data["blocks"]),
            seconds=data["seconds"],
        )


@dataclass(frozen=True)
class ExploreReport:
    """A whole exploration: what was explored, the fault-free run's own judgment, each case.

    ``exit_status`` is the ``explore`` command's: 1 when the fault-free run or any case
    broke a rule, or any case was missed (an exploration with holes proves less than it
    claims), or the exploration could judge nothing (``not_judged``), 0 otherwise.
    """

    target: Mapping[str, Any]  # migrator, tree, backend, effects: what was explored
    baseline: tuple[Verdict, ...]  # the fault-free run judged (no content lost)
    results: tuple[CaseResult, ...]
    not_explored: str = ""  # operations left out and why
    not_judged: str = ""  # why nothing could be judged (``not_judged_reason``), or ""

    @property
    def broken(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.outcome == BROKEN)

    @property
    def missed(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.outcome == MISSED)

    @property
    def baseline_broken(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.baseline if not v.ok)

    @property
    def exit_status(self) -> int:
        failed = self.broken or self.missed or self.baseline_broken or self.not_judged
        return 1 if failed else 0

    def render(self) -> str:
        t = self.target
        ok = len(self.results) - len(self.broken) - len(self.missed)
        lines = [
            f"exploration of {t.get('migrator')} ({t.get('backend')} backend)",
            f"tree: {t.get('tree')}",
            f"effects: {t.get('effects') or 'every applicable effect'}",
        ]
        if self.not_explored:
            lines.append(f"not explored: {self.not_explored}")
        if self.not_judged:
            lines += ["", f"NOT JUDGED: {self.not_judged}"]
            return "\n".join(lines)
        if self.baseline_broken:
            lines.append("the fault-free run itself already loses content (not a fault's doing):")
            lines += [f"  {v}" for v in self.baseline_broken]
        for r in self.broken + self.missed:
            lines += ["", r.summary()]
        lines += [
            "",
            f"{len(self.results)} case(s): {ok} ok, {len(self.broken)} broke a rule, "
            f"{len(self.missed)} missed",
        ]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {
                "target": dict(self.target),
                "baseline": [verdict_to_dict(v) for v in self.baseline],
                "results": [r.to_dict() for r in self.results],
                "not_explored": self.not_explored,
                "not_judged": self.not_judged,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> ExploreReport:
        data = json.loads(text)
        return cls(
            target=data["target"],
            baseline=tuple(verdict_from_dict(v) for v in data["baseline"]),
            results=tuple(CaseResult.from_dict(r) for r in data["results"]),
            not_explored=data.get("not_explored", ""),
            not_judged=data.get("not_judged", ""),
        )


def not_judged_report(
    target: Mapping[str, Any],
    before: Snapshot,
    after: Snapshot,
    exit_status: int,
    baseline: Sequence[Verdict],
    not_explored: str = "",
) -> ExploreReport | None:
    """The report of an exploration that can judge nothing (``not_judged_reason``) without
    running a case, or None when it can: what ``explore`` prints instead of "0 cases ok"."""
    reason = not_judged_reason(before, after, exit_status)
    if reason is None:
        return None
    return ExploreReport(target, tuple(baseline), (), not_explored, not_judged=reason)
