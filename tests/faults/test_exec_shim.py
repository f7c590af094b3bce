"""The exec shim that aims a fault at one child of many (harness.faults.exec_shim)."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from harness.faults.exec_shim import (
    ExecTarget,
    ShimUnavailable,
    _calibrate,
    exec_target,
    make_shim,
)
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
def test_the_shims_own_count_does_not_depend_on_the_place_in_the_queue(tmp_path: Path) -> None:
    """One calibration serves every child (calibrate's cache has no place in its key): the
    queue is walked in a subshell, so the k-th child's count is the same for every k."""
    if not Path("/usr/bin/sync").exists():
        pytest.skip("no /usr/bin/sync")
    overheads = {
        k: _calibrate(ExecTarget("/usr/bin/sync", k, 1, 10), "openat", tmp_path / str(k))
        for k in (1, 2, 7)
    }
    assert len(set(overheads.values())) == 1 and overheads[1] >= 10, overheads


@pytest.mark.parametrize("occurrence", [1, 2, 3])
@pytest.mark.usefixtures("strace_backend")
def test_the_shim_runs_the_program_and_puts_the_kth_child_ahead(
    tmp_path: Path, occurrence: int
) -> None:
    child = ExecTarget("/usr/bin/sync", occurrence=occurrence, calls=1, dummies=10)
    env = {"PATH": "/usr/bin:/bin"}
    if not Path(child.program).exists():
        pytest.skip("no /usr/bin/sync")
    shim = make_shim(child, "fsync", env, tmp_path / "shim")
    assert shim.overhead >= child.dummies  # the calibration saw the dummy calls
    (tmp_path / "f").write_text("x")
    trace = tmp_path / "trace"
    script = 'sync "$1" && sync "$1" && sync "$1" && echo ran'
    done = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=fsync",
         "sh", "-c", script, "sh", str(tmp_path / "f")],
        env=shim.env(env), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == "ran", done.stderr
    assert len(os.listdir(tmp_path / "shim" / "tickets")) == 3  # every child met the shim
    events = parse_events(trace.read_text()).events
    per_child = Counter(e.tid for e in events)  # in the order the children ran
    ahead = [n > child.dummies for n in per_child.values()]
    assert ahead == [k == occurrence for k in (1, 2, 3)], per_child  # the k-th alone ran ahead


def test_a_program_path_does_not_find_is_refused(tmp_path: Path) -> None:
    child = ExecTarget("/opt/elsewhere/sync", occurrence=1, calls=1, dummies=10)
    with pytest.raises(ShimUnavailable, match="not found on PATH"):
        make_shim(child, "fsync", {"PATH": "/usr/bin:/bin"}, tmp_path / "shim")
