"""``migration-kit bench`` ends with one line per target of issue 16, each saying "met",
"MISSED" or "not measured" and why. Timings are never asserted: the run here is
``--tiny`` (toy sizes, whose figures mean nothing), and only the lines are checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bench.common import Figure
from bench.targets import TARGETS, summary_lines

REPO = Path(__file__).resolve().parents[2]


def _verdicts(lines: list[str]) -> dict[str, str]:
    """target text -> its verdict cell, from the summary table's rows."""
    texts = {t.text for t in TARGETS}
    found = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in texts:
            found[cells[0]] = cells[-1]
    return found


def test_summary_has_every_target_and_judges_the_measured_ones() -> None:
    table = [
        Figure("x", "x", [1.2], target=1.0, goal="large-floor"),
        Figure("rate", "cases/s", [20.0], target=15.0, lower=True, goal="explore-rate"),
        Figure("node", "x", target=2.0, note="not measured: node missing", goal="many-node"),
    ]
    verdicts = _verdicts(summary_lines(table))
    assert set(verdicts) == {t.text for t in TARGETS}
    by_key = {t.key: verdicts[t.text] for t in TARGETS}
    assert by_key["large-floor"] == "MISSED"
    assert by_key["explore-rate"] == "met"
    assert by_key["many-node"] == "not measured: node missing"
    assert by_key["explore-30"].startswith("not measured: run --full")


def test_tiny_bench_prints_every_target_line() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "bench", "--tiny"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = done.stdout.split("# targets (issue 16)", 1)[1].splitlines()
    verdicts = _verdicts(summary)
    assert set(verdicts) == {t.text for t in TARGETS}
    for text, verdict in verdicts.items():
        assert re.match(r"(met|MISSED|not measured: )", verdict), (text, verdict)
    measured = {"large-floor", "large-rss", "many-ms", "startup-help", "startup-status"}
    measured.add("fixture-build")
    for target in TARGETS:
        if target.key in measured:
            assert re.match(r"(met|MISSED)\b", verdicts[target.text]), target
