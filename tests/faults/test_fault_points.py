"""Fault points: every plan an exploration runs hits exactly the operation it was made for."""

from __future__ import annotations

from harness.faults.injection import target_of
from harness.faults.plan import KILL, Operation
from harness.faults.points import fault_points, plan_at
from harness.faults.trace import Trace, TraceOp


def op(index: int, operation: str, path: str, pid: int = 1) -> TraceOp:
    return TraceOp(index, Operation(operation), operation, (path,), pid, 0)


OPS = (
    op(0, "open_write", "/d/a"),
    op(1, "write", "/d/a"),
    op(2, "write", "/d/a"),  # continues the run: not a point by default
    op(3, "write", "/d/b", pid=2),  # another thread, another file
    op(4, "write", "/d/a"),  # the run goes on: thread 2 did not interrupt thread 1
    op(5, "fsync", "/d/a"),
    op(6, "write", "/d/a"),  # after an fsync: a new run
    op(7, "rename", "/d/a"),
)


def test_every_plan_resolves_back_to_its_operation() -> None:
    trace = Trace(ops=OPS)
    for point in fault_points(OPS, every_write=True):
        assert target_of(point.plan, trace) == point.op


def test_writes_are_reduced_to_the_first_of_each_run() -> None:
    indexes = sorted({p.op.index for p in fault_points(OPS)})
    assert indexes == [0, 1, 3, 5, 6, 7]
    assert sorted({p.op.index for p in fault_points(OPS, every_write=True)}) == list(range(8))


def test_effects_are_the_applicable_ones_narrowed_on_request() -> None:
    rename_effects = [p.plan.effect for p in fault_points(OPS) if p.op.index == 7]
    assert rename_effects == ["EIO", "ENOSPC", "EACCES", "EXDEV", KILL]
    narrowed = fault_points(OPS, effects=["EXDEV", KILL])
    assert {(p.op.index, p.plan.effect) for p in narrowed if p.plan.effect == "EXDEV"} == {
        (7, "EXDEV")
    }  # EXDEV does not apply to writes or fsyncs
    assert plan_at(OPS, 6, "EIO").format() == "write#5:EIO"
