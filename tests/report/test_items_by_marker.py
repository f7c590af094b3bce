"""A scenario counts under a checklist item by its marker, never by a word in its test id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TESTS = '''
import pytest


@pytest.mark.parametrize("variant", ["hostile", "dry_run"])
def test_named_like_an_item(variant):
    """Its ids are item markers' names, but it carries no marker: it is no scenario."""


@pytest.mark.dry_run
def test_a_real_dry_run_scenario():
    pass
'''


def test_parametrize_ids_that_look_like_markers_count_for_nothing(tmp_path: Path) -> None:
    """A test whose id is ``[hostile]`` made the summary print "[x] 12 ... passed": a gate
    that claims items nobody checked is worse than no gate."""
    (tmp_path / "test_lookalike.py").write_text(TESTS)
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--checklist-json",
            str(out),
            "test_lookalike.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["nodeid"]: r for r in json.loads(out.read_text())["results"]}
    assert results["test_lookalike.py::test_named_like_an_item[hostile]"]["markers"] == []
    assert results["test_lookalike.py::test_named_like_an_item[dry_run]"]["markers"] == []
    assert results["test_lookalike.py::test_a_real_dry_run_scenario"]["markers"] == ["dry_run"]
