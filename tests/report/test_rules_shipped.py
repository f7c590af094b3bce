"""SPEC's rules travel with the kit: the package data holds them, ``migration-kit rules``
prints them, and the verdicts quote the same words."""

from __future__ import annotations

import pytest

from harness.cli.main import main
from harness.contract import rules
from harness.judge.verdict import RULES


def test_the_shipped_table_has_every_rule() -> None:
    assert list(rules.table()) == [f"R{n}" for n in range(1, 19)]
    assert rules.table()["R6"] == ("no peek.db", "nothing created for that user (no backup)")
    assert RULES["R8"] == rules.table()["R8"]
    assert rules.section("How any migrator is run").startswith("## How any migrator is run")


def test_rules_command_prints_one_rule_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "r8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "R8: disk nearly full\n  a correct migrator leaves: users that do not fit"
    )
    assert main(["rules", "R10"]) == 0
    assert '"No content lost at any moment" means' in capsys.readouterr().out
    assert main(["rules"]) == 0
    assert "| R17 | power loss" in capsys.readouterr().out


def test_rules_command_refuses_an_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "R99"]) == 2
    assert "no rule R99" in capsys.readouterr().err
