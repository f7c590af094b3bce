"""Oracles: SPEC's rules as functions from snapshots (and runs) to verdicts.

``rules`` has one ``check_rN`` per rule a single run can be judged on; ``invariants`` has
what holds in every state (no content lost, convergence, the exit status) and is what the
fault explorer applies for R9, R10 and R17; ``judgments`` holds the shared vocabulary.
"""

from harness.judge.oracles.assertion import assert_verdicts
from harness.judge.oracles.invariants import (
    check_converged,
    check_exit_status,
    check_no_content_lost,
    check_stayed_inside,
)
from harness.judge.oracles.rules import (
    check_r1,
    check_r2,
    check_r3,
    check_r4,
    check_r5,
    check_r6,
    check_r7,
    check_r8,
    check_r11,
    check_r13,
    check_r14,
    check_r15,
    check_r16,
    check_r18,
)

__all__ = [
    "assert_verdicts",
    "check_converged",
    "check_exit_status",
    "check_no_content_lost",
    "check_r1",
    "check_r2",
    "check_r3",
    "check_r4",
    "check_r5",
    "check_r6",
    "check_r7",
    "check_r8",
    "check_r11",
    "check_r13",
    "check_r14",
    "check_r15",
    "check_r16",
    "check_r18",
    "check_stayed_inside",
]
