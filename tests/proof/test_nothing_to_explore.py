"""A migrator that changes nothing (``cmd:true``) is not judged by the fault exploration:
item 14 reads "not judged" (never "passed") and ``migration-kit checklist`` exits 1."""

from __future__ import annotations

import pytest

from tests.proof.kitrun import run_kit

pytestmark = pytest.mark.proof


def test_an_exploration_with_nothing_to_explore_is_not_judged() -> None:
    argv = ["checklist", "--migrator", "cmd:true"]
    argv += ["-m", "faults", "-k", "test_fault_free_run or test_fault_case", "-n", "0"]
    done = run_kit(*argv)
    out = done.stdout + done.stderr
    if "fault backend unavailable" in out:
        pytest.skip("no syscall fault backend here")
    assert "[?] 14. Every single fault at every file operation" in out, out[-3000:]
    assert "NOT JUDGED: the fault-free run changed nothing in the tree" in out
    assert "NOT JUDGED: item(s) 14 judged nothing (not a pass)" in out
    assert done.returncode == 1, out[-3000:]


@pytest.mark.parametrize("power_loss", [False, True], ids=["faults", "power-loss"])
def test_explore_says_not_judged_instead_of_zero_cases_ok(power_loss: bool) -> None:
    argv = ["explore", "--migrator", "cmd:true"]
    done = run_kit(*argv, *(["--power-loss"] if power_loss else []))
    out = done.stdout + done.stderr
    if "unavailable" in out:
        pytest.skip("no syscall fault backend here")
    assert "NOT JUDGED: the fault-free run changed nothing in the tree" in out, out[-3000:]
    assert done.returncode == 1
