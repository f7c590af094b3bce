"""``python -m harness.powerloss``: the power-loss exploration from a shell, and its replays.

The same options as ``migration-kit explore`` where they mean the same thing (``--migrator``,
``--tree``, ``--case``, ``--json``), so that ``migration-kit explore --power-loss`` can hand
its arguments over as they are. Exit status as ``explore``: 0 when no case broke a rule,
1 when one did (or was missed), 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fixtures.validate import SpecError
from harness import explore
from harness.adapters import MigratorSpecError
from harness.explore_plugin import load_tree
from harness.powerloss.explorer import explore_power_loss


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--migrator", default=explore.DEFAULT_MIGRATOR, metavar="SPEC")
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
    except (OSError, SpecError, TypeError, MigratorSpecError, explore.ExploreError) as exc:
        print(f"power loss: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    if args.json:
        Path(args.json).write_text(report.to_json(), encoding="utf-8")
    return report.exit_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.powerloss",
        description="Every state a power cut can leave during a migration (SPEC R17): "
        "no content lost in it, and the fault-free result after a clean re-run.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
