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


# What ``status DIR`` has no use for: the other command modules' options (fixture specs, the
# rules' texts), project configuration and layout files (TOML), the serve: launcher.
NOT_FOR_STATUS = ("fixtures.spec", "harness.judge.verdict", "tomllib", "harness.run.serve")

MAIN_CHILD = """
import contextlib, io, json, sys
import harness.cli.main as cli
with contextlib.redirect_stdout(io.StringIO()):
    cli.main(sys.argv[1:])
print(json.dumps(sorted(m for m in {names!r} if m in sys.modules)))
"""


def test_status_registers_only_the_commands_up_to_its_own(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", MAIN_CHILD.format(names=NOT_FOR_STATUS), "status", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [], done.stderr


def test_a_command_still_sees_every_command_in_its_errors(capsys) -> None:
    import harness.cli.main as cli

    with pytest.raises(SystemExit):
        cli.main(["no-such-command"])
    assert "'bench'" in capsys.readouterr().err  # the last module's command is offered
