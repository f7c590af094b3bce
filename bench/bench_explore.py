"""Print what a fault exploration costs: every kill point of a 3-user tree, and strace's share.

Run: ``python -m bench.bench_explore [--migrator SPEC] [--workers 1,2] [--repeat R]``.

1. The exploration of every kill point of the default tree (three users: two legacy, one
   with rows in the WAL and images, one already migrated) against the migrator, run the way
   a person runs it (``migration-kit explore --effects kill -n N``, cases spread over N
   pytest-xdist workers), for each N; then the speed-up over the first N. The recording is
   made first, so every timing is the cases alone (plus pytest's start-up). Targets: at
   most 60 s with ``-n 2``, and 1.7x over ``-n 1`` (on two idle cores: the load average is
   printed, since a busy machine shares its cores with the workers).
2. strace on a fault-free run of the same tree: the migrator's process run plain, under
   strace tracing nothing (what an injected run costs), under the recorder the fault
   explorer uses (every call of every syscall that can be a fault point, decoded) and under
   the power-loss explorer's fuller one (lseek too, and every written byte); medians of
   ``--repeat`` runs taken in turns, with the range of each round's ratio to that round's
   plain run. Target: at most 1.2x. ``--tree SPEC.json`` measures another tree.

Figures, never assertions.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import against, print_table, take_turns, timed
from fixtures.factory import TreeFactory
from fixtures.spec import TreeSpec, spec_from_json
from harness.explore.backends import backend_available, process_of
from harness.explore.baseline import baseline
from harness.explore.exploration import DEFAULT_TREE, Exploration
from harness.explore.powerloss.baseline import DATA_LIMIT
from harness.faults.strace import DETERMINISM_ENV, run_traced
from harness.faults.trace import record
from harness.run.adapters import DEFAULT_MIGRATOR
from harness.store.scratch import ram_scratch

# How the migrator's process is run in each case of the strace measurement.
RUNS = {
    "plain": lambda argv, env: subprocess.run(argv, env=env, capture_output=True, check=False),
    "strace, nothing traced": lambda argv, env: run_traced(argv, ["-e", "trace=none"], env=env),
    "recorder (fault points)": lambda argv, env: record(argv, env=env),
    "recorder (power loss)": lambda argv, env: record(
        argv, env=env, data_limit=DATA_LIMIT, positions=True
    ),
}


def explore_seconds(migrator: str, workers: str) -> tuple[float, dict]:
    """Wall time of ``migration-kit explore --effects kill -n workers``, and its report."""
    with tempfile.TemporaryDirectory(prefix="mk-bench-explore-") as tmp:
        out = Path(tmp) / "report.json"
        argv = [sys.executable, "-m", "harness.cli.main", "explore", "--migrator", migrator]
        argv += ["--effects", "kill", "-n", workers, "--json", str(out)]
        start = time.monotonic()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=False)
        took = time.monotonic() - start
        return took, json.loads(out.read_text()) if out.is_file() else {}


def strace_overhead(
    migrator: str, repeat: int, tree_spec: TreeSpec = DEFAULT_TREE
) -> dict[str, list[float]]:
    """Seconds per run of each of :data:`RUNS`, taken in turns (``bench/others.py`` calls
    this for the suite's table)."""
    exploration = Exploration(migrator=migrator, tree=tree_spec)
    factory = TreeFactory()
    runner = exploration.open_migrator()
    with tempfile.TemporaryDirectory(prefix="mk-bench-strace-", dir=ram_scratch()) as t:
        fresh = itertools.count()

        def on_a_fresh_tree(
            run: Callable[[list[str], dict[str, str]], object],
        ) -> Callable[[], float]:
            def once() -> float:
                tree = Path(t) / str(next(fresh))
                factory.make(exploration.tree, tree)
                argv, env = process_of(runner, tree)
                env = {**DETERMINISM_ENV, **env}  # what run_traced adds: like for like
                return timed(lambda: run(argv, env))

            return once

        return take_turns({name: on_a_fresh_tree(run) for name, run in RUNS.items()}, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migrator", default=DEFAULT_MIGRATOR)
    parser.add_argument("--workers", default="1,2", help="comma-separated -n values")
    parser.add_argument("--repeat", type=int, default=7, help="runs per strace measurement")
    parser.add_argument("--tree", help="TreeSpec JSON (file or text) for the strace measurement")
    parser.add_argument("--strace-only", action="store_true", help="skip the exploration")
    args = parser.parse_args()
    available = backend_available("syscall")
    if not available:
        print(f"syscall backend unavailable: {available.reason}")
        return
    print(f"migrator: {args.migrator}; cpus: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}")
    if not args.strace_only:
        explore_speed(args.migrator, args.workers)
    tree_spec = DEFAULT_TREE
    if args.tree:
        text = Path(args.tree).read_text() if Path(args.tree).is_file() else args.tree
        tree_spec = spec_from_json(text)
    times = strace_overhead(args.migrator, args.repeat, tree_spec)
    tree_name = "the default tree" if tree_spec == DEFAULT_TREE else args.tree
    title = (
        f"strace on a fault-free run of {tree_name} (median of {args.repeat} in turns; "
        f"load now {os.getloadavg()[0]:.1f})"
    )
    print_table(title, against("plain", times, target=1.2))


def explore_speed(migrator: str, workers_list: str) -> None:
    """Part 1: the kill-point exploration with each number of workers, and the speed-up."""
    base = baseline(Exploration(migrator=migrator, effects=("kill",)))
    print(f"kill points of the default tree: {len(base.cases())} cases")
    first = None
    for workers in workers_list.split(","):
        took, report = explore_seconds(migrator, workers.strip())
        results = report.get("results", [])
        broken = sum(r["outcome"] != "ok" for r in results)
        first = first or took
        print(
            f"  -n {workers.strip()}: {took:6.1f} s wall, {len(results)} cases, {broken} not ok, "
            f"speed-up {first / took:.2f}x, load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
