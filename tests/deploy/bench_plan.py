"""How long ``migration-kit plan`` takes on a 10,000-user data dir: printed, never asserted.

    python tests/deploy/bench_plan.py [USERS] [--workers N]

The tree is ``fixtures.variants.many_users`` (a skewed size mix with WAL, migrated and empty
users), built once through the fixture cache and copied to a temp dir. Planning reads every
database through a scratch copy (``harness.deploy.survey``), so the time is dominated by
per-user SQLite work; users are shared out to worker processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from fixtures.factory import TreeFactory
from fixtures.progress import ProgressBar
from fixtures.variants import many_users
from harness.deploy import plan
from harness.store.scratch import remove_tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", nargs="?", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mk-bench-plan-") as tmp:
        tree = Path(tmp) / "data"
        started = time.monotonic()
        TreeFactory().make(many_users(args.users), tree, progress=ProgressBar(f"tree {tree}"))
        print(f"tree: {args.users} users, ready in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        found = plan.collect(tree, workers=args.workers)
        took = time.monotonic() - started
        cpus = len(os.sched_getaffinity(0))
        workers = args.workers or plan._workers(len(found.users), None)
        print(
            f"plan: {len(found.users)} users in {took:.1f} s "
            f"({1000 * took / max(1, len(found.users)):.2f} ms per user; {workers} worker(s), "
            f"{cpus} CPU(s)); {len(found.warnings)} warnings; outcomes {found.counts()}"
        )
        remove_tree(tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
