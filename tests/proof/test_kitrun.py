"""The proof runner's time limit: a child that overruns it is stopped as a person would stop
the kit (SIGTERM, so it can stop its own children), and nothing it started outlives it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.proof.kitrun import run_bounded

# A stand-in for the kit: starts a child of its own (strace, an xdist worker), notes that
# SIGTERM reached it, then exits without stopping that child (the worst case the group
# SIGKILL is for).
KIT = """
import signal, subprocess, sys, time
from pathlib import Path
marks = Path(sys.argv[1])
def stop(signum, frame):
    (marks / "terminated").write_text("yes")
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
child = subprocess.Popen(["sleep", "300"])
(marks / "child").write_text(str(child.pid))
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie awaiting its reaper does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_child_past_its_time_limit_is_terminated_then_its_group_killed(
    tmp_path: Path,
) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        run_bounded([sys.executable, "-c", KIT, str(tmp_path)], timeout=10, grace=5)
    assert (tmp_path / "terminated").is_file(), "SIGTERM did not reach the kit first"
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), f"the kit's child {child} outlived it"


def test_a_child_within_its_time_limit_is_run_as_subprocess_run() -> None:
    done = run_bounded([sys.executable, "-c", "print('out'); raise SystemExit(3)"], timeout=60)
    assert (done.returncode, done.stdout) == (3, "out\n")
