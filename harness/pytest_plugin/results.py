"""Fold a test's pytest reports (setup, call, teardown) into one ``ScenarioResult``.

The facts a worker knows (the seed, the replay command, the rules a ``RuleBroken`` named)
travel to the controller in ``report.user_properties``, which pytest-xdist serialises; so do
the test's checklist markers (its keywords would also hold its parametrize ids). So this
module needs nothing but the reports, and the controller builds the same results with or
without ``-n``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.judge.verdict import RuleBroken, Verdict
from harness.report import findings
from harness.report.checklist import ScenarioOutcome, ScenarioResult
from harness.report.items import ALL_ITEMS, BY_MARKER
from harness.store import codec

SEED, REPLAY, RULES, USERS, MESSAGE = "mk_seed", "mk_replay", "mk_rules", "mk_users", "mk_message"
MARKERS = "mk_markers"  # the checklist markers on the test (never its keywords)
# A skipped fault case whose fault could not be placed: "not judged", counted apart from
# the skips that are a choice (no strace here, --large not given).
NOT_JUDGED = "mk_not_judged"
VERDICTS, SIZE, OUTPUT = "mk_verdicts", "mk_size", "mk_output"  # what the findings fold reads
SHARD = "mk_shard"  # a --mk-shard session's Slice (harness.pytest_plugin.shard), as data
MESSAGE_VERDICTS = 8  # broken verdicts quoted in a result's message
MESSAGE_EVIDENCE = 6  # differences quoted per verdict in a result's message


def broken_properties(exc: BaseException | None) -> list[tuple[str, Any]]:
    """What a ``RuleBroken`` (possibly inside an exception group) says, as user properties."""
    broken = _find_rule_broken(exc)
    if broken is None:
        return []
    users = sorted({v.user for v in broken.verdicts if v.user is not None})
    # Losses before leftovers, each verdict with what it found (verdict_lines sorts them).
    shown = sorted(broken.verdicts, key=lambda v: findings.damage_rank(v.damage))
    lines = findings.verdict_lines(shown[:MESSAGE_VERDICTS], cap=MESSAGE_EVIDENCE)
    if len(broken.verdicts) > MESSAGE_VERDICTS:
        lines.append(f"... {len(broken.verdicts) - MESSAGE_VERDICTS} more broken verdicts")
    excerpt = findings.output_around(broken.output or "", users)
    return [
        (RULES, list(broken.rules)),
        (USERS, users),
        (MESSAGE, "\n".join(lines)),
        (VERDICTS, codec.to_data(broken.verdicts)),
        (SIZE, None if broken.size is None else list(broken.size)),
        (OUTPUT, excerpt),
    ]


def _find_rule_broken(exc: BaseException | None) -> RuleBroken | None:
    if isinstance(exc, RuleBroken):
        return exc
    if isinstance(exc, BaseExceptionGroup):  # Hypothesis reports several distinct failures
        for inner in exc.exceptions:
            found = _find_rule_broken(inner)
            if found is not None:
                return found
    return None


LARGE = "large"  # the marker of scenarios on a > 100 MB tree, run only with --large


def checklist_markers(keywords: Iterable[str]) -> list[str]:
    """The kit's markers among a test's keywords: checklist items in order, then ``large``."""
    present = set(keywords)
    found = [item.marker for item in ALL_ITEMS if item.marker in present]
    return [*found, LARGE] if LARGE in present else found


def fold(nodeid: str, reports: Sequence[Any]) -> ScenarioResult:
    """One result from the reports of one test, in the order pytest made them."""
    props: dict[str, Any] = {}
    for r in reports:
        props.update(dict(getattr(r, "user_properties", ())))
    outcome, message = ScenarioOutcome.PASSED, ""
    for r in reports:
        if r.when == "collect":  # a scenario module that cannot even be imported
            outcome, message = ScenarioOutcome.ERROR, f"error collecting {nodeid}: {_crash(r)}"
        elif r.when == "call":
            if r.failed:
                outcome, message = ScenarioOutcome.FAILED, props.get(MESSAGE) or _crash(r)
            elif r.skipped:
                outcome, message = ScenarioOutcome.SKIPPED, _skip_reason(r)
        elif r.failed and outcome != ScenarioOutcome.FAILED:
            outcome, message = ScenarioOutcome.ERROR, f"error in {r.when}: {_crash(r)}"
        elif r.skipped and r.when == "setup":
            outcome, message = ScenarioOutcome.SKIPPED, _skip_reason(r)
    markers = list(props.get(MARKERS, ()))
    failed = outcome == "failed"
    size = props.get(SIZE) if failed else None
    return ScenarioResult(
        nodeid=nodeid,
        outcome=outcome,
        markers=tuple(markers),
        items=tuple(BY_MARKER[m].number for m in markers if m in BY_MARKER),
        rules_broken=tuple(props.get(RULES, ())) if outcome == ScenarioOutcome.FAILED else (),
        users=tuple(props.get(USERS, ())) if outcome == ScenarioOutcome.FAILED else (),
        seed=props.get(SEED),
        replay=props.get(REPLAY),
        message=message,
        not_judged=outcome == "skipped" and bool(props.get(NOT_JUDGED)),
        verdicts=codec.from_data(tuple[Verdict, ...], props.get(VERDICTS, [])) if failed else (),
        size=None if size is None else (size[0], size[1]),
        output=props.get(OUTPUT, "") if failed else "",
    )


def _crash(report: Any) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    text = (getattr(report, "longreprtext", "") or "").strip()
    return text.splitlines()[-1] if text else "(no message)"


def _skip_reason(report: Any) -> str:
    if getattr(report, "wasxfail", None) is not None:
        return f"expected failure: {report.wasxfail}"
    longrepr = report.longrepr
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = _crash(report)
    return reason.removeprefix("Skipped: ")
