"""``migration-kit``'s one error boundary (``harness.cli.main.guard``): every error a command
raises becomes one line and the exit status it means, never a traceback for the kit's own."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from harness.cli.main import READER_GONE, guard
from harness.contract.errors import ExitStatus, InternalError, KitError
from harness.explore.exploration import ExploreError
from harness.explore.powerloss.model import ModelError
from harness.judge.verdict import RuleBroken
from harness.run.adapters import MigratorSpecError

ARGS = argparse.Namespace()


def raising(exc: BaseException):
    def handler(_args: argparse.Namespace) -> int:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (KitError("bad input"), ExitStatus.USAGE),
        (MigratorSpecError("bad spec"), ExitStatus.USAGE),
        (ExploreError("no such case"), ExitStatus.USAGE),
        (ModelError("not a directory"), ExitStatus.INTERNAL),
        (InternalError("the child died"), ExitStatus.INTERNAL),
        (KitError("a user needs a person", exit_status=ExitStatus.FINDINGS), ExitStatus.FINDINGS),
    ],
)
def test_a_kit_error_is_its_line_and_its_status(
    exc: KitError, status: ExitStatus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert guard(raising(exc), ARGS) == status
    assert capsys.readouterr().err == f"migration-kit: {exc}\n"


def test_a_broken_rule_means_findings() -> None:
    assert issubclass(RuleBroken, KitError) and issubclass(RuleBroken, AssertionError)
    assert RuleBroken.exit_status == ExitStatus.FINDINGS


def test_ctrl_c_is_130_and_a_bug_is_internal_not_findings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert guard(raising(KeyboardInterrupt()), ARGS) == 130
    assert capsys.readouterr().err == "migration-kit: interrupted\n"
    assert guard(raising(ZeroDivisionError("oops")), ARGS) == ExitStatus.INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith(
        "internal error (a bug in the kit): ZeroDivisionError('oops')\n"
    )


def test_an_unreadable_path_is_one_line_of_usage(capsys: pytest.CaptureFixture[str]) -> None:
    exc = PermissionError(13, "Permission denied", "/srv/data/system.db")
    assert guard(raising(exc), ARGS) == ExitStatus.USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("migration-kit: /srv/data/system.db: Permission denied;")


def test_a_reader_that_goes_away_stops_it_quietly() -> None:
    """``migration-kit ... | head -1``: no traceback, no 'Exception ignored' at exit."""
    child = (
        "import sys\n"
        "from harness.cli.main import guard\n"
        "def handler(args):\n"
        "    for n in range(200_000):\n"
        "        print(n)\n"
        "    return 0\n"
        "sys.exit(guard(handler, None))\n"
    )
    done = subprocess.run(
        f"{sys.executable} -c '{child}' | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        executable="/bin/bash",
    )
    assert done.stdout == "0\n"
    assert done.stderr == ""
    status = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{sys.executable} -c '{child}' | head -1 >/dev/null"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == READER_GONE
