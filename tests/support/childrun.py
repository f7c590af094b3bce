"""Running ``migration-kit`` as a child process, as a person would.

Every test of the checklist command runs a real child, because what is under test is exactly
what a person runs: options, exit statuses, the JSON, the terminal summary and the replay
commands (which must work from another directory). The plugin's tests run their child pytest
through ``pytester`` (``tests/pytest_plugin/conftest.py``) with the same time limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 600

DO_NOTHING = '''
"""A migrator that does nothing: every legacy user stays legacy (R1 broken)."""


def migrate(data_dir, *, dry_run=False):
    print(f"looked at {data_dir} and did nothing")
'''


@dataclass(frozen=True, repr=False)
class Done:
    """A finished child process."""

    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        out, err = self.stdout[-6000:], self.stderr[-3000:]
        return f"exit {self.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"

    __repr__ = __str__  # what pytest shows for ``assert ..., done``


def run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Done:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    full.update(env or {})
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=full,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return Done(proc.returncode, proc.stdout, proc.stderr)


def checklist_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli.main", "checklist", *args]


def signal_when(
    proc: subprocess.Popen[str], ready: Callable[[], bool], sig: int, *, what: str
) -> tuple[str | None, str | None]:
    """Wait (up to two minutes) until ``ready()`` while ``proc`` still runs, send it ``sig``,
    and return its output; a child left running at the end is killed, so a failed test
    leaves no process behind."""
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"the {what} never started"
            time.sleep(0.05)
        proc.send_signal(sig)
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
