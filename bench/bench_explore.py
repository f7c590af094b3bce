"""Print what a fault exploration costs: every kill point of a 3-user tree, and strace's share.

Run: ``python bench/bench_explore.py [--migrator SPEC] [--workers 1,2] [--repeat R]``.

1. The exploration of every kill point of the default tree (three users: two legacy, one
   with rows in the WAL and images, one already migrated) against the migrator, run the way
   a person runs it (``migration-kit explore --effects kill -n N``, cases spread over N
   pytest-xdist workers), for each N; then the speed-up over the first N. The recording is
   made first, so every timing is the cases alone (plus pytest's start-up). Targets: at
   most 60 s with ``-n 2``, and 1.7x over ``-n 1`` (on two idle cores: the load average is
   printed, since a busy machine shares its cores with the workers).
2. strace on a fault-free run of the same tree: the migrator's process run plain, under
   strace tracing nothing (what an injected run costs), and under the recorder (every file
   syscall decoded); medians of ``--repeat`` runs taken in turns. Target: at most 1.2x.

Figures, never assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixtures.factory import TreeFactory
from harness import explore
from harness.adapters import DEFAULT_MIGRATOR
from harness.faults.strace import run_traced
from harness.faults.trace import record


def explore_seconds(migrator: str, workers: str) -> tuple[float, dict]:
    """Wall time of ``migration-kit explore --effects kill -n workers``, and its report."""
    with tempfile.TemporaryDirectory(prefix="mk-bench-explore-") as tmp:
        out = Path(tmp) / "report.json"
        argv = [sys.executable, "-m", "harness.cli", "explore", "--migrator", migrator]
        argv += ["--effects", "kill", "-n", workers, "--json", str(out)]
        start = time.monotonic()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=False)
        took = time.monotonic() - start
        return took, json.loads(out.read_text()) if out.is_file() else {}


def strace_overhead(migrator: str, repeat: int) -> dict[str, list[float]]:
    """Seconds per run: plain, strace tracing nothing, the recorder; taken in turns."""
    exploration = explore.Exploration(migrator=migrator)
    factory = TreeFactory()
    runner = exploration.open_migrator()
    times: dict[str, list[float]] = {"plain": [], "strace, nothing traced": [], "recorder": []}
    with tempfile.TemporaryDirectory(prefix="mk-bench-strace-", dir=explore.scratch_dir()) as t:
        for i in range(repeat):
            for name in times:
                tree = Path(t) / f"{name.split(',')[0]}-{i}"
                factory.make(exploration.tree, tree)
                argv, env = explore.process_of(runner, tree)
                start = time.monotonic()
                if name == "plain":
                    subprocess.run(argv, env=env, capture_output=True, check=False)
                elif name == "recorder":
                    record(argv, env=env)
                else:
                    run_traced(argv, ["-e", "trace=none"], env=env)
                times[name].append(time.monotonic() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migrator", default=DEFAULT_MIGRATOR)
    parser.add_argument("--workers", default="1,2", help="comma-separated -n values")
    parser.add_argument("--repeat", type=int, default=7, help="runs per strace measurement")
    args = parser.parse_args()
    available = explore.backend_available("syscall")
    if not available:
        print(f"syscall backend unavailable: {available.reason}")
        return
    base = explore.baseline(explore.Exploration(migrator=args.migrator, effects=("kill",)))
    print(f"migrator: {args.migrator}; cpus: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}")
    print(f"kill points of the default tree: {len(base.cases())} cases")
    first = None
    for workers in args.workers.split(","):
        took, report = explore_seconds(args.migrator, workers.strip())
        results = report.get("results", [])
        broken = sum(r["outcome"] != "ok" for r in results)
        first = first or took
        print(
            f"  -n {workers.strip()}: {took:6.1f} s wall, {len(results)} cases, {broken} not ok, "
            f"speed-up {first / took:.2f}x, load {os.getloadavg()[0]:.1f}"
        )
    times = strace_overhead(args.migrator, args.repeat)
    plain = statistics.median(times["plain"])
    print(f"strace on a fault-free run (median of {args.repeat}):")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<24} {median * 1000:7.0f} ms  {median / plain:.2f}x")


if __name__ == "__main__":
    main()
