"""``migration-kit``'s start-up: a command that needs neither pytest nor Hypothesis does not
import them (they cost most of a second; ``migration-kit bench``'s 'startup' section has the
timings, which are never asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pytest", "_pytest", "hypothesis")

# Run in a fresh interpreter: this one has pytest loaded already.
CHILD = """
import contextlib, io, json, sys
import harness.cli.main as cli
parser = cli.build_parser()
argv = sys.argv[1:]
if argv:
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(io.StringIO()):
        cli.guard(args.handler, args)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def heavy_modules_after(*argv: str) -> list[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(heavy=set(HEAVY)), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_building_the_parser_imports_neither_pytest_nor_hypothesis() -> None:
    assert heavy_modules_after() == []


@pytest.mark.parametrize("command", ["status", "plan"])
def test_reading_a_data_dir_imports_neither(command: str, tmp_path: Path) -> None:
    assert heavy_modules_after(command, str(tmp_path)) == []
