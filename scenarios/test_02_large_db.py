"""Checklist item 2: "Test migration with large database (> 100MB)".

The risk: the heaviest users are the ones with the most to lose, and their migration is the
longest, most I/O-heavy step of a server start. A migrator that reads a file whole into
memory (a copy through a buffer, a verification that loads the database) can exhaust the
server's memory half way through the move; a busy large user also carries a large -wal. So:
every row of a > 100 MB user arrives (R1), and the migrator's memory does not grow with the
database (R16).

Memory bound: the migrator's peak RSS on this tree may exceed its peak RSS on a tiny tree
(what its runtime costs before any data: about 21 MiB for CPython, 50 MiB for Node) by at
most ``STREAMING_ALLOWANCE``, room for SQLite's page cache and copy buffers, and far below
the 110 MB a migrator holding the database in memory needs.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_exit_status, check_r16
from harness.scenario import Trial
from scenarios import trees

pytestmark = [pytest.mark.large_db, pytest.mark.large]

MB = 1_000_000
MIB = 1 << 20
STREAMING_ALLOWANCE = 64 * MIB


def test_large_user_arrives_whole_in_bounded_memory(trial: Trial) -> None:
    """R1 + R16: every row of a > 100 MB user (part in its -wal) is migrated, and peak
    RSS stays within the runtime's own footprint plus a fixed streaming allowance."""
    baseline = trial.migrate(trial.tree(trees.tiny_user()))
    trial.judge(baseline, check_exit_status(baseline.run))
    runtime = baseline.run.peak_rss_bytes or 0

    tree = trial.tree(trees.large_user())
    assert tree.db_bytes("big") > 100 * MB, "precondition: a database over 100 MB"
    step = trial.migrate(tree)
    trial.judge(
        step,
        check_r16(*step, max_rss_bytes=runtime + STREAMING_ALLOWANCE),
        check_exit_status(step.run),
    )
