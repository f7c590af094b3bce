"""FaultPlan: one text form, one JSON form, one meaning of "matches"."""

from __future__ import annotations

import json

import pytest

from harness.faults.plan import (
    KILL,
    FaultPlan,
    Operation,
    PlanError,
    applicable_effects,
    parse_plan,
)
from harness.store.codec import CodecError, from_data, to_data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rename#3:EXDEV@*/profiles/*", FaultPlan(Operation.RENAME, 3, "EXDEV", "*/profiles/*")),
        ("fsync:kill", FaultPlan(Operation.FSYNC, 1, KILL)),
        ("open_write#2:ENOSPC", FaultPlan(Operation.OPEN_WRITE, 2, "ENOSPC")),
        # everything after the first @ is the glob, even ':' '#' and '@'
        ("unlink#1:EIO@/d/a:b#c@d", FaultPlan(Operation.UNLINK, 1, "EIO", "/d/a:b#c@d")),
    ],
)
def test_parse_and_format_round_trip(text: str, expected: FaultPlan) -> None:
    plan = parse_plan(text)
    assert plan == expected
    assert parse_plan(plan.format()) == plan
    assert from_data(FaultPlan, json.loads(json.dumps(to_data(plan)))) == plan


@pytest.mark.parametrize(
    "text",
    [
        *("rename", "rename#x:EIO", "rename#0:EIO", "frobnicate:EIO"),
        *("rename:EWHAT", "rename:eio", "rename:EIO@", "rename:"),
    ],
)
def test_malformed_plans_are_refused(text: str) -> None:
    with pytest.raises(PlanError):
        parse_plan(text)


def test_json_refuses_unknown_fields() -> None:
    with pytest.raises(CodecError, match="unknown"):
        from_data(FaultPlan, {"operation": "rename", "when": 3})


def test_matches_by_operation_and_glob_on_any_path() -> None:
    plan = FaultPlan(Operation.RENAME, 1, "EXDEV", "*/profiles/*")
    assert plan.matches(Operation.RENAME, ["/d/u/peek.db", "/d/u/profiles/default/x"])
    assert not plan.matches(Operation.RENAME, ["/d/u/peek.db", "/d/u/peek.db.bak"])
    assert not plan.matches(Operation.UNLINK, ["/d/u/profiles/default/x"])
    assert FaultPlan(Operation.RENAME).matches("rename", [])


def test_describe_says_what_fails_and_how() -> None:
    assert parse_plan("rename#3:EXDEV@*/p/*").describe() == (
        "the 3rd rename on a path matching */p/* fails with EXDEV (Invalid cross-device link)"
    )
    assert parse_plan("write#11:kill").describe() == (
        "the process is killed (SIGKILL) just before the 11th write"
    )


def test_errno_numbers_and_kill() -> None:
    assert parse_plan("rename:ENOSPC").errno == 28
    assert parse_plan("rename:kill").errno is None
    assert parse_plan("rename:kill").is_kill


def test_every_operation_has_effects_and_kill_is_always_one() -> None:
    for operation in Operation:
        effects = applicable_effects(operation)
        assert effects[-1] == KILL
        for effect in effects:
            FaultPlan(operation, 1, effect)  # each one is a valid plan
    assert "EXDEV" in applicable_effects(Operation.RENAME)
    assert "EXDEV" not in applicable_effects(Operation.WRITE)
