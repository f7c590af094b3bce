"""``migration-kit bench [--quick|--full|--tiny]``: the kit's benchmarks and its targets.

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
        "checklist and the kill-point exploration with 1 and 2 workers; with --full the "
        "exhaustive 30-user exploration) and print one table: median, range, target; then "
        "one line per target: measured, bound, ratio, met or MISSED.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="a reduced set that takes about a minute"
    )
    size.add_argument(
        "--full",
        action="store_true",
        help="every section and the exhaustive 30-user exploration (5-10 minutes more)",
    )
    size.add_argument(
        "--tiny",
        action="store_true",
        help="toy sizes, one run each: shows every line prints, the figures mean nothing",
    )
    p.add_argument("--repeat", type=int, metavar="N", help="runs per measurement (default 3)")
    p.add_argument(
        "--only",
        metavar="SECTIONS",
        help="comma-separated: startup,fixtures,migrate,suites,faults,explore30",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not (CHECKOUT / "bench" / "suite.py").is_file():
        raise UsageError(
            f"bench: no bench/ next to {CHECKOUT / 'harness'}; the benchmarks run from a "
            "source checkout (pip install -e .)"
        )
    argv = [sys.executable, "-m", "bench.suite"]
    argv += [f"--{flag}" for flag in ("quick", "full", "tiny") if getattr(args, flag)]
    if args.repeat:
        argv += ["--repeat", str(args.repeat)]
    if args.only:
        argv += ["--only", args.only]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CHECKOUT), env.get("PYTHONPATH")) if p)
    return subprocess.run(argv, env=env, check=False).returncode
