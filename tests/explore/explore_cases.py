"""What the explorer's tests share: small trees, migrator specs, and a way to name a case by
what it does ("the kill before the rename into profiles/") rather than by its index, which
changes whenever the migrator's code does."""

from __future__ import annotations

import fnmatch

from fixtures.spec import TreeSpec, UserSpec
from harness.explore.baseline import Baseline
from harness.explore.results import Case
from harness.run.adapters import DEFAULT_MIGRATOR

# One legacy user with rows in the WAL and an image: every step of a migration, few cases.
SMALL_TREE = TreeSpec(users=(UserSpec("ann", items=10, images=1, wal_share=0.5),), seed=3)
REFERENCE = DEFAULT_MIGRATOR
R10_BACKUP_IN_PLACE = "py:tests.broken.r10_backup_in_place:migrate"
R12_NO_EXDEV_FALLBACK = "py:tests.broken.r12_no_exdev_fallback:migrate"
R1_WAL_DROPPED = "py:tests.broken.r1_wal_dropped:migrate"
R5_BOTH_AS_MIGRATED = "py:tests.broken.r5_both_as_migrated:migrate"


def find_case(base: Baseline, operation: str, path: str, effect: str) -> Case:
    """The first case hitting ``operation`` on a path matching the glob ``path`` (relative
    to the data dir; for a rename, the destination) with ``effect``."""
    for op in base.trace.ops:
        case = base.case(f"{op.index}:{effect}")
        if case.operation == operation and fnmatch.fnmatchcase(case.paths[-1], path):
            return case
    raise AssertionError(f"no {operation} on {path} in the trace of {base.exploration.migrator}")
