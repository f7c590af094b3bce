"""``migration-kit checklist`` in CI: JUnit XML whose failures say rule, user and replay, and
in GitHub Actions a job summary and annotations, worst first.

One real run of a migrator that does nothing (item 1 fails: R1, users not migrated), with a
fake ``$GITHUB_STEP_SUMMARY``; the assertions read what a CI system would read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.childrun import checklist_argv, run


def test_junit_xml_and_github_output(do_nothing: Path, tmp_path: Path) -> None:
    junit, summary = tmp_path / "out" / "junit.xml", tmp_path / "summary.md"
    summary.write_text("an earlier step's summary\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    argv = checklist_argv("--migrator", "py:donothing:migrate", "-m", "small_db", "-n", "0")
    done = run([*argv, "--junitxml", str(junit)], cwd=do_nothing, env=env)
    assert done.returncode == 1, done

    # JUnit XML: the failure's message opens with the rule and the user, and holds the
    # command that replays exactly this scenario.
    failures = [
        (case.get("name"), failure)
        for case in ET.parse(junit).getroot().iter("testcase")
        for failure in case.iter("failure")
    ]
    assert len(failures) == 1, done
    name, failure = failures[0]
    message = failure.get("message")
    assert name.startswith("test_"), name
    first = message.split("\n", 1)[0]
    assert "R1 broken for user " in first, message
    assert "replay: " in message and "--pyargs scenarios.test_01_small_db::" in message
    assert "--migrator py:donothing:migrate" in message
    assert f"PYTHONPATH={do_nothing}" in message  # the replay works from anywhere

    # The job summary: appended, opening with the distinct findings, under the limit.
    text = summary.read_text()
    assert text.startswith("an earlier step's summary\n# migration-kit checklist\n\n**FAILED: ")
    body = text.split("\n", 1)[1]
    assert body.split("\n## ", 1)[1].startswith("5 distinct findings")
    assert body.index("distinct findings") < body.index("## Checklist items")
    assert len(text.encode()) < 1024 * 1024

    # Annotations: one per finding (at most 10), the most severe first, as the terminal
    # lists them.
    notes = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert 1 <= len(notes) <= 10
    assert notes[0].startswith("::error title=migration-kit finding 1 of 5%3A R1%3A not created")
    assert "replay: " in notes[0]


def test_no_github_output_outside_github_actions(do_nothing: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    argv = checklist_argv("--migrator", "py:donothing:migrate", "-m", "dry_run", "-n", "0")
    done = run(argv, cwd=do_nothing, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode in (0, 1), done
    assert "::error" not in done.stdout and not summary.exists()
