"""The migrator's commands: ``migrate``, ``status``, ``cleanup-backups``.

Registered into ``migration-kit`` (``harness.cli.main``) and runnable alone as
``python -m migrator``. Exit status: 0 fine, 1 a user failed or needs a person, 2 bad input.
Bad input is one line naming the path and what to do, never a traceback, and nothing is
written before the input has been checked.

Registering the commands imports only ``layout`` (for the help texts): each handler imports
what it runs, so ``migration-kit status DIR`` does not pay for the migration's modules.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from migrator import layout

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "migrate",
        help="migrate every user of a server data dir to profiles/default",
        description="Migrate every user's peek.db and images/ to profiles/default/. "
        f"Honours {layout.DRY_RUN_ENV}=true and {layout.GRACE_DAYS_ENV}.",
    )
    p.add_argument(
        "data_dir",
        nargs="?",
        metavar="DATA_DIR",
        help=f"the server's data dir (default: ${layout.DATA_DIR_ENV})",
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be done; write nothing")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_migrate)

    p = subparsers.add_parser(
        "status", help="per user: legacy, migrated, half-migrated, conflict, corrupt, orphan"
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_status)

    p = subparsers.add_parser(
        "cleanup-backups",
        help="delete pre-migration backups older than the grace period (fully migrated users)",
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument(
        "--grace-days",
        type=float,
        default=None,
        metavar="N",
        help=f"grace period in days (default: ${layout.GRACE_DAYS_ENV} or 30)",
    )
    p.add_argument("--dry-run", action="store_true", help="name what would be deleted")
    p.set_defaults(handler=run_cleanup)


def _bad(message: str) -> int:
    print(f"migration-kit: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _broken(exc: OSError) -> int:
    """An I/O error of the whole run (taking the lock, listing the dir): one line, exit 1."""
    where = f"{exc.filename}: " if exc.filename else ""
    what = exc.strerror or str(exc)
    print(f"migration-kit: {where}{what}; the run stopped: fix the cause, re-run", file=sys.stderr)
    return EXIT_FAILED


def _data_dir(arg: str | None) -> Path | None:
    raw = arg if arg else os.environ.get(layout.DATA_DIR_ENV)
    return Path(raw) if raw else None


def run_migrate(args: argparse.Namespace) -> int:
    from migrator import log, server
    from migrator.datadir import DataDirError
    from migrator.report import MigrationFailed

    data_dir = _data_dir(args.data_dir)
    if data_dir is None:
        return _bad(f"no data dir given: pass DATA_DIR or set ${layout.DATA_DIR_ENV}")
    try:
        dry_run = server.dry_run_from_env() or args.dry_run
        grace = server.grace_days_from_env()
        layout.layout_from_env()
    except ValueError as exc:
        return _bad(str(exc))
    sink = log.make(args.log_format, sys.stdout)
    try:
        server.migrate(data_dir, dry_run=dry_run, grace_days=grace, log=sink)
    except DataDirError as exc:
        return _bad(str(exc))
    except MigrationFailed:
        return EXIT_FAILED  # the log already has one line per failed user and the summary
    except OSError as exc:
        return _broken(exc)
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    from migrator import status
    from migrator.datadir import DataDirError

    try:
        found = status.collect(Path(args.data_dir))
    except DataDirError as exc:
        return _bad(str(exc))
    except OSError as exc:
        return _broken(exc)
    (status.render_json if args.json else status.render_text)(found, sys.stdout)
    return EXIT_FAILED if found.needs_person else EXIT_OK


def run_cleanup(args: argparse.Namespace) -> int:
    from migrator import cleanup, log, server
    from migrator.datadir import DataDirError

    if args.grace_days is not None and not args.grace_days >= 0:
        return _bad(f"--grace-days {args.grace_days}: must be zero or more days")
    try:
        grace = server.grace_days_from_env() if args.grace_days is None else args.grace_days
    except ValueError as exc:
        return _bad(str(exc))
    try:
        result = cleanup.cleanup_backups(
            Path(args.data_dir), grace_days=grace, dry_run=args.dry_run, log=log.TextLog(sys.stdout)
        )
    except DataDirError as exc:
        return _bad(str(exc))
    except OSError as exc:
        return _broken(exc)
    return EXIT_FAILED if result.problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m migrator", description="The reference server profiles migration."
    )
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names_as_on_disk()
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("migration-kit: interrupted", file=sys.stderr)
        return 130


def names_as_on_disk() -> None:
    """Print a user folder name that is not UTF-8 with the bytes it has on disk (as Python
    read it, ``os.fsdecode``), as ``ls`` would, whatever the locale: in a strict UTF-8 locale
    the name would otherwise end the command in a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")
