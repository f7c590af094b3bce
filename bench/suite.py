"""Every benchmark of the kit in one run, and the table the README's "Performance" carries.

    migration-kit bench [--quick]        (or: python -m bench.suite [--quick])

Sections, in this order, each printed as it finishes and all gathered in one table at the
end: the machine as measured; ``migration-kit``'s start-up (``--help`` and ``status DIR``
against 0.3 s, ``bench_startup``); the fixture kit's builds (``bench_fixtures``); the
reference migrator against its floor and the Node seed, with a profile
(``bench_migrate``); and, without ``--quick``, the checklist and the kill-point
exploration with 1 and 2 workers (``bench_suites``), strace's overhead, and the strace and
power-loss benchmarks of the fault engineers, passed through; with ``--full`` (or
``--only explore30``) the exhaustive exploration of a 30-user tree too. A section that
fails is reported and the others still run. ``--quick`` is a reduced set (16 MiB, 200
users, one run each) that takes about a minute; ``--tiny`` toy sizes (1 MiB, 20 users)
that only show every line prints. The run ends with one line per target of issue 16
(``bench.targets``): measured, bound, ratio, met or MISSED, or "not measured" and why.
Figures, never assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from collections.abc import Callable

from bench import bench_migrate, bench_startup, bench_suites, others
from bench.common import Figure, machine, markdown_table, remove, scratch_dir
from bench.targets import summary_lines
from fixtures.factory import TreeFactory

SECTIONS = ("startup", "fixtures", "migrate", "suites", "faults", "explore30")
DEFAULT_SECTIONS = ("startup", "fixtures", "migrate", "suites", "faults")
QUICK_SECTIONS = ("startup", "fixtures", "migrate")
PROFILE_USERS = 2000  # enough for the proportions; a profiled 10,000-user run adds minutes


def _section(title: str, run: Callable[[], list[Figure]], table: list[Figure]) -> None:
    """Run one section, print its figures, add them to the table; a failure is reported."""
    print(f"\n## {title}", flush=True)
    started = time.monotonic()
    try:
        figures = run()
    except Exception:  # one broken benchmark must not lose the others' figures
        traceback.print_exc()
        figures = [Figure(title, "s", note="failed (traceback above)")]
    print(markdown_table(figures))
    print(f"({time.monotonic() - started:.0f} s)", flush=True)
    table.extend(figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a reduced set, about a minute")
    size.add_argument(
        "--full",
        action="store_true",
        help="every section, the exhaustive 30-user exploration too (5-10 min more)",
    )
    size.add_argument(
        "--tiny",
        action="store_true",
        help="toy sizes (1 MiB, 20 users, one run): that every line prints, not figures",
    )
    parser.add_argument("--repeat", type=int, help="runs per measurement (default 3, quick 1)")
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    base = (
        bench_migrate.TINY
        if args.tiny
        else bench_migrate.QUICK
        if args.quick
        else bench_migrate.FULL
    )
    sizes = dataclasses.replace(base, repeat=args.repeat or base.repeat)
    default = (
        SECTIONS if args.full else QUICK_SECTIONS if args.quick or args.tiny else DEFAULT_SECTIONS
    )
    chosen = args.only.split(",") if args.only else default
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {SECTIONS}")
    started = time.monotonic()
    where = machine()
    flags = [f"--{f}" for f in ("quick", "full", "tiny") if getattr(args, f)]
    command = " ".join(["migration-kit bench", *flags])
    print(f"# {command}\nmachine: {where.describe()}", flush=True)
    table: list[Figure] = []
    factory = TreeFactory()
    scratch = scratch_dir("mk-bench-")
    try:
        if "startup" in chosen:
            _section(
                "migration-kit start-up",
                lambda: bench_startup.startup(sizes.repeat, factory, scratch),
                table,
            )
        if "fixtures" in chosen:
            tree_users = 20 if args.tiny else 500 if args.quick else 10_000
            _section(
                "fixture kit",
                lambda: others.fixtures(sizes.large_bytes, tree_users, sizes.repeat),
                table,
            )
        if "migrate" in chosen:
            _section(
                "reference migrator, one large user",
                lambda: bench_migrate.large_user(sizes, factory, scratch),
                table,
            )
            _section(
                "reference migrator, many users",
                lambda: bench_migrate.many_users(sizes, factory, scratch),
                table,
            )
            if not args.tiny:
                profiled = dataclasses.replace(sizes, users=min(sizes.users, PROFILE_USERS))
                print()
                print(bench_migrate.profile(profiled, factory, scratch), flush=True)
        if "suites" in chosen:
            _section("checklist", lambda: bench_suites.checklist(1), table)
            _section("kill-point exploration", lambda: bench_suites.exploration(1), table)
        if "faults" in chosen:
            _section("strace overhead", lambda: others.strace_overhead(sizes.repeat * 2), table)
            others.passthrough("bench_strace")
            others.passthrough("bench_powerloss")
        if "explore30" in chosen:
            _section(
                "exhaustive exploration, 30 users",
                lambda: [bench_suites.exhaustive()],
                table,
            )
    finally:
        remove(scratch)
    took = time.monotonic() - started
    elapsed = f"{took:.0f} s" if took < 120 else f"{took / 60:.0f} min"
    print(f"\n# all figures ({command}, {elapsed}, {where.describe()})\n")
    print(markdown_table(table))
    print(f"\n# targets (issue 16), from this run ({command})\n")
    print("\n".join(summary_lines(table)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
