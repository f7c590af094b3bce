"""Where a failed fsync's error landed: the same file up to the random parts of its name.

A ``mkdtemp`` name is drawn anew on each run, and now and then it is all letters
(``.staging-kxyxnkne``), which masking leaves alone as a possible word. The landing check
must still see it as the recorded ``.staging-it_cc_1p``: else a fault on the right call is
"not judged" (issue 17).
"""

from __future__ import annotations

from types import SimpleNamespace

from harness.explore.powerloss.failed_fsync import landing
from harness.faults.plan import Operation
from harness.faults.straceout import SyscallEvent
from harness.faults.trace import TraceOp


def _fsync(seq: int, path: str, *, injected: bool = False) -> SyscallEvent:
    return SyscallEvent(seq, 100, "fsync", (f"5<{path}>",), 0, injected=injected)


def _baseline(root: str, *events: SyscallEvent) -> SimpleNamespace:
    return SimpleNamespace(trace=SimpleNamespace(events=events), recorded_root=root)


def _case(recorded: str, hit: str) -> tuple[bool, str]:
    target = _fsync(7, f"/a/tree/bob/profiles/{recorded}/datastore.sqlite")
    op = TraceOp(0, Operation.FSYNC, "fsync", (target.args[0],), 100, 0, event=7)
    fault_free = _baseline("/a/tree", target)
    failed = _baseline(
        "/b/tree", _fsync(9, f"/b/tree/bob/profiles/{hit}/datastore.sqlite", injected=True)
    )
    result = landing(fault_free, op, failed)
    return result.landed, result.problem


def test_a_word_like_scratch_name_is_the_recorded_one() -> None:
    assert _case(".staging-it_cc_1p", ".staging-kxyxnkne") == (True, "")
    assert _case(".staging-kxyxnkne", ".staging-it_cc_1p") == (True, "")


def test_another_file_is_still_a_miss() -> None:
    landed, problem = _case(".staging-it_cc_1p", "images")
    assert not landed and "the error landed on fsync bob/profiles/images" in problem
