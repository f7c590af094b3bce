"""The exec shim that aims an errno at one child of many (harness.faults.exec_shim)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.faults.exec_shim import ExecTarget, ShimUnavailable, exec_target, make_shim
from harness.faults.straceout import parse_events

# Three sync children, each one fsync: the second is the target.
TRACE = """\
100 execve("/bin/sh", [...], 0x1 /* 3 vars */) = 0
101 execve("/usr/bin/sync", [...], 0x1 /* 3 vars */) = 0
101 fsync(3</d/a>) = 0
102 execve("/usr/bin/sync", [...], 0x1 /* 3 vars */) = 0
102 fsync(3</d/b>) = 0
103 execve("/usr/bin/sync", [...], 0x1 /* 3 vars */) = 0
103 fsync(3</d/c>) = 0
"""


def test_the_target_is_the_kth_child_that_runs_its_program() -> None:
    events = parse_events(TRACE).events
    target = next(e for e in events if e.name == "fsync" and e.tid == 102)
    child = exec_target(events, target)
    assert child is not None
    assert (child.program, child.occurrence, child.calls) == ("/usr/bin/sync", 2, 1)
    assert child.dummies > 1  # more than any other thread's count of fsync


def test_a_call_of_the_command_itself_has_no_child_to_single_out() -> None:
    events = parse_events('100 execve("/bin/sh", [...], 0x1) = 0\n100 fsync(3</d/a>) = 0\n').events
    assert exec_target(events, events[1]) is None


@pytest.mark.usefixtures("strace_backend")
def test_the_shim_runs_the_program_and_puts_the_kth_child_ahead(tmp_path: Path) -> None:
    child = ExecTarget("/usr/bin/sync", occurrence=2, calls=1, dummies=10)
    env = {"PATH": "/usr/bin:/bin"}
    if not Path(child.program).exists():
        pytest.skip("no /usr/bin/sync")
    shim = make_shim(child, "fsync", env, tmp_path / "shim")
    assert shim.overhead >= child.dummies  # the calibration saw the dummy calls
    (tmp_path / "f").write_text("x")
    done = subprocess.run(
        ["sh", "-c", 'sync "$1" && sync "$1" && echo ran', "sh", str(tmp_path / "f")],
        env=shim.env(env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "ran", done.stderr
    assert len(os.listdir(tmp_path / "shim" / "tickets")) == 2  # both children met the shim


def test_a_program_path_does_not_find_is_refused(tmp_path: Path) -> None:
    child = ExecTarget("/opt/elsewhere/sync", occurrence=1, calls=1, dummies=10)
    with pytest.raises(ShimUnavailable, match="not found on PATH"):
        make_shim(child, "fsync", {"PATH": "/usr/bin:/bin"}, tmp_path / "shim")
