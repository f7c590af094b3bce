"""``python -m harness.cli.powerloss``: the power-loss exploration in this process, without
the fault explorer's other options (``migration-kit explore --power-loss`` is the command;
:mod:`harness.cli.explore` runs it).

Every state a power cut can leave during one migration (SPEC R17), judged here: no content
lost in it, and the fault-free result after a clean re-run. ``--case K:EFFECT`` (repeatable)
runs only those cases. Exit status as ``explore``: 0 when no case broke a rule, 1 when one
did, 2 for bad input; errors go through ``migration-kit``'s one boundary
(:func:`harness.cli.main.guard`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.main import guard
from harness.contract.settings import DEFAULT_FS, DEFAULT_MIGRATOR, FS_PROFILES
from harness.run import serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--migrator", default=DEFAULT_MIGRATOR, metavar="SPEC")
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
    parser.add_argument(
        "--fs",
        choices=FS_PROFILES,
        default=DEFAULT_FS,
        help="the persistence profile whose crash states are built (docs/power-loss.md)",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="write the report as JSON")
    parser.add_argument("--workdir", default=None, metavar="DIR", help="scratch space")


def run(args: argparse.Namespace) -> int:
    from fixtures.spec import TreeSpec
    from harness.explore.exploration import DEFAULT_TREE, Exploration
    from harness.explore.powerloss.explorer import explore_power_loss
    from harness.explore.powerloss.profiles import Fs

    tree = TreeSpec.load(args.tree) if args.tree else DEFAULT_TREE
    exploration = Exploration(migrator=args.migrator, tree=tree)
    exploration.open_migrator()  # a bad spec is a usage error, before anything runs
    report = explore_power_loss(
        exploration,
        Path(args.workdir) if args.workdir else None,
        cases=args.case,
        fs=Fs(args.fs),
    )
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
    return guard(run, args)


if __name__ == "__main__":
    sys.exit(main())
