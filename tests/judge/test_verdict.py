"""A broken rule reads as a report: titled blocks a person can act on."""

from __future__ import annotations

import pytest

from harness.judge.verdict import RULES, RuleBroken, Verdict, raise_if_broken

LOST = Verdict("R1", "alice", False, "new DB with the old content", "rows missing: items 3")
HELD = Verdict("R1", "bob", True, "new DB with the old content", "same content")


def test_rule_broken_carries_titled_blocks():
    error = RuleBroken(
        [LOST, HELD],
        diff="user alice:\n  rows missing: items 3",
        output="migrated alice\n",
        seed=42,
        replay="cd /x && env DATA_DIR=/t python -m harness.run.pyrunner m:f",
    )
    text = str(error)
    titles = [title for title, _ in error.blocks]
    assert titles == [
        "Rule broken",
        "R1, user alice",
        "What changed on disk",
        "Migrator output",
        "Replay",
    ]
    assert RULES["R1"][1] in text  # SPEC's own words
    assert "found:    rows missing: items 3" in text
    assert "seed: 42" in text and "replay: cd /x" in text
    assert "bob" not in text  # verdicts that held are not failures
    assert error.rules == ("R1",)
    assert isinstance(error, AssertionError)


def test_long_output_keeps_its_tail():
    output = "noise\n" * 2000 + "ERROR alice: disk full\n"
    text = str(RuleBroken([LOST], output=output))
    assert "ERROR alice: disk full" in text
    assert "characters before" in text
    assert len(text) < len(output)


def test_raise_if_broken_only_raises_for_failures():
    raise_if_broken([HELD])
    with pytest.raises(RuleBroken, match="R1, user alice"):
        raise_if_broken([HELD, LOST], context=[("Tree spec", "{}")])


def test_rule_broken_needs_a_failure():
    with pytest.raises(ValueError):
        RuleBroken([HELD])


def test_every_oracle_rule_has_spec_text():
    assert {f"R{n}" for n in range(1, 18)} <= RULES.keys()
