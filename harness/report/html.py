"""Self-contained HTML reports (``--html FILE``): the findings, the evidence and pictures.

A person who must decide whether a migration is safe would rather look than read: one file
they can open from a CI artifact, mail, or keep, that needs nothing else (inline CSS and
SVG, no script, no network). It opens with the distinct findings (``harness.report.
findings``, content lost first), each with its evidence, the users hit, its replay command
and a link to its rule's text, which the page carries itself (the rules section, from
``harness.contract.rules``).

Rendered with Jinja2 templates (``templates/*.html.j2``, shipped as package data) with
autoescaping on: user ids and file names come from the data dir under test and may hold
anything (a folder named ``<script>``); every value reaches the page escaped.

This module holds the pieces every report shares (the environment, the findings and rules
as a template reads them) and the checklist's page; the explorations' pages, with their
timelines and operations x effects matrix, are built in ``harness.explore.pictures`` from
an ``ExploreReport`` (this room sits below the explorer and does not import it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness.contract import rules as contract_rules
from harness.report import findings as fnd

TEMPLATES = "templates"

# A case's or scenario's outcome -> its CSS class (the colours of the legend).
SHADE_CLASS = {
    "ok": "ok",
    "passed": "ok",
    "content lost": "lost",
    "left over": "left",
    "failed": "lost",
    "not judged": "nj",
    "skipped": "nj",
    "not run": "nr",
}


@cache
def environment() -> Any:
    """The Jinja2 environment: the package's templates, autoescaping on, undefined names
    an error (a template typo must fail the tests, not print nothing)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("harness.report", TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context`` and the rules section every page ends with."""
    return environment().get_template(template).render(rules=rule_views(), **context)


def write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def anchor(*parts: object) -> str:
    """An element id from ``parts`` (``case``, ``17:EIO+power-loss`` ->
    ``case-17-EIO-power-loss``): letters, digits, ``_``, ``.``, ``-`` only, so that a link
    ``#id`` needs no escaping."""
    text = "-".join(str(p) for p in parts)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


class Anchors:
    """Unique element ids for keys (node ids, case ids): two keys that read alike once
    reduced to an id's letters get ``-2``, ``-3``; a key keeps the id it was first given."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.given: dict[str, str] = {}
        self.taken: set[str] = set()

    def __call__(self, key: str) -> str:
        if key not in self.given:
            base = anchor(self.prefix, key)
            name, n = base, 1
            while name in self.taken:
                n += 1
                name = f"{base}-{n}"
            self.given[key] = name
            self.taken.add(name)
        return self.given[key]


def shade_class(outcome: str) -> str:
    return SHADE_CLASS.get(str(outcome), "left")


@dataclass(frozen=True)
class RuleView:
    id: str
    anchor: str
    situation: str
    expectation: str


@cache
def rule_views() -> tuple[RuleView, ...]:
    """SPEC's rules as shipped (``harness.contract.rules``), each with its anchor."""
    return tuple(
        RuleView(rule, rule_anchor(rule), situation, expectation)
        for rule, (situation, expectation) in contract_rules.table().items()
    )


def rule_anchor(rule: str) -> str:
    """``rule-R8`` for a rule the page carries; "" for one it does not (no link)."""
    return f"rule-{rule}" if rule in contract_rules.table() else ""


@dataclass(frozen=True)
class FindingView:
    """One finding as a template reads it (all text; the template escapes it)."""

    number: int
    anchor: str
    title: str
    rule: str
    rule_anchor: str
    content_lost: bool
    counts: str
    expected: str
    rows: str
    evidence: tuple[str, ...]
    smallest: str
    smallest_href: str
    size: str
    replay: str
    output: str
    others: tuple[tuple[str, str], ...]  # (source, its anchor or "")


def finding_views(
    findings: Sequence[fnd.Finding], link: Callable[[str], str] = lambda source: ""
) -> list[FindingView]:
    """The findings in the fold's order (content lost first); ``link`` gives a source's
    anchor on the page ("" when it has none)."""
    out = []
    for n, f in enumerate(findings, 1):
        o, facts = f.smallest
        users = [x.user for x in facts if x.user]
        others = [x.source for x in f.observations if x is not o]
        size = ""
        if o.size is not None:
            size = f"{fnd.plural(o.size[0], 'user')}, {fnd.plural(o.size[1], 'row')}"
        out.append(
            FindingView(
                number=n,
                anchor=f"finding-{n}",
                title=f.title(),
                rule=f.key.rule,
                rule_anchor=rule_anchor(f.key.rule),
                content_lost=f.key.damage in fnd.CONTENT_DAMAGE,
                counts=f.counts(),
                expected=f.expected,
                rows=", ".join(f"{t} {k}" for t, k in f.rows),
                evidence=tuple(fnd.capped(fnd.evidence(facts), fnd.EVIDENCE_CAP)),
                smallest=o.source,
                smallest_href=link(o.source),
                size=size,
                replay=o.replay or "",
                output=fnd.output_around(o.output, users),
                others=tuple((s, link(s)) for s in fnd.capped(others, 20)),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# The checklist's page.


@dataclass(frozen=True)
class ScenarioView:
    nodeid: str
    anchor: str
    outcome: str
    shade: str
    rules: str
    users: str
    text: str  # the evidence of a failure (broken verdicts, or the message)
    replay: str


@dataclass(frozen=True)
class ItemView:
    number: int
    text: str
    status: str
    shade: str
    summary: str
    rules: tuple[tuple[str, str], ...]  # (rule, its anchor)
    scenarios: tuple[ScenarioView, ...]


def checklist_html(run: Any) -> str:
    """The checklist run (a :class:`~harness.report.checklist.ChecklistRun`) as one page:
    the findings, a picture of the items, each item with its failing scenarios."""
    from harness.report import checklist as ck

    anchors = Anchors("scenario")
    placed: set[str] = set()  # a scenario of several items has its id at its first

    def link(source: str) -> str:
        return anchors(source) if source in placed else ""

    def view(s: Any) -> ScenarioView:
        first = s.nodeid not in placed
        placed.add(s.nodeid)
        return _scenario_view(s, anchors(s.nodeid) if first else "")

    items = []
    for o in ck.item_outcomes(run.results):
        scenarios = tuple(view(s) for s in o.scenarios)
        items.append(
            ItemView(
                number=o.item.number,
                text=o.item.text,
                status=o.status.value,
                shade=shade_class(o.status.value),
                summary=o.summary(),
                rules=tuple((r, rule_anchor(r)) for r in o.rules_broken),
                scenarios=scenarios,
            )
        )
    outside = [view(r) for r in run.outside_items]
    counts = {o: sum(r.outcome == o for r in run.results) for o in ck.OUTCOMES}
    findings = run.findings
    return render(
        "checklist.html.j2",
        title="Server migration checklist",
        migrator=run.migrator,
        verdict=ck.verdict_line(run),
        failed=run.failed,
        counts=", ".join(f"{n} {o}" for o, n in counts.items() if n),
        duration=f"{run.duration_s:.1f} s",
        seeds=", ".join(map(str, run.seeds)),
        headline=fnd.headline(findings),
        findings=finding_views(findings, link),
        items=items,
        outside=outside,
    )


def _scenario_view(s: Any, element_id: str) -> ScenarioView:
    text = ""
    if s.failed:
        text = "\n".join(fnd.verdict_lines(s.verdicts)) if s.verdicts else s.message.strip()
    elif s.outcome == "skipped":
        text = fnd.first_line(s.message)
    outcome = "not judged" if s.not_judged else str(s.outcome)
    return ScenarioView(
        nodeid=s.nodeid,
        anchor=element_id,
        outcome=outcome,
        shade=shade_class("failed" if s.failed else outcome),
        rules=", ".join(s.rules_broken),
        users=", ".join(s.users),
        text=text,
        replay=(s.replay or "") if s.failed else "",
    )
