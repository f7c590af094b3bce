"""The in-process backend: the same plans mean the same operations as at the syscall level."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from harness.faults import inprocess
from harness.faults.inprocess import SimulatedCrash, call_with_fault
from harness.faults.plan import parse_plan
from harness.faults.trace import record as strace_record
from tests.faults import fault_workload
from tests.faults.fault_workload import PLAN_CASES, failures


def run_workload(root: Path) -> list[list[object]]:
    """The workload in this process, in ``root`` (which must exist)."""
    lines: list[list[object]] = []
    cwd = os.getcwd()
    try:
        fault_workload.run(str(root), lines.append)
    finally:
        os.chdir(cwd)
    return lines


@pytest.mark.parametrize(("plan_text", "failed"), PLAN_CASES)
def test_workload_sees_exactly_the_planned_errno_at_the_nth_operation(
    tmp_path: Path, plan_text: str, failed: list[object]
) -> None:
    with inprocess.inject(parse_plan(plan_text)) as fault:
        lines = run_workload(tmp_path)
    assert failures(lines) == [failed]
    assert fault.fired is not None and fault.fired.operation == failed[0]


def test_the_raised_error_is_the_one_the_real_call_raises(tmp_path: Path) -> None:
    with inprocess.inject(parse_plan("mkdir#1:EACCES")), pytest.raises(PermissionError) as exc:
        os.mkdir(tmp_path / "d")
    assert exc.value.errno == errno.EACCES and exc.value.filename == tmp_path / "d"
    with inprocess.inject(parse_plan("rename#1:EXDEV")), pytest.raises(OSError) as exc:
        os.replace(tmp_path / "a", "b")
    assert (exc.value.errno, exc.value.filename2) == (errno.EXDEV, "b")


# Python code whose file operations go through open(), shutil and os.replace: buffered
# writes, a sendfile copy with copystat's utime and chmod, an atomic replace.
COPY_SCRIPT = """
import os, shutil, sys
os.chdir(sys.argv[1])
with open("a", "w") as f:
    f.write("x" * 100_000)
shutil.copy2("a", "b")
os.replace("b", "c")
"""


def run_copy_script(root: Path) -> None:
    """COPY_SCRIPT in this process, as the child would run it."""
    cwd, argv = os.getcwd(), sys.argv
    sys.argv = ["-c", str(root)]
    try:
        exec(COPY_SCRIPT, {})
    finally:
        os.chdir(cwd)
        sys.argv = argv


IN_PROCESS = {"workload": run_workload, "copy": run_copy_script}


@pytest.mark.usefixtures("strace_backend")
@pytest.mark.parametrize("script", ["workload", "copy"])
def test_record_lists_the_same_operations_as_strace(tmp_path: Path, script: str) -> None:
    """One vocabulary: the in-process recorder and strace agree op for op."""
    child = [fault_workload.__file__] if script == "workload" else ["-c", COPY_SCRIPT]
    (tmp_path / "s").mkdir()
    (tmp_path / "p").mkdir()
    traced = strace_record([sys.executable, *child, str(tmp_path / "s")]).trace.ops
    with inprocess.record() as recording:
        IN_PROCESS[script](tmp_path / "p")
    in_process = [(op.operation, op.paths) for op in recording.ops]
    moved = (str(tmp_path / "s"), str(tmp_path / "p"))
    rebased = [(op.operation, tuple(p.replace(*moved) for p in op.paths)) for op in traced]
    assert in_process == rebased
    assert {op.operation.value for op in recording.ops} >= {"open_write", "write", "rename"}


def test_a_simulated_kill_bypasses_except_exception_and_blocks_cleanup(tmp_path: Path) -> None:
    """``finally`` still runs (unlike SIGKILL), but cannot touch files any more."""
    (tmp_path / "a").write_text("a")
    cleanup_errors: list[BaseException] = []

    def migrate() -> None:
        try:
            os.rename(tmp_path / "a", tmp_path / "b")
        except Exception:  # a migrator's catch-all must not survive a kill
            pytest.fail("SimulatedCrash was caught by except Exception")
        finally:
            try:
                os.unlink(tmp_path / "a")
            except BaseException as exc:
                cleanup_errors.append(exc)

    outcome = call_with_fault(parse_plan("rename#1:kill"), migrate)
    assert outcome.crashed and outcome.fault.fired is not None
    assert [type(e) for e in cleanup_errors] == [SimulatedCrash]
    assert (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_unflushed_buffers_are_lost_in_a_simulated_kill(tmp_path: Path) -> None:
    def migrate() -> None:
        with open(tmp_path / "f", "w") as f:
            f.write("buffered")
            os.mkdir(tmp_path / "d")  # killed here, with "buffered" not yet written

    outcome = call_with_fault(parse_plan("mkdir#1:kill"), migrate)
    assert outcome.crashed
    assert (tmp_path / "f").read_text() == ""


def test_sqlite3_is_not_seen_in_process(tmp_path: Path) -> None:
    """The documented limit: SQLite's C code writes without calling os.*."""
    with inprocess.record() as recording:
        db = sqlite3.connect(tmp_path / "db.sqlite")
        db.execute("CREATE TABLE t (x)")
        db.commit()
        db.close()
    assert (tmp_path / "db.sqlite").stat().st_size > 0
    assert recording.ops == []


def test_patches_are_undone_and_blocks_do_not_nest(tmp_path: Path) -> None:
    real_rename, real_open = os.rename, open
    with inprocess.record():
        assert os.rename is not real_rename
        with pytest.raises(RuntimeError, match="already active"), inprocess.record():
            pass
    assert os.rename is real_rename and open is real_open
    shutil.copy2(__file__, tmp_path / "copy")  # works normally afterwards
