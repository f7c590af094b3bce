"""Print what tracing costs: a Python child copies, fsyncs and renames 200 files.

Run: ``python -m bench.bench_strace [--files N] [--repeat R]``. Prints the median wall time
of the same workload run plain, under the trace recorder at both its levels (for fault
points: every syscall that can be one; for a power-loss replay: lseek and the written bytes
too), the first also without ``--seccomp-bpf``, and under an injection's options (one
syscall traced with ``-P``, the fault placed past the end so the run completes).

The cases take turns (plain, record, ..., plain, record, ...) so that a disk getting slower
or faster during the run affects them alike; fsync on a real disk still varies by 2-5x from
run to run, so the tree is also measured on a tmpfs (when mounting is permitted), where
fsync is nearly free and what remains is tracing's own cost. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import against, print_table, take_turns, timed
from harness.explore.powerloss.baseline import DATA_LIMIT
from harness.faults import mounts
from harness.faults.strace import DETERMINISM_ENV, backend_available, run_traced
from harness.faults.trace import record

CHILD = """
import os, shutil, sys
root = sys.argv[1]
for name in sorted(os.listdir(os.path.join(root, "src"))):
    tmp = os.path.join(root, "dst", name + ".tmp")
    shutil.copyfile(os.path.join(root, "src", name), tmp)
    fd = os.open(tmp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, os.path.join(root, "dst", name))
"""


def make_tree(root: Path, files: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "src").mkdir(parents=True)
    (root / "dst").mkdir()
    for i in range(files):
        (root / "src" / f"f{i:04}").write_bytes(bytes([i % 256]) * (4096 + i))


def cases(root: Path) -> dict[str, Callable[[], object]]:
    """The same child, run plain and under each strace configuration the kit uses."""
    command = [sys.executable, "-c", CHILD, str(root)]
    inject_options = [
        *("-s", "0", "-P", str(root / "dst" / "never"), "-e", "trace=rename"),
        *("-e", "inject=rename:error=EIO:when=1"),
    ]
    plain_env = {**os.environ, **DETERMINISM_ENV}
    return {
        "plain": lambda: subprocess.run(command, check=True, env=plain_env),
        "record, fault points": lambda: record(command),
        "record, no seccomp": lambda: record(command, seccomp=False),
        "record, power loss": lambda: record(command, data_limit=DATA_LIMIT, positions=True),
        "inject (1 syscall, -P)": lambda: run_traced(command, inject_options),
    }


def measure(root: Path, files: int, repeat: int) -> dict[str, list[float]]:
    """Seconds per run of each case, taken in turns, each on a freshly made tree."""

    def on_a_fresh_tree(run: Callable[[], object]) -> Callable[[], float]:
        def once() -> float:
            make_tree(root, files)
            return timed(run)

        return once

    return take_turns({name: on_a_fresh_tree(run) for name, run in cases(root).items()}, repeat)


def report(title: str, samples: dict[str, list[float]]) -> None:
    print_table(title, against("plain", samples))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    available = backend_available()
    if not available:
        print(f"skipped: {available.reason}")
        return 0
    what = f"copy + fsync + rename of {args.files} files, median of {args.repeat} runs"
    with tempfile.TemporaryDirectory(prefix="bench-strace-") as tmp:
        report(f"{what}, on {tmp}'s disk:", measure(Path(tmp) / "tree", args.files, args.repeat))
        if mounts.backend_available():
            with mounts.tmpfs(Path(tmp) / "ram", 1 << 30) as ram:
                samples = measure(ram.path / "tree", args.files, args.repeat)
            report(f"{what}, on a tmpfs (fsync ~free: tracing's own cost):", samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
