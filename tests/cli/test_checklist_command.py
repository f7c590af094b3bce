"""``migration-kit checklist`` as a CI gate: its exit statuses, its checklist, its report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.childrun import checklist_argv, run

SMALL = ("-m", "small_db", "-n", "0")


def test_reference_passes_a_subset_exit_0(elsewhere: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    done = run(checklist_argv(*SMALL, "--report", str(report)), cwd=elsewhere)
    assert done.returncode == 0, done
    assert "[x]  1. Test migration with small database (< 1MB)" in done.stdout
    # A partial run says how much of the checklist did not run.
    assert "PASSED: 1 checklist item ran and passed; 9 not run (of 10), none fails" in done.stdout
    text = report.read_text()
    assert text.startswith("# Server migration checklist")
    assert "- Result: **PASSED**" in text
    assert "| 1 | Test migration with small database (< 1MB) | passed (1 scenario) |  |" in text


def test_broken_migrator_fails_exit_1_with_rules_and_replays(
    do_nothing: Path, tmp_path: Path
) -> None:
    """A py: migrator importable only from the current directory: the checklist finds it,
    its child pytest does, and the report's replay carries the PYTHONPATH it needs."""
    report, results = tmp_path / "report.md", tmp_path / "results.json"
    page = tmp_path / "report.html"
    done = run(
        checklist_argv(
            "--migrator",
            "py:donothing:migrate",
            *SMALL,
            "--html",
            str(page),
            "--report",
            str(report),
            "--json",
            str(results),
        ),
        cwd=do_nothing,
    )
    assert done.returncode == 1, done
    assert "[ ]  1. Test migration with small database (< 1MB)" in done.stdout
    assert "FAILED: R1 (1 of 1 scenario)" in done.stdout
    assert "FAILED: item(s) 1 broken; 5 distinct findings" in done.stdout
    # The terminal opens with the findings, before the checklist; a migrator that does
    # nothing has lost nothing: its users are not migrated, their images left behind.
    assert done.stdout.index("distinct findings") < done.stdout.index("Testing Checklist:")
    assert "  1. R1: not created: new DB and backup\n" in done.stdout
    assert "  2. R1: images left behind\n" in done.stdout
    text = report.read_text()
    assert text.split("\n## ", 2)[1].startswith("5 distinct findings")
    assert "- Result: **FAILED**" in text
    assert "R1 (legacy user): new DB with the old content" in text
    assert f"PYTHONPATH={do_nothing}" in text and "--migrator py:donothing:migrate" in text
    (result,) = json.loads(results.read_text())["results"]
    assert result["outcome"] == "failed" and result["rules_broken"] == ["R1"]
    html = page.read_text(encoding="utf-8")  # --html: the same findings, in the same order
    assert html.index("5 distinct findings") < html.index("R1: not created: new DB and backup")
    assert html.index("R1: not created") < html.index("R1: images left behind")
    assert f"html report: {page}" in done.stdout


def test_bad_migrator_spec_exit_2(elsewhere: Path) -> None:
    for spec in ("node migrate.js", "py:no_such_module_here:migrate", "cmd:"):
        done = run(checklist_argv("--migrator", spec), cwd=elsewhere)
        assert done.returncode == 2, (spec, done)
        assert done.stderr.startswith("migration-kit:"), done
        assert "expected 'py:package.module:function', 'cmd:<shell command>'" in done.stderr
        assert "Traceback" not in done.stderr


def test_selection_matching_nothing_exit_2(elsewhere: Path) -> None:
    done = run(checklist_argv("-k", "no_scenario_is_called_this", "-n", "0"), cwd=elsewhere)
    assert done.returncode == 2, done
    assert "no scenario selected (-k 'no_scenario_is_called_this')" in done.stderr


def test_bad_worker_count_exit_2(elsewhere: Path) -> None:
    done = run(checklist_argv("-n", "many"), cwd=elsewhere)
    assert done.returncode == 2, done
    assert "'many' is not a number of workers or 'auto'" in done.stderr
