"""The checklist's results as data, and the two ways a person reads them.

``ScenarioResult`` is one scenario's outcome as the plugin records it; ``ChecklistRun`` is a
whole run, in the ``--checklist-json`` format other tools parse (keep it stable):

    {"migrator": str, "duration_s": float,
     "results": [{"nodeid": str,
                  "outcome": "passed"|"failed"|"skipped"|"error"|"not judged",
                  "markers": [str], "items": [int], "rules_broken": [str], "users": [str],
                  "seed": int|null, "replay": str|null, "message": str,
                  "not_judged": bool,
                  "verdicts": [Verdict], "size": [users, rows]|null, "output": str}],
     "shard": {"k": int, "n": int, "selected": int, "selection": str}}  # --mk-shard only

A scenario "not judged" is a skipped fault case whose fault could not be placed on the
recorded operation: it proves nothing either way, so it is counted next to its item
("judged 499 of 531") and never reported as a failure; ``--strict-coverage`` makes it one.

(``verdicts``, ``size`` and ``output``, a failure's broken verdicts, its tree's size and the
migrator's output around the users it names, are what ``harness.report.findings`` folds; a
file without them still reads.)

``item_outcomes`` folds scenarios into the seed's checklist items (by their markers);
``checklist_lines`` renders them for a terminal and ``markdown`` for a report file. The pytest
plugin and ``migration-kit checklist`` both render through here, so they always agree.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from harness.contract import layout
from harness.judge.verdict import Verdict, rule_text
from harness.report import findings as fnd
from harness.report.items import ALL_ITEMS, BEYOND, ITEMS, ChecklistItem
from harness.report.shards import Slice
from harness.store import codec


class ScenarioOutcome(StrEnum):
    """How one scenario went, as ``--checklist-json`` spells it."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"  # setup or teardown failed, or the module could not be collected


OUTCOMES: tuple[ScenarioOutcome, ...] = tuple(ScenarioOutcome)


class ItemStatus(StrEnum):
    """A checklist item's scenarios folded into one word."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_RUN = "not run"
    # No scenario of it passed and some judged nothing (a fault case that could not be
    # placed, an exploration of a run that changed nothing): never a pass.
    NOT_JUDGED = "not judged"


@dataclass(frozen=True)
class ScenarioResult:
    """One test's outcome, with what a person needs to act on a failure."""

    nodeid: str
    outcome: ScenarioOutcome
    markers: tuple[str, ...] = ()  # the checklist markers on the test
    items: tuple[int, ...] = ()  # their checklist item numbers
    rules_broken: tuple[str, ...] = ()
    users: tuple[str, ...] = ()  # users named by the broken verdicts
    seed: int | None = None
    replay: str | None = None
    message: str = ""
    not_judged: bool = False  # a skipped fault case: the fault could not be placed
    verdicts: tuple[Verdict, ...] = ()  # the broken verdicts of a failure
    size: tuple[int, int] | None = None  # (users, rows) of the tree that failed
    output: str = ""  # the migrator's output around the users a failure names

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", ScenarioOutcome(self.outcome))  # a str from pytest

    @property
    def failed(self) -> bool:
        return self.outcome in (ScenarioOutcome.FAILED, ScenarioOutcome.ERROR)

    def observation(self) -> fnd.Observation:
        """This failure as the findings fold reads it."""
        return fnd.Observation(
            source=self.nodeid,
            kind=fnd.Source.SCENARIO,
            verdicts=self.verdicts,
            replay=self.replay,
            size=self.size,
            output=self.output,
            problem="" if self.verdicts else self.message,
        )


@dataclass(frozen=True)
class ChecklistRun:
    """A whole run of the scenarios against one migrator."""

    migrator: str
    duration_s: float
    results: tuple[ScenarioResult, ...]
    shard: Slice | None = None  # a --mk-shard session: which slice of which selection
    sandbox: str = ""  # what kept the migrator inside its tree ("": not recorded)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.results)

    @property
    def not_judged(self) -> list[ScenarioResult]:
        """Fault cases whose fault could not be placed: neither passed nor failed."""
        return [r for r in self.results if r.not_judged]

    @property
    def unjudged_items(self) -> list[int]:
        """Items that judged nothing (every scenario that ran not judged): not a pass."""
        return [
            o.item.number for o in item_outcomes(self.results) if o.status == ItemStatus.NOT_JUDGED
        ]

    @property
    def outside_items(self) -> list[ScenarioResult]:
        """Failures that belong to no checklist item: a scenario module that could not be
        collected, or a test without a checklist marker."""
        return [r for r in self.results if r.failed and not r.items]

    @property
    def findings(self) -> list[fnd.Finding]:
        """The failures folded into their root causes (``harness.report.findings``)."""
        return fnd.fold(r.observation() for r in self.results if r.failed)

    @property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.results if r.seed is not None})

    def to_json(self) -> str:
        data = codec.to_data(self)
        data["duration_s"] = round(self.duration_s, 3)  # the format keeps milliseconds
        if self.shard is None:  # the format's keys, unless the run was one slice
            del data["shard"]
        if not self.sandbox:
            del data["sandbox"]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ChecklistRun:
        return codec.from_json(cls, text)

    @classmethod
    def load(cls, path: Path) -> ChecklistRun:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ItemOutcome:
    """One checklist item: its scenarios folded into passed, failed, skipped or not run."""

    item: ChecklistItem
    scenarios: tuple[ScenarioResult, ...]

    @property
    def status(self) -> ItemStatus:
        if not self.scenarios:
            return ItemStatus.NOT_RUN
        if any(s.failed for s in self.scenarios):
            return ItemStatus.FAILED
        if any(s.outcome == ScenarioOutcome.PASSED for s in self.scenarios):
            return ItemStatus.PASSED
        if any(s.not_judged for s in self.scenarios):
            return ItemStatus.NOT_JUDGED
        return ItemStatus.SKIPPED

    @property
    def rules_broken(self) -> tuple[str, ...]:
        rules = (r for s in self.scenarios for r in s.rules_broken)
        return tuple(sorted(set(rules), key=_rule_order))

    @property
    def box(self) -> str:
        return {
            ItemStatus.PASSED: "[x]",
            ItemStatus.SKIPPED: "[-]",
            ItemStatus.NOT_JUDGED: "[?]",
        }.get(self.status, "[ ]")

    @property
    def judged(self) -> str:
        """``, judged 499 of 531`` when some scenarios were not judged, else ``""``."""
        n, holes = len(self.scenarios), sum(s.not_judged for s in self.scenarios)
        return f", judged {n - holes} of {n}" if holes else ""

    def summary(self) -> str:
        """``passed (3 scenarios)``, ``FAILED: R1, R9 (2 of 5 scenarios)``, ``skipped: why``."""
        n = len(self.scenarios)
        counts = {o: sum(s.outcome == o for s in self.scenarios) for o in OUTCOMES}
        if self.status == ItemStatus.NOT_RUN:
            return ItemStatus.NOT_RUN.value
        if self.status == ItemStatus.SKIPPED:
            return f"skipped: {_first_line(self.scenarios[0].message)}"
        if self.status == ItemStatus.NOT_JUDGED:
            first = next(s for s in self.scenarios if s.not_judged)
            why = _first_line(first.message).removeprefix("not judged: ")
            return f"NOT JUDGED: {why} ({_plural(n, 'scenario')}{self.judged})"
        if self.status == ItemStatus.PASSED:
            chosen = counts[ScenarioOutcome.SKIPPED] - sum(s.not_judged for s in self.scenarios)
            extra = f", {chosen} skipped" if chosen else ""
            return f"passed ({_plural(n, 'scenario')}{self.judged}{extra})"
        bad = counts[ScenarioOutcome.FAILED] + counts[ScenarioOutcome.ERROR]
        what = ", ".join(self.rules_broken) or "errors, no rule judged"
        return f"FAILED: {what} ({bad} of {_plural(n, 'scenario')}{self.judged})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _rule_order(rule: str) -> tuple[int, str]:
    return (int(rule[1:]), rule) if rule[:1] == "R" and rule[1:].isdigit() else (999, rule)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def item_outcomes(
    results: Iterable[ScenarioResult], items: Sequence[ChecklistItem] = ALL_ITEMS
) -> list[ItemOutcome]:
    """Every item, with the scenarios that carry its marker (a scenario may serve several)."""
    results = list(results)
    return [
        ItemOutcome(item, tuple(r for r in results if item.marker in r.markers)) for item in items
    ]


def _layout_note() -> str:
    """The target layout, when it is not the default (a default report stays as it was)."""
    chosen = layout.active()
    return "" if chosen.name == layout.DEFAULT_LAYOUT else f" (layout: {chosen.describe()})"


def checklist_lines(run: ChecklistRun, *, replays: bool = False) -> list[str]:
    """The seed's checklist, items 1-10 then the items beyond it, one line each; with
    ``replays``, each failed scenario and its replay command under its item."""
    outcomes = {o.item.number: o for o in item_outcomes(run.results)}
    width = max(len(i.text) for i in ALL_ITEMS)
    lines = [f"migrator: {run.migrator}" + _seed_note(run) + _layout_note()]
    for title, items in (("Testing Checklist", ITEMS), ("Beyond the checklist", BEYOND)):
        lines.append(f"{title}:")
        for item in items:
            o = outcomes[item.number]
            lines.append(f"  {o.box} {item.number:>2}. {item.text:<{width}}  {o.summary()}")
            if replays:
                for s in (s for s in o.scenarios if s.failed):
                    rules = f" ({', '.join(s.rules_broken)})" if s.rules_broken else ""
                    lines.append(f"        {s.nodeid}{rules}")
                    if s.replay:
                        lines.append(f"          replay: {s.replay}")
    if run.outside_items:
        lines.append("Failures outside the checklist's items:")
        lines += [f"  [!] {r.nodeid}: {_first_line(r.message)}" for r in run.outside_items]
    lines.append(verdict_line(run))
    return lines


def _seed_note(run: ChecklistRun) -> str:
    return f", seed {', '.join(map(str, run.seeds))}" if run.seeds else ""


def verdict_line(run: ChecklistRun) -> str:
    """The last line: which items failed (and how many distinct findings), or how many of
    the checklist's items ran and passed and how many did not run: a run of one item
    (``-m dry_run``) must not read as a checklist that passes."""
    outcomes = item_outcomes(run.results, ITEMS)
    failed = [o.item.number for o in item_outcomes(run.results) if o.status == ItemStatus.FAILED]
    outside = f"{_plural(len(run.outside_items), 'failure')} outside the items"
    unjudged = run.unjudged_items
    if failed or run.outside_items:
        parts = [f"item(s) {', '.join(map(str, failed))} broken"] if failed else []
        parts += [outside] if run.outside_items else []
        parts += [f"item(s) {', '.join(map(str, unjudged))} not judged"] if unjudged else []
        parts.append(fnd.headline(run.findings))
        return "FAILED: " + "; ".join(parts)
    if unjudged:
        return f"NOT JUDGED: item(s) {', '.join(map(str, unjudged))} judged nothing (not a pass)"
    status = [o.status for o in outcomes]
    done = status.count(ItemStatus.PASSED)
    holes = f"; {_plural(len(run.not_judged), 'fault case')} not judged" if run.not_judged else ""
    if done == len(ITEMS):
        return f"PASSED: all {len(ITEMS)} checklist items ran and passed{holes}"
    parts = [f"{_plural(done, 'checklist item')} ran and passed"]
    for word in (ItemStatus.NOT_JUDGED, ItemStatus.SKIPPED, ItemStatus.NOT_RUN):
        if status.count(word):
            parts.append(f"{status.count(word)} {word}")
    return "PASSED: " + "; ".join(parts) + f" (of {len(ITEMS)}), none fails{holes}"


def summary_lines(run: ChecklistRun) -> list[str]:
    """What a terminal shows after a run: the distinct findings first, then the checklist
    with each failed scenario's replay, then the verdict line."""
    found = run.findings
    lines = [*fnd.terminal_lines(found), ""] if found else []
    if run.sandbox:
        lines.append(f"Sandbox: {run.sandbox}")
    return [*lines, *checklist_lines(run, replays=True)]


def markdown(run: ChecklistRun, *, with_findings: bool = True) -> str:
    """The report file: the findings, a table of items, then per item its scenarios, rules
    and replays (``with_findings=False``: without the findings, which a GitHub job summary
    puts first itself)."""
    outcomes = item_outcomes(run.results)
    counts = {o: sum(r.outcome == o for r in run.results) for o in OUTCOMES}
    out = [
        "# Server migration checklist",
        "",
        f"- Migrator: `{run.migrator}`",
        *([f"- Layout: {layout.active().describe()}"] if _layout_note() else []),
        *([f"- Sandbox: {run.sandbox}"] if run.sandbox else []),
        "- Result: **{}**:{}".format(*verdict_line(run).split(":", 1)),
        "- Scenarios: "
        + ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        + f" in {run.duration_s:.1f} s",
    ]
    if run.seeds:
        seeds = ", ".join(map(str, run.seeds))
        out.append(f"- Seed: {seeds} (`--mk-seed N` regenerates the same trees)")
    out.append("- Rules: `migration-kit rules` prints SPEC's rules as this kit judges them")
    if with_findings:
        out += ["", *fnd.markdown_lines(run.findings)]
    out += ["", "## Checklist items", ""]
    out += ["| # | Item | Result | Rules broken |", "|---|---|---|---|"]
    for o in outcomes:
        out.append(
            f"| {o.item.number} | {_cell(o.item.text)} | {_cell(o.summary())} "
            f"| {', '.join(o.rules_broken)} |"
        )
    for o in outcomes:
        out += ["", *_item_section(o, run.migrator)]
    if run.outside_items:
        out += ["", "## Failures outside the checklist's items"]
        for r in run.outside_items:
            out += ["", f"`{r.nodeid}` ({r.outcome}):", "", "```text", r.message.strip(), "```"]
    return "\n".join(out) + "\n"


def _item_section(o: ItemOutcome, migrator: str) -> list[str]:
    item = o.item
    out = [f"## {item.number}. {item.text}", ""]
    out.append(f"Result: **{o.summary()}**. Rules judged: {', '.join(item.rules)}.")
    large = ["--large"] if any("large" in s.markers for s in o.scenarios) else []
    rerun = shlex.join(["migration-kit", "checklist", "--migrator", migrator, *large])
    rerun += f" -m {item.marker}"
    out += ["", f"Run this item alone: `{rerun}`"]
    if o.rules_broken:
        out += ["", "Rules broken:", ""]
        out += [f"- {rule_text(r)}" for r in o.rules_broken]
    if not o.scenarios:
        return out
    out += ["", "| Scenario | Outcome | Rules broken | Users |", "|---|---|---|---|"]
    for s in o.scenarios:
        out.append(
            f"| `{_cell(s.nodeid)}` | {s.outcome} | {', '.join(s.rules_broken)} "
            f"| {_cell(', '.join(s.users))} |"
        )
    failed = [s for s in o.scenarios if s.failed]
    skipped = [s for s in o.scenarios if s.outcome == ScenarioOutcome.SKIPPED]
    for s in failed:
        text = "\n".join(fnd.verdict_lines(s.verdicts)) if s.verdicts else s.message.strip()
        out += ["", f"`{s.nodeid}`:", "", "```text", text or "(no message)", "```"]
        if s.replay:
            out += ["", "Replay:", "", "```sh", s.replay, "```"]
    for s in skipped:
        why = _first_line(s.message) if s.not_judged else f"skipped: {_first_line(s.message)}"
        out += ["", f"`{s.nodeid}` {why}"]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def merge_runs(slices: Sequence[ChecklistRun]) -> ChecklistRun:
    """The slices of one checklist run (``checklist --shard K/N``) as the whole run: every
    slice's scenarios by node id, a module that could not be collected once (every slice
    collects it and says so), the slices' time added up (the machine time spent)."""
    by_id: dict[str, ScenarioResult] = {}
    for run in slices:
        for result in run.results:
            by_id.setdefault(result.nodeid, result)
    results = tuple(by_id[k] for k in sorted(by_id))
    duration = sum(s.duration_s for s in slices)
    return ChecklistRun(slices[0].migrator, duration, results, sandbox=slices[0].sandbox)
