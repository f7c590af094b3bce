"""Print how long the power-loss exploration of a 3-user tree takes, phase by phase.

Run: ``python -m bench.bench_powerloss [--migrator SPEC] [--tree SPEC.json]``. The phases:
recording the fault-free run with every written byte (strace ``-s``), replaying the trace
into every crash image (one pass), the replay's self-check, and judging each distinct crash
state (write it out, snapshot it, re-run the migrator, snapshot again). The recording goes
to a private cache, so it is measured every time. Figures, never assertions: the judging
phase is a migrator process per distinct state and scales with that count.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from fixtures.spec import TreeSpec
from harness.explore.backends import backend_available
from harness.explore.exploration import DEFAULT_TREE, Exploration
from harness.explore.powerloss.baseline import power_baseline
from harness.explore.powerloss.explorer import KIND_OF, PowerLoss, run_case
from harness.explore.powerloss.judge import Judge
from harness.run.adapters import DEFAULT_MIGRATOR
from harness.store.scratch import ram_scratch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migrator", default=DEFAULT_MIGRATOR)
    parser.add_argument("--tree", default=None, help="a TreeSpec JSON file (default: 3 users)")
    args = parser.parse_args(argv)
    available = backend_available("syscall")
    if not available:
        print(f"skipped: {available.reason}")
        return 0
    tree = TreeSpec.from_json(Path(args.tree).read_text()) if args.tree else DEFAULT_TREE
    exploration = Exploration(migrator=args.migrator, tree=tree)
    print(f"tree: {len(tree.users)} users ({', '.join(u.user_id for u in tree.users)})")
    with tempfile.TemporaryDirectory(prefix="mk-bench-powerloss-") as cache:
        started = time.monotonic()
        base = power_baseline(exploration, root=Path(cache))
        recorded = time.monotonic()
        power = PowerLoss(base)
        cases = power.cases()
        # The failed-fsync cases (EIO+power-loss) are judged from a run of their own, not
        # from an image of the fault-free trace.
        images = {power.image(c).digest for c in cases if c.effect in KIND_OF}
        replayed = time.monotonic()
        problems = power.self_check
        checked = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="mk-bench-", dir=ram_scratch()) as tmp:
            judge = Judge(base, Path(tmp))
            results = [run_case(power, c, judge) for c in cases]
        judged = time.monotonic()
    broken = sum(1 for r in results if r.outcome != "ok")
    print(f"operations in the trace: {len(base.trace.ops)}; crash points: {len(power.points)}")
    print(f"cases (point x kind): {len(cases)}; distinct crash states: {len(images)}")
    print(f"cases not ok: {broken}; replay self-check: {problems or 'ok'}")
    print(f"record (strace, written bytes): {recorded - started:6.2f} s")
    print(f"replay (every crash image):     {replayed - recorded:6.2f} s")
    print(f"self-check (replay vs run):     {checked - replayed:6.2f} s")
    per_state = (judged - checked) / max(1, len(images))
    print(f"judge (write, re-run, compare): {judged - checked:6.2f} s ({per_state:.2f} s a state)")
    print(f"total:                          {judged - started:6.2f} s (one process, serial)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
