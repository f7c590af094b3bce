"""Figures from the benchmarks other engineers own, for the suite's one table.

Their scripts stay theirs: where one exposes functions (``bench_fixtures``'s child runner
and child programs, ``bench_explore``'s strace measurement) they are called here with
repeats, so that their figures get a median and a range like every other; where one only
prints (``bench_strace``, ``bench_powerloss``) it runs as a child process
(``python -m bench.<name>``) and its output is passed through.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bench.bench_fixtures import CACHE_FILL, RAW, REALISTIC, TREE, child
from bench.common import MIB, Figure, against, child_env, ratio, scratch_dir, take_turns
from harness.run.adapters import DEFAULT_MIGRATOR


def fixtures(size: int, users: int, repeat: int) -> list[Figure]:
    """The fixture kit's build figures against its targets, each run ``repeat`` times.

    Each build is a fresh interpreter (``bench_fixtures.child``), so nothing is cached in
    memory and its peak RSS is its own; the realistic build and the raw insert take turns.
    """
    mib = size // MIB
    scratch = scratch_dir("mk-bench-fixtures-")
    real = Figure(f"fixture build, {mib} MiB realistic user DB, cold", "s")
    raw = Figure(f"raw SQLite bulk insert of the same bytes ({mib} MiB)", "s")
    rss = Figure(f"peak RSS of the {mib} MiB fixture build", "MB", target=150.0)
    copy = Figure(f"cached copy of the {mib} MiB tree", "s", target=0.3)
    tree = Figure(f"{users:,}-user tree, cold", "s", target=30.0)

    def realistic() -> float:
        out, _wall, peak = child(REALISTIC, str(scratch / "real.db"), str(size))
        rss.add(peak)
        return out["build"]

    def raw_insert() -> float:
        target = (scratch / "real.db").stat().st_size
        out, _wall, _peak = child(RAW, str(scratch / "raw.db"), str(target))
        return out["build"]

    def cached() -> float:
        cache, dest = scratch / "cache", scratch / "copy"
        out, _wall, _peak = child(CACHE_FILL, str(cache), str(dest), str(size))
        for p in (cache, dest, Path(f"{dest}-again")):
            shutil.rmtree(p, ignore_errors=True)
        return out["copy"]

    def many() -> float:
        out, _wall, _peak = child(TREE, str(scratch / "many"), str(users))
        shutil.rmtree(scratch / "many", ignore_errors=True)
        return out["build"]

    try:
        for _ in range(repeat):
            real.add(realistic())
            raw.add(raw_insert())
            for p in scratch.glob("r*.db*"):
                p.unlink()
        copy.samples = take_turns({"copy": cached}, repeat)["copy"]
        tree.samples = take_turns({"tree": many}, repeat)["tree"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    build_ratio = ratio("fixture build / raw insert", real, raw, target=2.5)
    build_ratio.goal = "fixture-build"
    return [real, raw, build_ratio, copy, tree, rss]


def strace_overhead(repeat: int) -> list[Figure]:
    """strace's cost on a fault-free run of the reference (``bench_explore``'s measure)."""
    from bench.bench_explore import strace_overhead  # imports the explorer: only when run

    try:
        times = strace_overhead(DEFAULT_MIGRATOR, repeat)
    except Exception as exc:  # another engineer's code: report, do not stop the suite
        return [Figure("strace overhead", "x", target=1.2, note=f"failed: {exc}")]
    figures = against("plain", times, target=1.2)
    figures[0].name = "reference, 3-user tree, plain"
    return figures


def passthrough(module: str, *args: str) -> None:
    """Run ``python -m bench.<module>`` as a child (it only prints); its output goes through."""
    print(f"\n## bench.{module} {' '.join(args)}".rstrip(), flush=True)
    argv = [sys.executable, "-m", f"bench.{module}", *args]
    done = subprocess.run(argv, env=child_env(), check=False)
    if done.returncode:
        print(f"(bench.{module} exited with status {done.returncode})")
