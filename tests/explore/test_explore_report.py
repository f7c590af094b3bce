"""Exploration results as data: what crosses from an xdist worker to the controller and from
the controller to the ``explore`` command must come back whole, and say what a person needs."""

from __future__ import annotations

import pytest

from harness.explore.results import (
    BROKEN,
    NOT_JUDGED,
    OK,
    Case,
    CaseResult,
    ExploreReport,
    Loss,
    parse_case_id,
    rule_for,
)
from harness.judge.verdict import RuleBroken, Verdict
from harness.store import codec

CASE = Case(17, "kill", "rename", ("ann/peek.db", "ann/x"), "renameat2", "rename#2:kill")
REPLAY = "cd /d && migration-kit explore --case 17:kill"


def _result(outcome: str, ok: bool = True) -> CaseResult:
    verdict = Verdict("R10", "ann", ok, "rows kept", "kept" if ok else "lost", "  ann/x: gone")
    lost = () if ok else (Loss("ann", {"items": 3}, ("a.png",)),)
    return CaseResult(CASE, outcome, (verdict,), REPLAY, lost, "landed on the target", "out")


@pytest.mark.parametrize(
    ("effect", "rule"), [("kill", "R10"), ("EXDEV", "R12"), ("ENOSPC", "R8"), ("EIO", "R9")]
)
def test_each_effect_is_judged_under_its_rule(effect: str, rule: str) -> None:
    assert rule_for(effect) == rule
    assert Case(1, effect, "rename", ("a",)).rule == rule


def test_another_explorer_names_its_own_rule() -> None:
    assert Case(3, "power-loss", "fsync", ("a",), rule="R17").rule == "R17"


def test_case_ids_read_back() -> None:
    assert CASE.id == "17:kill"
    assert parse_case_id(" 17:kill ") == (17, "kill")
    for bad in ("17", "kill:17", ":EIO", "17:"):
        with pytest.raises(ValueError, match="K:EFFECT"):
            parse_case_id(bad)


def test_a_result_survives_json() -> None:
    result = _result(BROKEN, ok=False)
    again = codec.from_json(CaseResult, codec.to_json(result))
    assert again == result
    assert again.rules_broken == ("R10",)


def test_a_report_survives_json_and_names_what_a_person_needs() -> None:
    report = ExploreReport(
        {"migrator": "py:m:f", "tree": "{}", "backend": "syscall", "effects": None},
        (Verdict("content", "bob", True, "rows kept", "kept"),),
        (_result(OK), _result(BROKEN, ok=False)),
        "3 of 9 operations are outside the data dir",
    )
    again = ExploreReport.from_json(report.to_json())
    assert again == report
    text = report.render()
    assert "case 17:kill: operation #17 rename ann/peek.db -> ann/x (renameat2)" in text
    assert "R10 (the process killed at any single file operation)" in text
    assert "lost: user ann: rows missing: items 3; images lost: a.png" in text
    assert f"replay: {REPLAY}" in text
    assert "ann/x: gone" in text  # a broken verdict's first details
    assert "2 case(s), judged 2 of 2: 1 ok, 1 broke a rule, 0 not judged" in text


@pytest.mark.parametrize(
    ("results", "baseline_ok", "status"),
    [
        ((OK,), True, 0),
        ((OK, BROKEN), True, 1),
        ((OK, NOT_JUDGED), True, 0),  # a hole is shown, not a failure of the migrator
        ((OK,), False, 1),  # the fault-free run itself lost content
    ],
)
def test_exit_status(results: tuple[str, ...], baseline_ok: bool, status: int) -> None:
    report = ExploreReport(
        {},
        (Verdict("content", "ann", baseline_ok, "rows kept", "?"),),
        tuple(_result(o, ok=o != BROKEN) for o in results),
    )
    assert report.exit_status == status


def test_a_broken_case_raises_rule_broken_and_one_not_judged_an_assertion() -> None:
    broken = _result(BROKEN, ok=False).error()
    assert isinstance(broken, RuleBroken)
    assert broken.rules == ("R10",)
    assert REPLAY in str(broken) and "What was lost" in str(broken)
    hole = _result(NOT_JUDGED).error()
    assert not isinstance(hole, RuleBroken)
    assert "landed on the target" in str(hole) and REPLAY in str(hole)


def test_a_caller_adds_its_seed_and_blocks_to_the_failure() -> None:
    """A checklist scenario running an explorer case names its site, tree and replay too."""
    more = [("Site", "the first rename of ann"), ("Replay the scenario", "pytest --pyargs x")]
    for outcome, ok in ((BROKEN, False), (NOT_JUDGED, True)):
        text = str(_result(outcome, ok=ok).error(seed=7, context=more))
        assert "the first rename of ann" in text and "pytest --pyargs x" in text
        assert "seed: 7" in text and REPLAY in text


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome"):
        CaseResult(CASE, "fine", (), REPLAY)
