"""``migration-kit bench [--quick]``: the kit's benchmarks, the README's Performance table.

The benchmarks live in ``bench/`` at the top of a source checkout (they are for the kit's
developers and are not installed with it), so this command finds that folder next to the
``harness`` package and runs ``bench.suite`` in a child interpreter (``sys.executable``)
with the checkout first on ``PYTHONPATH``: the figures come from the code in the
checkout, whatever else is installed. Exit status: the suite's own (0 when it ran; the
figures are printed, never judged), 2 when there is no ``bench/`` to run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from harness.contract.errors import UsageError

CHECKOUT = Path(__file__).resolve().parents[2]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="measure the kit and the reference migrator against their targets (figures only)",
        description="Run every benchmark (the command's start-up, fixture builds, the "
        "reference migrator against the cp+fsync floor and the Node seed, peak RSS, the "
        "checklist and the kill-point exploration with 1 and 2 workers) and print one "
        "table: median, range, target.",
    )
    p.add_argument("--quick", action="store_true", help="a reduced set that takes about a minute")
    p.add_argument("--repeat", type=int, metavar="N", help="runs per measurement (default 3)")
    p.add_argument(
        "--only",
        metavar="SECTIONS",
        help="comma-separated: startup,fixtures,migrate,suites,faults",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not (CHECKOUT / "bench" / "suite.py").is_file():
        raise UsageError(
            f"bench: no bench/ next to {CHECKOUT / 'harness'}; the benchmarks run from a "
            "source checkout (pip install -e .)"
        )
    argv = [sys.executable, "-m", "bench.suite"]
    if args.quick:
        argv.append("--quick")
    if args.repeat:
        argv += ["--repeat", str(args.repeat)]
    if args.only:
        argv += ["--only", args.only]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CHECKOUT), env.get("PYTHONPATH")) if p)
    return subprocess.run(argv, env=env, check=False).returncode
