"""The power-loss exploration from a shell: ``migration-kit explore --power-loss`` and
``python -m harness.cli.powerloss`` (the same, without the fault explorer's other options).

``migration-kit explore --power-loss`` takes ``explore``'s own arguments and modes
(:func:`run_explore`): the whole exploration as the tests of
``scenarios/test_power_loss.py`` in a child pytest with ``-n N`` workers, ``--case
K:EFFECT`` judged here with the whole failure text (the replay command every report
prints), or ``--list``. Exit status as ``explore``: 0 when no case broke a rule, 1 when one
did (or was missed, or the fault-free run loses content itself), 2 for bad input, 3 when the
child pytest did not run to the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fixtures.validate import SpecError
from harness.explore import engine as explore
from harness.explore.powerloss.baseline import power_baseline
from harness.explore.powerloss.explorer import PowerLoss, explore_power_loss
from harness.explore.results import OK
from harness.pytest_plugin.explore import load_tree
from harness.run import serve
from harness.run.adapters import MigratorSpecError

SCENARIO = "scenarios.test_power_loss::test_power_loss"
_USAGE_ERRORS = (OSError, SpecError, TypeError, MigratorSpecError, explore.ExploreError)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--migrator", default=explore.DEFAULT_MIGRATOR, metavar="SPEC")
    serve.add_options(parser.add_argument)
    parser.add_argument(
        "--tree",
        default=None,
        metavar="SPEC",
        help="a TreeSpec JSON file or the JSON text (default: the explorer's default tree)",
    )
    parser.add_argument(
        "--case",
        action="append",
        default=None,
        metavar="K:EFFECT",
        help="only this case (repeatable), e.g. 41:power-loss-synced",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="write the report as JSON")
    parser.add_argument("--workdir", default=None, metavar="DIR", help="scratch space")


def run(args: argparse.Namespace) -> int:
    try:
        tree = load_tree(args.tree) if args.tree else explore.DEFAULT_TREE
        exploration = explore.Exploration(migrator=args.migrator, tree=tree)
        exploration.open_migrator()  # a bad spec is a usage error, before anything runs
        report = explore_power_loss(
            exploration, Path(args.workdir) if args.workdir else None, cases=args.case
        )
    except _USAGE_ERRORS as exc:
        print(f"power loss: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    if args.json:
        Path(args.json).write_text(report.to_json(), encoding="utf-8")
    return report.exit_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.cli.powerloss",
        description="Every state a power cut can leave during a migration (SPEC R17): "
        "no content lost in it, and the fault-free result after a clean re-run.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    serve.fold_args(args, parser)
    return run(args)


def run_explore(args: argparse.Namespace) -> int:
    """``migration-kit explore --power-loss``: ``args`` are ``explore``'s own."""
    from harness.cli import (
        explore as explore_cli,  # it dispatches here: imported when used, not before
    )

    started = time.monotonic()
    try:
        exploration = explore_cli.exploration_from_args(args)
        if exploration.backend != "syscall":
            raise explore.ExploreError("power loss replays a syscall trace: --backend syscall")
        available = explore.backend_available("syscall")
        if not available:
            raise explore.ExploreError(f"strace unavailable: {available.reason}")
        power = PowerLoss(power_baseline(exploration))
        chosen = [power.case(c) for c in args.cases] if args.cases else None
    except _USAGE_ERRORS as exc:
        print(f"migration-kit explore: {exc}", file=sys.stderr)
        return explore_cli.EXIT_USAGE
    if args.list:
        for case in power.cases():
            print(f"{case.id:>24}  {case.describe_op()}")
        print(f"{len(power.cases())} case(s); {power.not_explored()}")
        return explore_cli.EXIT_OK
    if chosen is not None:
        report = explore_power_loss(exploration, cases=[c.id for c in chosen])
        for result in report.results:
            print(f"case {result.case.id}: {result.fault}: {result.outcome}")
            if result.outcome != OK:
                print(f"\n{result.error()}\n")
    else:
        outcome = explore_cli.run_child(exploration, args, len(power.cases()), SCENARIO)
        if isinstance(outcome, int):
            return outcome
        report = outcome
    return explore_cli.finish(report, args, started)


if __name__ == "__main__":
    sys.exit(main())
