"""Findings: a run's failures folded into their root causes, content lost first.

A migrator with one defect (rows that sit in ``peek.db-wal`` are not carried) fails dozens
of scenarios and fault cases; a person must not have to do the grouping by hand before they
can fix anything. A *finding* is one kind of damage: the same rule, the same
:class:`~harness.judge.verdict.Damage` (rows lost in the new DB, the backup or both; images
lost or left behind; a file left over; an exit status; ...) at the same place, at the same
kind of operation (for a fault case; "" for a scenario). Each says how many scenarios and
cases show it, the users hit, and its smallest reproduction: the failing scenario or case
on the fewest users and rows, with its one replay command and the migrator's output around
the user it hit.

Fed by plain data (:class:`Observation`: the broken verdicts of one failing scenario or
case), so the checklist (``harness.report.checklist``) and both explorers
(``harness.explore.results``) fold through here, without pytest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from harness.judge.verdict import DAMAGE_ORDER, Damage, Verdict, rule_text

EVIDENCE_CAP = 12  # evidence lines of a finding's smallest reproduction shown in a report
TERMINAL_EVIDENCE_CAP = 4  # the same, in a terminal
USERS_CAP = 8  # users named per finding
OUTPUT_CONTEXT = 2  # lines of the migrator's output kept around a line naming a user
OUTPUT_LINES = 20  # lines of output kept per excerpt


class Source(StrEnum):
    """What failed: a checklist scenario, an exploration's case, or a fault-free run."""

    SCENARIO = "scenario"
    CASE = "case"
    RUN = "run"


@dataclass(frozen=True)
class Observation:
    """One failing scenario or case, as the fold needs it.

    ``problem`` says why it failed when no verdict does (a crash, a fault that did not
    land): such failures are findings too, folded by that first line.
    """

    source: str  # a pytest node id, "case 17:kill", "the fault-free run"
    kind: Source
    verdicts: tuple[Verdict, ...] = ()  # its broken verdicts
    replay: str | None = None
    size: tuple[int, int] | None = None  # (users, rows) of its tree, when known
    step: str = ""  # the kind of operation a fault hit ("rename"); "" for a scenario
    output: str = ""  # what the migrator printed (or an excerpt)
    problem: str = ""


@dataclass(frozen=True, order=True)
class Key:
    """What makes two failures one finding."""

    rule: str
    damage: str
    place: str
    step: str


@dataclass(frozen=True)
class Fact:
    """One kind of damage to one user (or the tree) in one observation."""

    key: Key
    user: str | None
    expected: str
    found: str
    rows: tuple[tuple[str, int], ...] = ()
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One root cause: every observation that shows its key, with the facts it showed."""

    key: Key
    hits: tuple[tuple[Observation, tuple[Fact, ...]], ...]

    @property
    def observations(self) -> tuple[Observation, ...]:
        return tuple(o for o, _ in self.hits)

    @property
    def facts(self) -> tuple[Fact, ...]:
        return tuple(f for _, facts in self.hits for f in facts)

    def count(self, kind: Source) -> int:
        return sum(o.kind == kind for o in self.observations)

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(sorted({f.user for f in self.facts if f.user is not None}))

    @property
    def rows(self) -> tuple[tuple[str, int], ...]:
        """Per table, the most rows one user lost in one observation."""
        most: dict[str, int] = {}
        for f in self.facts:
            for table, n in f.rows:
                most[table] = max(most.get(table, 0), n)
        return tuple(sorted(most.items()))

    @property
    def smallest(self) -> tuple[Observation, tuple[Fact, ...]]:
        """The hit that reproduces it on the fewest users and rows (size unknown last), the
        one with fewer users hit and a shorter name breaking ties."""

        def order(hit: tuple[Observation, tuple[Fact, ...]]) -> tuple:
            o, facts = hit
            size = o.size if o.size is not None else (1 << 30, 1 << 30)
            return (*size, len({f.user for f in facts}), len(o.source), o.source)

        return min(self.hits, key=order)

    @property
    def expected(self) -> str:
        return self.facts[0].expected

    def title(self) -> str:
        """``R1: rows lost: new DB and backup (items, tags)``."""
        rule, damage, place, step = self.key.rule, self.key.damage, self.key.place, self.key.step
        text = f"{rule or 'no rule'}: {damage}"
        if place:
            text += f" ({place})" if damage == Damage.OTHER else f": {place}"
        if step:
            text += f", at a fault in a {step}"
        if self.rows:
            text += f" ({', '.join(t for t, _ in self.rows)})"
        return text

    def counts(self) -> str:
        """``12 scenarios, 3 cases; users alice, bob``."""
        parts = [plural(self.count(kind), kind.value) for kind in Source if self.count(kind)]
        users = self.users
        who = f"; {plural(len(users), 'user')}: {', '.join(capped(users, USERS_CAP))}"
        return ", ".join(parts) + (who if users else "")


# ---------------------------------------------------------------------------------------------
# The fold.


def fold(observations: Iterable[Observation]) -> list[Finding]:
    """The distinct findings among ``observations``, most severe damage first, then the
    most widespread."""
    by_key: dict[Key, list[tuple[Observation, list[Fact]]]] = {}
    for o in observations:
        for fact in facts_of(o):
            hits = by_key.setdefault(fact.key, [])
            if hits and hits[-1][0] is o:
                hits[-1][1].append(fact)
            else:
                hits.append((o, [fact]))
    findings = [
        Finding(key, tuple((o, tuple(facts)) for o, facts in hits)) for key, hits in by_key.items()
    ]
    return sorted(findings, key=_severity)


def damage_rank(damage: str) -> int:
    """Where a kind of damage comes in a report: content lost first, unclassified last."""
    return DAMAGE_ORDER.get(damage or Damage.OTHER.value, len(DAMAGE_ORDER))


def _severity(f: Finding) -> tuple:
    return (
        damage_rank(f.key.damage),
        -len(f.hits),
        rule_order(f.key.rule),
        f.key,
    )


def rule_order(rule: str) -> tuple[int, str]:
    return (int(rule[1:]), rule) if rule[:1] == "R" and rule[1:].isdigit() else (999, rule)


def facts_of(o: Observation) -> list[Fact]:
    """What one observation shows: one fact per broken verdict, except that rows one user
    lost in the new DB and in the backup are one fact ("new DB and backup")."""
    if not o.verdicts:
        problem = first_line(o.problem) or "failed, no rule judged"
        key = Key("", Damage.OTHER.value, problem[:160], o.step)
        return [Fact(key, None, "", problem)]
    out: list[Fact] = []
    lost: dict[tuple[str, str | None, str], list[Verdict]] = {}
    for v in o.verdicts:
        if v.ok:
            continue
        if v.damage in _PAIRED and v.place in ("new DB", "backup"):
            lost.setdefault((v.rule, v.user, v.damage), []).append(v)
            continue
        out.append(_fact(o, v, v.place))
    for group in lost.values():
        places = sorted({v.place for v in group}, reverse=True)  # "new DB" before "backup"
        fact = _fact(o, group[0], " and ".join(places))
        rows = {}
        for v in group:
            for table, n in v.rows:
                rows[table] = max(rows.get(table, 0), n)
        found = "; ".join(v.found for v in group)
        told = tuple(dict.fromkeys(e for v in group for e in v.evidence))  # both places'
        out.append(
            Fact(fact.key, fact.user, fact.expected, found, tuple(sorted(rows.items())), told)
        )
    return out


# Damage to the new DB and to the backup of one user: one fact, "new DB and backup".
_PAIRED = {Damage.ROWS_LOST.value, Damage.NOT_CREATED.value}


def _fact(o: Observation, v: Verdict, place: str) -> Fact:
    damage = v.damage or Damage.OTHER.value
    where = general(place if v.damage else v.expected, v.user)
    key = Key(v.rule, str(damage), where, o.step)
    return Fact(key, v.user, v.expected, v.found, v.rows, v.evidence)


def general(text: str, user: str | None) -> str:
    """``text`` with the user's id replaced by ``<user>``: the same damage to two users is
    one place."""
    if not user:
        return text
    return re.sub(rf"(?<![\w-]){re.escape(user)}(?![\w-])", "<user>", text)


# ---------------------------------------------------------------------------------------------
# Rendering.


def headline(findings: Sequence[Finding]) -> str:
    """``3 distinct findings (content lost first)``; ``no findings: nothing failed``."""
    if not findings:
        return "no findings: nothing failed"
    lost = sum(f.key.damage in CONTENT_DAMAGE for f in findings)
    note = f", {lost} losing content" if lost else ""
    return f"{plural(len(findings), 'distinct finding')}{note}" + (
        " (content lost first)" if lost else ""
    )


# The kinds of damage that lose a user's content (a report shows them first, in red).
CONTENT_DAMAGE = frozenset(
    {Damage.ROWS_LOST.value, Damage.IMAGES_LOST.value, Damage.BACKUP_DELETED.value}
)


def terminal_lines(findings: Sequence[Finding]) -> list[str]:
    """The findings for a terminal: each with its counts, users, a few lines of evidence
    and its smallest replay."""
    lines = [headline(findings)]
    for n, f in enumerate(findings, 1):
        o, facts = f.smallest
        lines.append(f"  {n}. {f.title()}")
        lines.append(f"     {f.counts()}")
        lines += [f"     - {e}" for e in capped(evidence(facts), TERMINAL_EVIDENCE_CAP)]
        lines.append(f"     smallest: {o.source}{_size(o)}")
        if o.replay:
            lines.append(f"     replay: {o.replay}")
    return lines


def markdown_lines(findings: Sequence[Finding]) -> list[str]:
    """The findings as the opening section of a Markdown report."""
    out = [f"## {headline(findings)}"]
    if not findings:
        return out
    out += ["", "| # | Finding | Scenarios | Cases | Users |", "|---|---|---|---|---|"]
    for n, f in enumerate(findings, 1):
        out.append(
            f"| {n} | {cell(f.title())} | {f.count(Source.SCENARIO)} | {f.count(Source.CASE)}"
            f" | {cell(', '.join(capped(f.users, USERS_CAP)))} |"
        )
    for n, f in enumerate(findings, 1):
        o, facts = f.smallest
        out += ["", f"### {n}. {f.title()}", ""]
        if f.key.rule:
            out.append(f"- Rule: {rule_text(f.key.rule)} (`migration-kit rules {f.key.rule}`)")
        out.append(f"- Expected: {cell(f.expected or '-')}")
        out.append(f"- Shown by: {f.counts()}")
        if f.rows:
            out.append("- Rows lost, most in one user: " + _rows(f.rows))
        out.append(f"- Smallest reproduction: `{o.source}`{_size(o)}")
        out += ["", "Evidence (smallest reproduction):", ""]
        out += [f"- {cell(e)}" for e in capped(evidence(facts), EVIDENCE_CAP)]
        if o.replay:
            out += ["", "```sh", o.replay, "```"]
        excerpt = output_around(o.output, [x.user for x in facts if x.user])
        if excerpt:
            out += ["", "Migrator output around the user:", "", "```text", excerpt, "```"]
        others = [x.source for x in f.observations if x is not o]
        if others:
            out += ["", "Also shown by: " + ", ".join(f"`{s}`" for s in capped(others, 10))]
    return out


def evidence(facts: Iterable[Fact]) -> list[str]:
    """Every difference the facts name, the user first; what was found when they list
    none. Facts come losses first (the fold's order), so the lines do too."""
    out: list[str] = []
    for f in facts:
        who = f"{f.user}: " if f.user else ""
        lines = f.evidence or (f.found,)
        out += [f"{who}{line}" for line in lines]
    return list(dict.fromkeys(out))


def _size(o: Observation) -> str:
    if o.size is None:
        return ""
    users, rows = o.size
    return f" ({plural(users, 'user')}, {plural(rows, 'row')})"


def _rows(rows: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{t} {n}" for t, n in rows)


def capped(items: Sequence[str], limit: int) -> list[str]:
    """The first ``limit`` items and ``and N more``, never a lone ``and 1 more``."""
    items = list(items)
    if len(items) <= limit + 1:
        return items
    return [*items[:limit], f"and {len(items) - limit} more"]


def output_around(
    output: str,
    users: Iterable[str],
    *,
    context: int = OUTPUT_CONTEXT,
    limit: int = OUTPUT_LINES,
) -> str:
    """The lines of ``output`` that name one of ``users`` (as a word), with ``context``
    lines either side, gaps marked ``...``; at most ``limit`` lines. The output's last
    lines when it names none of them."""
    lines = output.strip().splitlines()
    names = [u for u in dict.fromkeys(users) if u]
    if not lines:
        return ""
    pattern = (
        re.compile("|".join(rf"(?<![\w-]){re.escape(u)}(?![\w-])" for u in names))
        if names
        else None
    )
    hits = [i for i, line in enumerate(lines) if pattern and pattern.search(line)]
    if not hits:
        tail = lines[-limit:]
        return "\n".join(["...", *tail] if len(lines) > limit else tail)
    near = {j for i in hits for j in range(i - context, i + context + 1)}
    keep = sorted(j for j in near if 0 <= j < len(lines))
    out: list[str] = []
    last = -1
    for j in keep:
        if len(out) >= limit:
            out.append(f"... ({len(lines) - j} more lines)")
            break
        if j != last + 1:
            out.append("...")
        out.append(lines[j])
        last = j
    return "\n".join(out)


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cell(text: str) -> str:
    """``text`` safe in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def verdict_lines(verdicts: Iterable[Verdict], *, cap: int = EVIDENCE_CAP) -> list[str]:
    """Broken verdicts, losses before leftovers, each followed by every difference it found
    (capped at ``cap`` with ``and N more``): the evidence of one failure in full."""
    broken = sorted((v for v in verdicts if not v.ok), key=lambda v: damage_rank(v.damage))
    lines: list[str] = []
    for v in broken:
        lines.append(str(v))
        details = list(v.evidence) or [d.strip() for d in v.details.splitlines() if d.strip()]
        lines += [f"  {d}" for d in capped(details, cap)]
    return lines
