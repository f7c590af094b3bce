"""``migration-kit``: one command, a subcommand per job.

Each package contributes its subcommands through a ``register(subparsers)`` function, so this
module only assembles them. A subcommand handler takes the parsed arguments and returns the
exit status: 0 fine, 1 the data or the migrator needs a person, 2 usage or bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness.run import serve

# Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "migrator.cli",
    "migrator.desktop_cli",
    "fixtures.cli",
    "harness.cli.checklist",
    "harness.cli.explore",
    "harness.cli.deploy",
    "harness.cli.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migration-kit",
        description="Test a data migration before it runs on production data.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # that part of the kit is not built yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    serve.fold_args(args, parser)  # --migrator 'serve:CMD' --ready-line R: one spec from here
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("migration-kit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
