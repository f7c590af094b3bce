"""The deploy commands: ``plan``, ``capture``, ``replay``, ``rehearse``.

What a person does with a real data dir before and after a deploy (the seed's deployment
strategy and Immediate Action): preview the run, rehearse it on a copy, and turn a field
failure into a test. Exit status: 0 fine, 1 something needs a person (a warning, a rule
broken), 2 bad input. Bad input is one line on stderr naming the path and what to do,
never a traceback, and nothing is written to the data dir in any case.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from harness import plan
from migrator.datadir import DataDirError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

BAD_INPUT = (DataDirError,)

Handler = Callable[[argparse.Namespace], int]


def _guarded(handler: Handler) -> Handler:
    """Bad input and file errors become one line and exit status 2, never a traceback."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except BAD_INPUT as exc:
            return _bad(str(exc))
        except BrokenPipeError:  # the reader went away (| head): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_FAILED
        except OSError as exc:
            where = exc.filename or "a file"
            return _bad(
                f"{where}: {exc.strerror or exc}; check that the path exists and that you may "
                "read it (run as the server's user), then retry"
            )

    return run


def _bad(message: str) -> int:
    print(f"migration-kit: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan",
        help="preview a production run: per user what would happen, warnings first",
        description="Read-only preview of a migration run on DATA_DIR: warnings a person "
        "must see first (users that would fail, WAL backlog, free space, symlinks), then per "
        "user what would happen. Changes nothing.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--workers", type=int, default=None, metavar="N", help="processes (default: auto)"
    )
    p.set_defaults(handler=_guarded(run_plan))


def run_plan(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        return _bad(f"--workers {args.workers}: must be 1 or more")
    found = plan.collect(Path(args.data_dir), workers=args.workers)
    (plan.render_json if args.json else plan.render_text)(found, sys.stdout)
    return EXIT_FAILED if found.needs_person else EXIT_OK
