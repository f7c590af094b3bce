"""Fault points: the (operation, effect) pairs an exhaustive exploration runs, as plans.

SQLite's testing loop is "fail at operation N, for every N, until the run completes".
Given a recorded trace, :func:`fault_points` lists every operation with every effect that
operation can plausibly suffer (:func:`~harness.faults.plan.applicable_effects`), each as the
:class:`FaultPlan` that hits exactly that operation on any backend. The exploration loop
(which runs each plan, then the oracles) only iterates this list.

Writes are the exception: a database copy makes thousands, and failing the 1st or the
500th write of one file leaves the same kind of state (a partial file). By default only the
first write of each run of writes to a file (by one thread, with no other operation of
that thread in between) is a point; ``every_write=True`` restores all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.faults.plan import FaultPlan, Operation, applicable_effects
from harness.faults.trace import TraceOp


@dataclass(frozen=True)
class FaultPoint:
    """One case of an exploration: an operation of the trace and the plan that hits it."""

    op: TraceOp
    plan: FaultPlan

    def describe(self) -> str:
        return f"{self.op.describe()}: {self.plan.describe()}"


def plan_at(ops: Sequence[TraceOp], index: int, effect: str) -> FaultPlan:
    """The plan that hits ``ops[index]`` with ``effect``: no glob, just its rank.

    A plan without paths stays valid for the same tree rebuilt anywhere.
    """
    target = ops[index]
    rank = sum(1 for op in ops[: index + 1] if op.operation == target.operation)
    return FaultPlan(target.operation, rank, effect)


def fault_points(
    ops: Sequence[TraceOp],
    effects: Iterable[str] | None = None,
    *,
    every_write: bool = False,
) -> tuple[FaultPoint, ...]:
    """Every (operation, applicable effect) of ``ops``; ``effects`` narrows the effects."""
    wanted = None if effects is None else set(effects)
    points = []
    for index, op in enumerate(ops):
        if not every_write and _continues_a_write_run(ops, index):
            continue
        for effect in applicable_effects(op.operation):
            if wanted is None or effect in wanted:
                points.append(FaultPoint(op, plan_at(ops, index, effect)))
    return tuple(points)


def _continues_a_write_run(ops: Sequence[TraceOp], index: int) -> bool:
    op = ops[index]
    if op.operation != Operation.WRITE:
        return False
    previous = next((o for o in reversed(ops[:index]) if o.pid == op.pid), None)
    return (
        previous is not None and previous.operation == op.operation and previous.paths == op.paths
    )
