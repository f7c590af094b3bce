"""An exploration's HTML report (``explore --html FILE``, ``explore --power-loss --html``):
its findings, and two pictures of where the migration breaks.

- Per user, a **timeline** of the fault-free run's file operations (the report's
  :class:`~harness.explore.results.Step` list, recorded by the baseline): a tick per
  operation on the user's folder, at its place in the whole run, and above it a dot per
  case placed there (an errno, a kill, a power cut), coloured by its outcome
  (:class:`~harness.explore.results.Shade`).
- The **operations x effects matrix**: a row per operation that has cases, a column per
  effect, each cell coloured by its case's outcome and linking to the case's details.

The geometry is computed here (plain numbers), the markup is the templates'
(``harness/report/templates/explore.html.j2``), rendered through :mod:`harness.report.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.explore.results import CaseResult, ExploreReport, Step, owner_of
from harness.report import findings as fnd
from harness.report import html

LEFT = 8  # px before the first operation of a timeline
STEP_W = 8  # px per operation
TICK_Y = 56  # the timeline's axis
DOT_R = 4  # a case's dot
DOT_GAP = 10  # px between stacked dots
SHARED = "the data dir itself, and scratch files"  # operations on no user's folder


@dataclass(frozen=True)
class Dot:
    y: int
    shade: str  # CSS class
    href: str
    title: str


@dataclass(frozen=True)
class Tick:
    x: int
    title: str
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class Timeline:
    owner: str
    width: int
    axis: int  # y of the axis; dots stand above it
    height: int
    ticks: tuple[Tick, ...]
    counts: str  # "12 operations, 30 cases: 2 content lost, ..."


@dataclass(frozen=True)
class Cell:
    shade: str
    label: str
    href: str
    title: str


@dataclass(frozen=True)
class Row:
    step: str
    owner: str
    cells: tuple[Cell | None, ...]


@dataclass(frozen=True)
class CaseView:
    anchor: str
    id: str
    describe: str
    shade: str
    outcome: str
    text: str
    replay: str


def steps_of(report: ExploreReport) -> tuple[Step, ...]:
    """The report's recorded operations; for a report without them (an older kit's), the
    operations its cases name, in order."""
    if report.steps:
        return report.steps
    seen: dict[int, Step] = {}
    for r in report.results:
        c = r.case
        seen.setdefault(c.index, Step(c.index, c.operation, c.paths, c.syscall, owner_of(c.paths)))
    return tuple(seen[k] for k in sorted(seen))


def effects_of(report: ExploreReport) -> list[str]:
    """The matrix's columns: the target's effects in its order, then any other effect a
    case has, in the order met."""
    wanted = [str(e) for e in (report.target.get("effects") or ())]
    met = list(dict.fromkeys(r.case.effect for r in report.results))
    return [e for e in wanted if e in met] + [e for e in met if e not in wanted]


def timelines(
    report: ExploreReport, steps: Sequence[Step], case_anchor: html.Anchors
) -> list[Timeline]:
    """One timeline per owner (users in order, the data dir's own operations last)."""
    by_index: dict[int, list[CaseResult]] = {}
    for r in report.results:
        by_index.setdefault(r.case.index, []).append(r)
    owners = sorted({s.owner for s in steps if s.owner}) + (
        [""] if any(not s.owner for s in steps) else []
    )
    most = max((len(v) for v in by_index.values()), default=0)
    axis = max(TICK_Y, 20 + max(most - 1, 0) * DOT_GAP + DOT_R + 4)  # room for the dots
    out = []
    for owner in owners:
        ticks, shades = [], []
        # An operation is drawn on its owner's timeline only, at its place in the whole
        # run: a page of many users stays small (ticks: operations, not users x operations).
        for n, step in enumerate(steps):
            if step.owner != owner:
                continue
            dots = []
            for j, r in enumerate(by_index.get(step.index, ())):
                shades.append(r.shade.value)
                dots.append(
                    Dot(
                        y=axis - 20 - j * DOT_GAP,
                        shade=html.shade_class(r.shade.value),
                        href=case_anchor(r.case.id),
                        title=f"case {r.case.id}: {r.case.describe_op()}: {r.shade.value}",
                    )
                )
            ticks.append(Tick(LEFT + n * STEP_W, step.describe(), tuple(dots)))
        mine_ops = sum(s.owner == owner for s in steps)
        tally = ", ".join(f"{shades.count(s)} {s}" for s in dict.fromkeys(sorted(shades)))
        counts = f"{fnd.plural(mine_ops, 'operation')}, {fnd.plural(len(shades), 'case')}"
        out.append(
            Timeline(
                owner=owner or SHARED,
                width=LEFT * 2 + len(steps) * STEP_W,
                axis=axis,
                height=axis + 10,
                ticks=tuple(ticks),
                counts=counts + (f": {tally}" if tally else ""),
            )
        )
    return out


def matrix(
    report: ExploreReport, steps: Sequence[Step], effects: Sequence[str], case_anchor: html.Anchors
) -> list[Row]:
    """A row per operation with cases, a cell per effect (None: no such case)."""
    cases = {(r.case.index, r.case.effect): r for r in report.results}
    rows = []
    for step in steps:
        cells: list[Cell | None] = []
        for effect in effects:
            r = cases.get((step.index, effect))
            if r is None:
                cells.append(None)
                continue
            label = {"ok": "ok", "content lost": "lost", "left over": "left", "not judged": "?"}
            cells.append(
                Cell(
                    shade=html.shade_class(r.shade.value),
                    label=label.get(r.shade.value, r.shade.value),
                    href=case_anchor(r.case.id),
                    title=f"case {r.case.id}: {r.shade.value}",
                )
            )
        if any(cells):
            rows.append(Row(step.describe(), step.owner or SHARED, tuple(cells)))
    return rows


def explore_html(report: ExploreReport, status: int | None = None) -> str:
    """The exploration's page (see the module); a power-loss one says so (its target's
    backend is ``power-loss``). ``status``: the command's exit status, when options such as
    ``--strict-coverage`` decide it (default: the report's own)."""
    case_anchor = html.Anchors("case")
    for r in report.results:  # every case's id, in case order, before any link to one
        case_anchor(r.case.id)
    steps = steps_of(report)
    effects = effects_of(report)
    findings = report.findings

    def link(source: str) -> str:
        case_id = source.removeprefix("case ")
        return case_anchor.given.get(case_id, "") if source.startswith("case ") else ""

    t = report.target
    ok = sum(r.outcome == "ok" for r in report.results)
    power_loss = t.get("backend") == "power-loss"
    kind = "Power-loss exploration" if power_loss else "Fault exploration"
    status = report.exit_status if status is None else status
    verdict = report.verdict_line(status)
    return html.render(
        "explore.html.j2",
        title=f"migration-kit: {kind.lower()} of {t.get('migrator')}",
        kind=kind,
        failed=status != 0,
        verdict=verdict,
        target=[
            ("Migrator", str(t.get("migrator"))),
            ("Backend", str(t.get("backend"))),
            ("Tree", str(t.get("tree"))),
            ("Effects", ", ".join(effects) or "every applicable effect"),
        ],
        not_explored=report.not_explored,
        tally=(
            f"{fnd.plural(len(report.results), 'case')}, judged {report.judged}: {ok} ok, "
            f"{len(report.broken)} broke a rule, {len(report.not_judged)} not judged"
        ),
        headline=fnd.headline(findings),
        findings=html.finding_views(findings, link),
        baseline=[str(v) for v in report.baseline_broken],
        effects=effects,
        rows=matrix(report, steps, effects, case_anchor),
        timelines=timelines(report, steps, case_anchor),
        cases=[_case_view(r, case_anchor) for r in report.results],
    )


def _case_view(r: CaseResult, case_anchor: html.Anchors) -> CaseView:
    text = "" if r.outcome == "ok" else r.summary()
    return CaseView(
        anchor=case_anchor(r.case.id),
        id=r.case.id,
        describe=r.case.describe(),
        shade=html.shade_class(r.shade.value),
        outcome=r.shade.value,
        text=text,
        replay=r.replay,
    )
