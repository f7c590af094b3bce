"""Figures from the benchmarks other engineers own, for the suite's one table.

Their scripts stay theirs: where one exposes functions (``bench_fixtures``'s child runner
and child programs, ``bench_explore``'s strace measurement) they are called here with
repeats, so that their figures get a median and a range like every other; where one only
prints (``bench_strace``, ``bench_powerloss``) it runs as a child process and its output is
passed through. A script (or a name in it) that is not there yet is reported as
"not available yet", never an error: the suite runs while the kit is being built.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from bench.common import MIB, REPO, Figure, child_env, ratio, scratch_dir, take_turns
from harness.run.adapters import DEFAULT_MIGRATOR

NOT_YET = "not available yet"


def _module(name: str, *attrs: str) -> tuple[ModuleType | None, str]:
    """Import ``bench.<name>`` and check it has ``attrs``; (module, '') or (None, why not)."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ImportError as exc:
        return None, f"{NOT_YET} ({exc})"
    missing = [a for a in attrs if not hasattr(module, a)]
    if missing:
        return None, f"{NOT_YET} (bench/{name}.py has no {', '.join(missing)})"
    return module, ""


def fixtures(size: int, users: int, repeat: int) -> list[Figure]:
    """The fixture kit's build figures (issue 3's targets), each run ``repeat`` times.

    Each build is a fresh interpreter (``bench_fixtures.child``), so nothing is cached in
    memory and its peak RSS is its own; the realistic build and the raw insert take turns.
    """
    mib = size // MIB
    mod, why_not = _module("bench_fixtures", "child", "REALISTIC", "RAW", "CACHE_FILL", "TREE")
    name = f"fixture build, {mib} MiB realistic user DB, cold"
    if mod is None:
        return [Figure(name, "s", note=why_not)]
    scratch = scratch_dir("mk-bench-fixtures-")
    real = Figure(name, "s")
    raw = Figure(f"raw SQLite bulk insert of the same bytes ({mib} MiB)", "s")
    rss = Figure(f"peak RSS of the {mib} MiB fixture build", "MB", target=150.0)
    copy = Figure(f"cached copy of the {mib} MiB tree", "s", target=0.3)
    tree = Figure(f"{users:,}-user tree, cold", "s", target=30.0)

    def realistic() -> float:
        out, _wall, peak = mod.child(mod.REALISTIC, str(scratch / "real.db"), str(size))
        rss.add(peak)
        return out["build"]

    def raw_insert() -> float:
        target = (scratch / "real.db").stat().st_size
        out, _wall, _peak = mod.child(mod.RAW, str(scratch / "raw.db"), str(target))
        return out["build"]

    def cached() -> float:
        cache, dest = scratch / "cache", scratch / "copy"
        out, _wall, _peak = mod.child(mod.CACHE_FILL, str(cache), str(dest), str(size))
        for p in (cache, dest, Path(f"{dest}-again")):
            shutil.rmtree(p, ignore_errors=True)
        return out["copy"]

    def many() -> float:
        out, _wall, _peak = mod.child(mod.TREE, str(scratch / "many"), str(users))
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
    return [real, raw, build_ratio, copy, tree, rss]


def strace_overhead(repeat: int) -> list[Figure]:
    """strace's cost on a fault-free run of the reference (``bench_explore``'s measure)."""
    mod, why_not = _module("bench_explore", "strace_overhead")
    if mod is None:
        return [Figure("strace, fault-free run / plain", "x", target=1.2, note=why_not)]
    try:
        times = mod.strace_overhead(DEFAULT_MIGRATOR, repeat)
    except Exception as exc:  # another engineer's code: report, do not stop the suite
        return [Figure("strace overhead", "x", target=1.2, note=f"failed: {exc}")]
    plain = Figure("reference, 3-user tree, plain", "s", times.pop("plain"))
    figures = [plain]
    for name, values in times.items():
        figures.append(ratio(f"{name} / plain", Figure(name, "s", values), plain, target=1.2))
    return figures


def passthrough(script: str, *args: str) -> None:
    """Run ``bench/<script>`` as a child (it only prints) and let its output through."""
    path = REPO / "bench" / script
    print(f"\n## bench/{script} {' '.join(args)}".rstrip(), flush=True)
    if not path.is_file():
        print(NOT_YET)
        return
    done = subprocess.run([sys.executable, str(path), *args], env=child_env(), check=False)
    if done.returncode:
        print(f"(bench/{script} exited with status {done.returncode})")
