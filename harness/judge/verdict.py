"""Verdicts: what an oracle decided, and the error a person reads when a rule is broken.

A failing scenario must say, without rerunning anything, which rule broke for which user,
what SPEC expected, what was found, what changed on disk, what the migrator printed, and
how to replay it. ``RuleBroken`` carries those as titled blocks (the pytest-alembic way:
one domain error whose ``str()`` is the whole story), so pytest's failure report, the
checklist report and a plain ``python`` script all show the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from harness.contract import rules
from harness.contract.errors import ExitStatus, KitError

# SPEC's correctness rules, in its own words (shipped in harness/contract/rules.md):
# (situation, what a correct migrator leaves).
RULES: dict[str, tuple[str, str]] = {
    **rules.table(),
    # Not rows of SPEC's table, but SPEC's text all the same.
    "content": (
        "any state the tree can be left in",
        "each user's content fully present in the old DB, the new DB or a verified backup; "
        "each image in the old or the new folder",
    ),
    "contract": (
        "any run",
        "exit status 0 when every user was migrated or skipped as expected, non-zero when "
        "any user failed",
    ),
}


class Damage(StrEnum):
    """The kind of harm a broken verdict records, most severe first: what a report folds
    failures by (``harness.report.findings``), so that one root cause is one finding."""

    ROWS_LOST = "rows lost"
    IMAGES_LOST = "images lost"
    BACKUP_DELETED = "backup deleted while the user is at risk"
    HALF_MIGRATED = "user half migrated"
    NOT_CREATED = "not created"  # a new DB, a backup: the user's data still where it was
    IMAGES_LEFT = "images left behind"
    CONTENT_DIFFERS = "database content differs"
    CHANGED = "changed what must stay untouched"
    OUTSIDE = "wrote outside DATA_DIR"  # SPEC's external contract: its tree and temp only
    NOT_CONVERGED = "not the fault-free result after a re-run"
    PROFILE_ROW = "profile row wrong or missing"
    LEFT_OVER = "files left over"
    BACKUP_KEPT = "backup not cleaned up"
    NOT_REPORTED = "failure not reported"
    EXIT_STATUS = "wrong exit status"
    MEMORY = "memory grows with the data"
    APP_FAILS = "the app fails on the migrated tree"  # R18: the user's after-check
    OTHER = "other"


DAMAGE_ORDER: dict[str, int] = {d.value: i for i, d in enumerate(Damage)}


@dataclass(frozen=True)
class Verdict:
    """One rule judged for one user (``user`` None: the tree as a whole).

    ``damage``, ``place``, ``rows`` and ``evidence`` are the broken verdict's facts as data,
    for folding failures into findings: the kind of harm (a :class:`Damage` value, "" when
    the oracle did not say), where (``"new DB"``, ``"backup"``, a file name), the rows
    missing per table, and every difference found (``details`` shows the first few only).
    """

    rule: str
    user: str | None
    ok: bool
    expected: str
    found: str
    details: str = ""
    damage: str = ""
    place: str = ""
    rows: tuple[tuple[str, int], ...] = ()
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A plain str, not the enum: pytest-xdist's execnet cannot carry an enum member.
        object.__setattr__(self, "damage", str(self.damage))
        # From JSON, tuples come back as lists: normalise, so a verdict stays hashable.
        object.__setattr__(self, "rows", tuple((str(t), int(n)) for t, n in self.rows))
        object.__setattr__(self, "evidence", tuple(self.evidence))

    def __str__(self) -> str:
        who = f"user {self.user}" if self.user is not None else "the tree"
        mark = "ok" if self.ok else "BROKEN"
        return f"{self.rule} {mark} for {who}: expected {self.expected}; found {self.found}"


# What SPEC's words mean where a rule says them (its external contract), added to the text
# of every rule that uses them, so a finding says what would have satisfied it.
MEANINGS: dict[str, str] = {
    "error reported": (
        "error reported = a non-zero exit status and an error line naming the user: a line "
        "on stderr, a line saying error, fail or critical, or a JSON event with an error "
        'level ("level"/"levelname"/"severity": error or critical); the name on a success '
        "line is not enough"
    ),
    "partial files": (
        "partial files = user content, whole or partial, outside where it belongs: a copy "
        "of a user's file, a SQLite file that does not open cleanly or holds a user's rows, "
        "a WAL, an image or a zip; a lock file or a log of the migrator's own is allowed"
    ),
}


def rule_text(rule: str) -> str:
    situation, expectation = RULES.get(rule, ("?", "?"))
    notes = [m for words, m in MEANINGS.items() if words in expectation]
    return f"{rule} ({situation}): {expectation}" + "".join(f"\n  ({m})" for m in notes)


OUTPUT_TAIL = 4000  # characters of the migrator's output kept in a failure
HEADLINE_USERS = 4  # users named per rule in a failure's first line


class RuleBroken(KitError, AssertionError):
    """One or more rules broken by a migrator on a tree; ``str()`` is the full report.

    An ``AssertionError`` so that pytest reports it as a failed check, not a crash. Its
    first line names the rules and the users (:meth:`headline`), and its last block the
    replay command: a CI system that shows a failure's message (JUnit XML's ``message``, an
    annotation) shows what broke for whom, and the whole message says how to rerun it.
    """

    exit_status = ExitStatus.FINDINGS

    def __init__(
        self,
        verdicts: Sequence[Verdict],
        *,
        diff: object | None = None,
        output: str | None = None,
        seed: int | None = None,
        replay: str | None = None,
        context: Sequence[tuple[str, str]] = (),
        size: tuple[int, int] | None = None,
    ) -> None:
        self.verdicts = tuple(v for v in verdicts if not v.ok)
        if not self.verdicts:
            raise ValueError("RuleBroken needs at least one failed verdict")
        self.output = output  # what the migrator printed, whole: reports quote around users
        self.size = size  # (users, rows) of the tree: what makes a reproduction small
        self.blocks = tuple(_blocks(self.verdicts, diff, output, seed, replay, context))
        super().__init__(self.render())

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules broken, each once, in order of first appearance."""
        return tuple(dict.fromkeys(v.rule for v in self.verdicts))

    def headline(self) -> str:
        """``R1 broken for user alice, user bob; R7 broken for the tree``."""
        who: dict[str, list[str]] = {}
        for v in self.verdicts:
            name = f"user {v.user}" if v.user is not None else "the tree"
            if name not in who.setdefault(v.rule, []):
                who[v.rule].append(name)
        parts = []
        for rule, names in who.items():
            shown = names[:HEADLINE_USERS]
            more = len(names) - len(shown)
            parts.append(
                f"{rule} broken for {', '.join(shown)}" + (f" and {more} more" if more else "")
            )
        return "; ".join(parts)

    def render(self) -> str:
        parts = [self.headline()]
        for title, body in self.blocks:
            parts.append(f"{title}\n{'-' * len(title)}\n{body.rstrip()}")
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.render()


def _blocks(verdicts, diff, output, seed, replay, context):
    rules = dict.fromkeys(v.rule for v in verdicts)
    yield "Rule broken", "\n".join(rule_text(r) for r in rules)
    for v in verdicts:
        who = f"user {v.user}" if v.user is not None else "the whole tree"
        body = f"expected: {v.expected}\nfound:    {v.found}"
        if v.details:
            body += "\n" + v.details
        yield f"{v.rule}, {who}", body
    if diff is not None:
        yield "What changed on disk", str(diff)
    if output is not None:
        text = output.strip() or "(no output)"
        if len(text) > OUTPUT_TAIL:
            text = f"... ({len(text) - OUTPUT_TAIL} characters before) ...\n" + text[-OUTPUT_TAIL:]
        yield "Migrator output", text
    yield from context
    if seed is not None or replay is not None:
        lines = []
        if seed is not None:
            lines.append(f"seed: {seed}")
        if replay is not None:
            lines.append(f"replay: {replay}")
        yield "Replay", "\n".join(lines)


def raise_if_broken(
    verdicts: Sequence[Verdict],
    *,
    diff: object | None = None,
    output: str | None = None,
    seed: int | None = None,
    replay: str | None = None,
    context: Sequence[tuple[str, str]] = (),
    size: tuple[int, int] | None = None,
) -> None:
    """Raise ``RuleBroken`` when any verdict failed; do nothing when all held."""
    if any(not v.ok for v in verdicts):
        raise RuleBroken(
            verdicts,
            diff=diff,
            output=output,
            seed=seed,
            replay=replay,
            context=context,
            size=size,
        )
