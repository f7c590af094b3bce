"""The syscall backend on real processes: each sees exactly the planned errno at the Nth op.

Every test records a fault-free run first and injects into a fresh copy of the same tree,
which is how exploration uses the backend. Programs: a Python child, ``mv``, a shell running
several ``mv`` processes, the ``sqlite3`` CLI and ``node``.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.faults.injection import InjectedRun, compile_injection, inject
from harness.faults.plan import parse_plan
from harness.faults.strace import TracedRun
from harness.faults.trace import RecordedRun, Trace, TraceOp, record, trace_from_strace
from harness.store.codec import to_data
from tests.faults import fault_workload
from tests.faults.fault_workload import PLAN_CASES, failures, report_lines

pytestmark = pytest.mark.usefixtures("strace_backend")

WORKLOAD = fault_workload.__file__
Setup = Callable[[Path], None]


def fresh(directory: Path, setup: Setup | None = None) -> Path:
    """An empty (or ``setup``-populated) directory, recreated for each run."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    if setup:
        setup(directory)
    return directory


def record_then_inject(
    command: list[str], plan_text: str, tree: Path, setup: Setup
) -> tuple[RecordedRun, InjectedRun]:
    """Record ``command`` on a fresh tree, then inject ``plan_text`` on another fresh one."""
    recorded = record(command, cwd=fresh(tree, setup))
    result = inject(command, parse_plan(plan_text), recorded.trace, cwd=fresh(tree, setup))
    return recorded, result


@pytest.fixture(scope="module")
def workload_trace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Trace]:
    root = fresh(tmp_path_factory.mktemp("workload") / "tree")
    recorded = record([sys.executable, WORKLOAD, str(root)])
    assert recorded.run.returncode == 0, recorded.run.stderr
    assert failures(report_lines(recorded.run.stdout)) == []
    return root, recorded.trace


def test_record_lists_the_workloads_file_operations_with_absolute_paths(
    workload_trace: tuple[Path, Trace],
) -> None:
    root, trace = workload_trace
    ops = [(op.operation.value, op.paths) for op in trace.ops]
    r = str(root)
    per_round = [
        [
            ("open_write", (f"{r}/f{i}.tmp",)),
            ("write", (f"{r}/f{i}.tmp",)),
            ("fsync", (f"{r}/f{i}.tmp",)),
            ("rename", (f"{r}/f{i}.tmp", f"{r}/f{i}")),
        ]
        for i in range(3)
    ]
    tail = [("mkdir", (f"{r}/d",)), ("rmdir", (f"{r}/d",)), ("unlink", (f"{r}/f0",))]
    assert ops == [*per_round[0], *per_round[1], *per_round[2], *tail, ("fsync", (r,))]
    writes = [op for op in trace.ops if op.operation == "write"]
    assert [(w.offset, w.length) for w in writes] == [(None, 6)] * 3  # lseek not traced


def test_a_recording_with_positions_lists_the_same_operations_and_knows_write_offsets(
    workload_trace: tuple[Path, Trace],
) -> None:
    root, trace = workload_trace
    replayable = record([sys.executable, WORKLOAD, str(fresh(root))], positions=True).trace
    assert (trace.positions, replayable.positions) == (False, True)
    assert any(e.name == "lseek" for e in replayable.events)
    assert not any(e.name == "lseek" for e in trace.events)

    def comparable(op: TraceOp) -> dict:
        return {**to_data(op), "pid": None, "event": None, "offset": None}

    assert [comparable(op) for op in replayable.ops] == [comparable(op) for op in trace.ops]
    writes = [op for op in replayable.ops if op.operation == "write"]
    assert [(w.offset, w.length) for w in writes] == [(0, 6)] * 3


@pytest.mark.parametrize(("plan_text", "failed"), PLAN_CASES)
def test_workload_sees_exactly_the_planned_errno_at_the_nth_operation(
    workload_trace: tuple[Path, Trace], plan_text: str, failed: list[object]
) -> None:
    root, trace = workload_trace
    fresh(root)
    result = inject([sys.executable, WORKLOAD, str(root)], parse_plan(plan_text), trace)
    assert result.landed, result.hits
    assert failures(report_lines(result.run.stdout)) == [failed]


def test_kill_stops_the_process_just_before_the_operation(
    workload_trace: tuple[Path, Trace],
) -> None:
    root, trace = workload_trace
    fresh(root)
    result = inject([sys.executable, WORKLOAD, str(root)], parse_plan("rename#2:kill"), trace)
    assert result.killed and result.landed
    assert result.returncode == -9
    assert report_lines(result.run.stdout)[-1] == ["fsync", 2, None]  # nothing after
    assert sorted(p.name for p in root.iterdir()) == ["f0", "f1.tmp"]  # rename 2 never ran


def test_a_plan_beyond_the_recorded_run_runs_without_a_fault(
    workload_trace: tuple[Path, Trace],
) -> None:
    root, trace = workload_trace
    fresh(root)
    result = inject([sys.executable, WORKLOAD, str(root)], parse_plan("rename#4:EIO"), trace)
    assert not result.reached and not result.hits
    assert result.returncode == 0
    assert failures(report_lines(result.run.stdout)) == []


def test_a_tree_rebuilt_elsewhere_is_injected_through_moved(
    workload_trace: tuple[Path, Trace], tmp_path: Path
) -> None:
    old_root, trace = workload_trace
    root = fresh(tmp_path / "elsewhere")
    result = inject(
        [sys.executable, WORKLOAD, str(root)],
        parse_plan("rename#3:EACCES"),
        trace,
        moved={str(old_root): str(root)},
    )
    assert result.landed
    assert failures(report_lines(result.run.stdout)) == [["rename", 3, "EACCES"]]


def test_kill_takes_the_whole_process_group_with_it(tmp_path: Path) -> None:
    """The child doing the rename dies, and so does its parent: it never writes 'after'."""
    parent = (
        "import os, subprocess, sys\n"
        'child = \'import os; os.rename("a", "b")\'\n'
        "subprocess.run([sys.executable, '-c', child])\n"
        "open('after', 'w').close()\n"
    )

    def setup(d: Path) -> None:
        (d / "a").write_text("x")

    command = [sys.executable, "-c", parent]
    recorded = record(command, cwd=fresh(tmp_path / "t", setup))
    assert (tmp_path / "t" / "after").exists()
    result = inject(
        command, parse_plan("rename#1:kill"), recorded.trace, cwd=fresh(tmp_path / "t", setup)
    )
    assert result.killed and result.landed
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["a"]


def mv_setup(d: Path) -> None:
    for name in ("a", "b", "c"):
        (d / name).write_text(f"content of {name}")


def test_mv_copies_when_rename_gives_exdev(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    command = ["mv", str(tree / "a"), str(tree / "moved")]
    recorded = record(command, cwd=fresh(tree, mv_setup))
    result = inject(
        command, parse_plan("rename#1:EXDEV"), recorded.trace, cwd=fresh(tree, mv_setup)
    )
    assert result.landed and result.returncode == 0
    assert (tree / "moved").read_text() == "content of a" and not (tree / "a").exists()
    assert result.hits[0].error == "EXDEV"


def test_mv_reports_eacces_and_leaves_the_source(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    command = ["mv", str(tree / "a"), str(tree / "moved")]
    recorded = record(command, cwd=fresh(tree, mv_setup))
    result = inject(
        command, parse_plan("rename#1:EACCES"), recorded.trace, cwd=fresh(tree, mv_setup)
    )
    assert result.landed and result.returncode == 1
    assert "Permission denied" in result.run.stderr
    assert (tree / "a").exists() and not (tree / "moved").exists()


def test_the_nth_rename_of_a_shell_script_is_found_in_its_own_process(tmp_path: Path) -> None:
    """Each ``mv`` is a new process counting from 1; plain ``when=2`` would never fire."""
    tree = tmp_path / "t"
    command = ["sh", "-c", "mv a a2 && mv b b2 && mv c c2"]
    recorded, result = record_then_inject(command, "rename#2:EIO", tree, mv_setup)
    assert len({op.pid for op in recorded.trace.ops if op.operation == "rename"}) == 3
    assert result.landed and result.returncode != 0
    assert sorted(p.name for p in tree.iterdir()) == ["a2", "b", "c"]


def sqlite_setup(d: Path) -> None:
    with sqlite3.connect(d / "db.sqlite") as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
    db.close()


def rows(d: Path) -> list[int]:
    db = sqlite3.connect(d / "db.sqlite")
    try:
        return [x for (x,) in db.execute("SELECT x FROM t ORDER BY x")]
    finally:
        db.close()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 CLI is not installed")
@pytest.mark.parametrize(
    ("plan_text", "message"), [("fsync#1:EIO", "disk I/O error"), ("unlink#1:kill", None)]
)
def test_sqlite3_cli_fails_cleanly_at_the_planned_operation(
    tmp_path: Path, plan_text: str, message: str | None
) -> None:
    """A failed journal fsync aborts the insert; a kill before the journal is deleted (the
    commit point of rollback-journal mode) leaves a hot journal that rolls it back."""
    tree = tmp_path / "t"
    command = ["sqlite3", str(tree / "db.sqlite"), "INSERT INTO t VALUES (2);"]
    recorded = record(command, cwd=fresh(tree, sqlite_setup))
    assert recorded.run.returncode == 0 and rows(tree) == [1, 2]
    result = inject(command, parse_plan(plan_text), recorded.trace, cwd=fresh(tree, sqlite_setup))
    assert result.landed
    if message:
        assert result.returncode != 0 and message in result.run.stderr
    else:
        assert result.killed and (tree / "db.sqlite-journal").exists()
    assert rows(tree) == [1]


NODE_SYNC = """
const fs = require('fs');
for (const i of [1, 2, 3]) {
  try { fs.renameSync(`n${i}`, `n${i}.moved`); console.log(`ok ${i}`); }
  catch (e) { console.log(`${e.code} ${i}`); }
}
"""
# fs.promises runs on libuv's pool thread; DETERMINISM_ENV makes that a single thread.
NODE_ASYNC = """
const fs = require('fs');
(async () => {
  for (const i of [1, 2, 3]) {
    try { await fs.promises.rename(`n${i}`, `n${i}.moved`); console.log(`ok ${i}`); }
    catch (e) { console.log(`${e.code} ${i}`); }
  }
})();
"""


def node_setup(d: Path) -> None:
    for i in (1, 2, 3):
        (d / f"n{i}").write_text(str(i))


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("script", [NODE_SYNC, NODE_ASYNC], ids=["sync", "promises"])
def test_node_sees_the_planned_errno_at_the_nth_rename(tmp_path: Path, script: str) -> None:
    tree = tmp_path / "t"
    command = ["node", "-e", script]
    recorded = record(command, cwd=fresh(tree, node_setup))
    assert recorded.run.stdout.split() == ["ok", "1", "ok", "2", "ok", "3"]
    result = inject(
        command, parse_plan("rename#2:EXDEV"), recorded.trace, cwd=fresh(tree, node_setup)
    )
    assert result.landed
    assert result.run.stdout.splitlines() == ["ok 1", "EXDEV 2", "ok 3"]


# Two threads rename the same file name "/w/a" at different times; the target is thread
# 2's rename. Matching by the source path would also count thread 1's call (a rival), so
# the injector must pick the destination, which only the target names.
RIVALS = """1  renameat2(AT_FDCWD</w>, "/w/a", AT_FDCWD</w>, "/w/t1", 0) = 0
2  renameat2(AT_FDCWD</w>, "/w/a", AT_FDCWD</w>, "/w/t2", 0) = 0
"""
# rename(2) is matched by strace -P on its old path only: the first call names /w/a as
# its *new* path and must not count, so the target is call 1, not call 2.
RENAME_QUIRK = """1  rename("/w/x", "/w/a") = 0
1  rename("/w/a", "/w/b") = 0
"""


def test_compile_picks_a_key_no_other_thread_reaches() -> None:
    injection = compile_injection(parse_plan("rename#2:EIO"), trace_from_strace(RIVALS, cwd="/w"))
    assert injection is not None
    assert (injection.key, injection.when, injection.rivals) == ("/w/t2", 1, ())


def test_compile_counts_plain_rename_by_its_old_path_like_strace() -> None:
    plan = parse_plan("rename#2:EIO")
    injection = compile_injection(plan, trace_from_strace(RENAME_QUIRK, cwd="/w"))
    assert injection is not None
    assert (injection.key, injection.when) == ("/w/a", 1)
    assert injection.options()[-1] == "inject=rename:error=EIO:when=1"


def test_injected_run_reports_a_fault_that_landed_elsewhere() -> None:
    """``landed`` compares the hit with the target instead of trusting the arithmetic."""
    trace = trace_from_strace(RIVALS, cwd="/w")
    injection = compile_injection(parse_plan("rename#2:EIO"), trace)
    assert injection is not None
    elsewhere = trace.events[0]  # thread 1's rename
    run = TracedRun(1, "", "", "", stopped=False, timed_out=False)
    shown = trace.events  # what strace showed of the injected run
    assert not InjectedRun(injection.plan, injection, run, (elsewhere,), {}, shown).landed
    assert InjectedRun(injection.plan, injection, run, (trace.events[1],), {}, shown).landed


def test_an_in_process_recording_cannot_drive_the_syscall_backend() -> None:
    op = TraceOp(0, parse_plan("rename:EIO").operation, "os.rename", ("/a", "/b"), 1, 0)
    with pytest.raises(ValueError, match="record with strace"):
        compile_injection(parse_plan("rename:EIO"), Trace(ops=(op,)))
