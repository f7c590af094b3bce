"""``migration-kit migrate-desktop USERDATA [--dry-run]``: the desktop profiles migration.

Exit status as the server commands: 0 done (or nothing to do), 1 ``profiles.db`` needs a
person (damaged, a profile name taken), 2 bad input (no such folder, unreadable). Every
error is one line naming the path and what to do; nothing is written before the input has
been checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migrator.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "migrate-desktop",
        help="add profiles.db rows for the desktop app's existing profile folders",
        description="The desktop profiles migration: a profiles.db row for each existing "
        "'default' and 'dev' folder of USERDATA, and the active profile if none is set. "
        "Nothing is moved or changed; running it again adds nothing.",
    )
    p.add_argument("user_data", metavar="USERDATA", help="the desktop app's userData folder")
    p.add_argument("--dry-run", action="store_true", help="say what would be added; write nothing")
    p.set_defaults(handler=run_migrate_desktop)


def run_migrate_desktop(args: argparse.Namespace) -> int:
    from migrator.desktop import DesktopError, migrate_desktop  # imported when it runs

    try:
        migrate_desktop(Path(args.user_data), dry_run=args.dry_run)
    except DesktopError as exc:
        print(f"migration-kit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if exc.bad_input else EXIT_FAILED
    except OSError as exc:
        print(
            f"migration-kit: {exc.filename or args.user_data}: {exc.strerror or exc}; check "
            "the path and its permissions (run as the desktop user), then re-run",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return EXIT_OK
