"""``migration-kit explore --power-loss`` as a person runs it: the replay line a failing case
prints, run from another directory, judges exactly that case again; bad input is exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.explore.exploration import Exploration
from harness.explore.powerloss.baseline import power_baseline
from harness.explore.powerloss.explorer import EFFECTS, PowerLoss
from harness.explore.powerloss.image import SYNCED
from harness.faults.plan import Operation
from tests.explore.powerloss.test_broken_migrators import NEW_DB, TREE, op_index

RENAME_FIRST = "py:tests.explore.powerloss.broken_rename_before_fsync:migrate"


def test_the_replay_line_of_a_case_judges_it_again(strace_backend: None, tmp_path: Path) -> None:
    exploration = Exploration(migrator=RENAME_FIRST, tree=TREE)
    power = PowerLoss(power_baseline(exploration))
    case_id = f"{op_index(exploration, Operation.FSYNC, NEW_DB)}:{EFFECTS[SYNCED]}"
    line = power.replay(case_id)
    assert "migration-kit explore --power-loss" in line and line.endswith(f"--case {case_id}")
    page = tmp_path / "power.html"
    done = subprocess.run(
        f"{line} --html {page}",
        shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stderr
    assert f"case {case_id}: power cut just before #" in done.stdout
    assert f"{NEW_DB}: never fsynced: empty on disk" in done.stdout
    assert "1 case(s), judged 1 of 1: 0 ok, 1 broke a rule" in done.stdout
    # --html: the page, its timeline drawn from the recorded run (up to the end point)
    # and the case coloured in it.
    text = page.read_text(encoding="utf-8")
    assert "<h1>Power-loss exploration</h1>" in text
    assert " end</title>" in text  # the crash point after the last operation
    anchor = "case-" + case_id.replace(":", "-")
    assert f'<a href="#{anchor}"><circle class="lost"' in text and f'id="{anchor}"' in text


def test_a_case_that_is_no_crash_point_is_a_usage_error(strace_backend: None) -> None:
    done = subprocess.run(
        ["migration-kit", "explore", "--power-loss", "--case", "0:power-loss-sometimes"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "the effect must be one of power-loss-synced, power-loss-committed" in done.stderr


def test_a_kind_the_profile_leaves_out_is_a_usage_error_naming_the_profile(
    strace_backend: None,
) -> None:
    argv = ["migration-kit", "explore", "--power-loss", "--fs", "ext4-ordered"]
    done = subprocess.run(
        [*argv, "--case", "0:power-loss-reordered"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "--fs ext4-ordered leaves no reordered crash state" in done.stderr
