"""The plugin as pytest runs it: --checklist-json, --large, --mk-seed, --migrator, markers,
the replay command and the terminal summary under xdist (a child pytest: ``kit_pytest``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.report.items import ALL_ITEMS

SMALL_AND_LARGE = ("--pyargs", "scenarios.test_01_small_db", "scenarios.test_02_large_db")
KEYS = {"migrator", "duration_s", "results", "sandbox"}  # sandbox: what protected the runs
RESULT_KEYS = {
    "nodeid",
    "outcome",
    "markers",
    "items",
    "rules_broken",
    "users",
    "seed",
    "replay",
    "message",
    "not_judged",  # keys added since the format was first documented; older files lack them
    "verdicts",
    "size",
    "output",
}


def test_checklist_json_has_the_documented_format(kit_pytest, tmp_path: Path) -> None:
    """A failing small scenario (cmd:true migrates nothing) and a skipped large one."""
    out, page = tmp_path / "results.json", tmp_path / "report.html"
    done = kit_pytest(
        *SMALL_AND_LARGE,
        "--migrator",
        "cmd:true",
        "--checklist-json",
        str(out),
        "--mk-html",
        str(page),
    )
    assert done.ret == 1
    html = page.read_text(encoding="utf-8")  # --mk-html: the same run as a page
    assert "distinct finding" in html and 'id="item-1"' in html
    data = json.loads(out.read_text())
    assert set(data) == KEYS
    assert data["migrator"] == "cmd:true"
    assert isinstance(data["duration_s"], float) and data["duration_s"] > 0
    by_test = {r["nodeid"].rsplit("::", 1)[-1]: r for r in data["results"]}
    assert all(set(r) == RESULT_KEYS for r in data["results"])

    small = by_test["test_small_users_are_migrated_whole"]
    assert small["outcome"] == "failed"
    assert (small["markers"], small["items"]) == (["small_db"], [1])
    assert small["rules_broken"] == ["R1"]
    assert set(small["users"]) == {"default", "alice", "bob", "erin"}
    assert small["seed"] == 0
    assert "R1 BROKEN for user alice" in small["message"]
    assert "--mk-seed 0" in small["replay"] and "--migrator cmd:true" in small["replay"]

    large = by_test["test_large_user_arrives_whole_in_bounded_memory"]
    assert large["outcome"] == "skipped"
    assert (large["markers"], large["items"]) == (["large_db", "large"], [2])
    assert "--large" in large["message"] and "--large" in large["replay"]
    assert large["rules_broken"] == [] and large["users"] == []


def test_replay_reruns_exactly_the_failed_scenario_from_anywhere(
    kit_pytest, tmp_path: Path, do_nothing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay line of a failure under a py: migrator found only through PYTHONPATH,
    with another seed, run by the shell from yet another directory, fails the same way."""
    out = tmp_path / "results.json"
    inherited = os.environ.get("PYTHONPATH")  # the kit under test, if not the installed one
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(do_nothing), inherited) if p))
    first = kit_pytest(
        "--pyargs",
        "scenarios.test_01_small_db",
        "--migrator",
        "py:donothing:migrate",
        "--mk-seed",
        "7",
        "--checklist-json",
        str(out),
    )
    assert first.ret == 1
    (result,) = json.loads(out.read_text())["results"]
    replay = result["replay"]
    # It starts where the migrator ran (a relative cmd: path means the same), then the
    # PYTHONPATH the migrator needs.
    assert replay.startswith("cd ") and f"&& PYTHONPATH={do_nothing}" in replay, replay
    assert "scenarios.test_01_small_db::test_small_users_are_migrated_whole" in replay
    assert "--mk-seed 7" in replay

    again = subprocess.run(
        replay, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    assert again.returncode == 1, again.stdout[-4000:]
    assert "1 failed" in again.stdout
    assert "R1 BROKEN for user alice" in again.stdout or "R1, user alice" in again.stdout
    assert '"seed": 7' in again.stdout  # the same trees: the spec printed carries the seed


def test_bad_migrator_spec_is_a_usage_error(kit_pytest) -> None:
    done = kit_pytest(*SMALL_AND_LARGE, "--migrator", "rm -rf /")
    assert done.ret == 4  # pytest's usage error
    stderr = done.stderr.str()
    assert "--migrator" in stderr and "py:package.module:function" in stderr


def test_every_checklist_item_has_a_registered_marker(kit_pytest) -> None:
    done = kit_pytest("--markers")
    assert done.ret == 0
    stdout = done.stdout.str()
    for item in ALL_ITEMS:
        assert f"@pytest.mark.{item.marker}: checklist item {item.number}," in stdout
    assert "@pytest.mark.large:" in stdout


def test_terminal_summary_prints_the_checklist_under_xdist(kit_pytest) -> None:
    """With -n 2 the reports reach the controller: item 1 failed with its rule and replay,
    item 2 skipped with the reason, items not selected not run."""
    done = kit_pytest(*SMALL_AND_LARGE, "--migrator", "cmd:true", "-n", "2")
    assert done.ret == 1
    lines = done.outlines
    start = next(i for i, line in enumerate(lines) if "server migration checklist" in line)
    summary = "\n".join(lines[start:])
    assert "[ ]  1. Test migration with small database (< 1MB)" in summary
    assert "FAILED: R1 (1 of 1 scenario)" in summary
    assert "replay: " in summary and "scenarios.test_01_small_db::" in summary
    assert "[-]  2. Test migration with large database (> 100MB)" in summary
    assert "skipped: a > 100 MB tree: run with --large" in summary
    assert "[ ]  5. Test dry-run mode" in summary and "not run" in summary
    assert "FAILED: item(s) 1 broken" in summary
