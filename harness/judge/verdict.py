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

from harness.contract.errors import ExitStatus, KitError

# SPEC's correctness rules, in its own words: (situation, what a correct migrator leaves).
RULES: dict[str, tuple[str, str]] = {
    "R1": (
        "legacy user",
        "new DB with the old content; images moved byte-identical; profile row; backup with "
        "the old content; no peek.db, -wal, -shm left",
    ),
    "R2": (
        "dry run",
        "the whole tree untouched (no new dirs, no sidecars, no backups); a log line per "
        "user it would migrate",
    ),
    "R3": (
        "run twice",
        "the second run changes nothing (backup mtimes included: re-creating a backup "
        "restarts its grace clock)",
    ),
    "R4": (
        "already migrated (new DB only)",
        "untouched; no backup created; profile row ensured",
    ),
    "R5": (
        "both old and new DB exist",
        "if new is a verified copy of old: finish the migration; otherwise both untouched, "
        "error reported",
    ),
    "R6": ("no peek.db", "nothing created for that user (no backup)"),
    "R7": ("corrupt peek.db", "that user untouched, error reported, every other user migrated"),
    "R8": (
        "disk nearly full",
        "users that do not fit untouched and no partial files left; error reported; after "
        "space is freed, a re-run migrates them",
    ),
    "R9": (
        "an I/O error (EIO, ENOSPC, EACCES, EXDEV) at any single file operation",
        "no content lost at any moment; after a clean re-run the tree equals the fault-free result",
    ),
    "R10": ("the process killed at any single file operation", "same as R9"),
    "R11": (
        "backup older than the grace period, user fully migrated",
        "backup deleted on the next run; a younger one kept; a backup of a user not fully "
        "migrated never deleted",
    ),
    "R12": (
        "profiles/ on another filesystem (rename gives EXDEV)",
        "migration still succeeds (copy, verify, then remove the source)",
    ),
    "R13": (
        "symlinked user dir, regular files, dot entries, backups/",
        "not followed, not touched",
    ),
    "R14": (
        "user dir with no users row",
        "untouched (or migrated completely, never half), error reported",
    ),
    "R15": ("two migrator processes started together", "each user migrated once, nothing lost"),
    "R16": (
        "a large user (>100 MB)",
        "all content migrated; migrator memory does not grow with DB size",
    ),
    "R17": (
        "power loss (unsynced writes dropped) at any point",
        "no content lost: what was renamed into place was fsynced first, and directories "
        "fsynced after renames",
    ),
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


@dataclass(frozen=True)
class Verdict:
    """One rule judged for one user (``user`` None: the tree as a whole)."""

    rule: str
    user: str | None
    ok: bool
    expected: str
    found: str
    details: str = ""

    def __str__(self) -> str:
        who = f"user {self.user}" if self.user is not None else "the tree"
        mark = "ok" if self.ok else "BROKEN"
        return f"{self.rule} {mark} for {who}: expected {self.expected}; found {self.found}"


def rule_text(rule: str) -> str:
    situation, expectation = RULES.get(rule, ("?", "?"))
    return f"{rule} ({situation}): {expectation}"


OUTPUT_TAIL = 4000  # characters of the migrator's output kept in a failure


class RuleBroken(KitError, AssertionError):
    """One or more rules broken by a migrator on a tree; ``str()`` is the full report.

    An ``AssertionError`` so that pytest reports it as a failed check, not a crash.
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
    ) -> None:
        self.verdicts = tuple(v for v in verdicts if not v.ok)
        if not self.verdicts:
            raise ValueError("RuleBroken needs at least one failed verdict")
        self.blocks = tuple(_blocks(self.verdicts, diff, output, seed, replay, context))
        super().__init__(self.render())

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules broken, each once, in order of first appearance."""
        return tuple(dict.fromkeys(v.rule for v in self.verdicts))

    def render(self) -> str:
        parts = []
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
) -> None:
    """Raise ``RuleBroken`` when any verdict failed; do nothing when all held."""
    if any(not v.ok for v in verdicts):
        raise RuleBroken(
            verdicts, diff=diff, output=output, seed=seed, replay=replay, context=context
        )
