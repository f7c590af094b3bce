"""Options several commands share, whose effect reaches past this process.

``--timeout SECONDS`` bounds each run of the migrator. It travels as the environment
variable ``MIGRATION_KIT_TIMEOUT`` (:func:`harness.run.adapters.default_timeout`) rather
than as an argument, because the runs happen in child pytests and their xdist workers, which
inherit this process's environment; ``timeout`` in ``[tool.migration-kit]`` sets its default.
"""

from __future__ import annotations

import argparse
import os

from harness.contract.settings import TIMEOUT_ENV


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0")
    return number


def add_timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help=f"kill a migrator run after SECONDS (default ${TIMEOUT_ENV}, else 600)",
    )


def apply_timeout(args: argparse.Namespace) -> None:
    """Make ``--timeout`` (or its configured default) the timeout of every run from here."""
    timeout = getattr(args, "timeout", None)
    if timeout is not None:
        os.environ[TIMEOUT_ENV] = repr(float(timeout))
