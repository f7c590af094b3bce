"""Options every command that runs a migrator shares: ``--timeout``, and how the migrator
is opened (parsed, given its timeout and directory, and started once on an empty tree).

Cheap to import, as a command's registration must be: the adapters and the preflight are
imported when a migrator is opened."""

from __future__ import annotations

import argparse
import math
import os
from typing import TYPE_CHECKING

from harness.contract.settings import DEFAULT_TIMEOUT, TIMEOUT_ENV

if TYPE_CHECKING:
    from harness.run.adapters import Migrator


def timeout_option(p: argparse.ArgumentParser, default: float = DEFAULT_TIMEOUT) -> None:
    """``--timeout SECONDS``: every command that runs a migrator has it."""
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=default,
        metavar="SECONDS",
        help="kill a migrator run that takes longer, with everything it started, and report "
        f"that it did not finish (the other runs go on); default {default:g}",
    )


def after_check_option(p: argparse.ArgumentParser) -> None:
    """``--after-check SPEC`` (R18): every command that judges a real migration has it."""
    p.add_argument(
        "--after-check",
        default=None,
        metavar="SPEC",
        help="the app, run with DATA_DIR on the migrated tree after every successful "
        "migration: 'cmd:...', 'py:...' or 'serve:[OPTIONS --] COMMAND' (a serve: check "
        "without --ready-line/--ready-port takes the migrator's); its non-zero exit, "
        "timeout, JSON error event or (serve:) --fail-line match is a finding under R18",
    )


def open_after_check(args: argparse.Namespace, migrator: Migrator) -> Migrator | None:
    """The app's check ``--after-check`` names (None: none given), run with ``--timeout``;
    a bad spec is a usage error before anything runs."""
    from harness.scenario.aftercheck import parse_after_check

    return parse_after_check(
        getattr(args, "after_check", None), timeout=args.timeout, like=migrator
    )


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if seconds > 0 and math.isfinite(seconds):
        return seconds
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds > 0")


def layout_option(p: argparse.ArgumentParser) -> None:
    """``--layout NAME|FILE``: every command that runs or judges a migrator has it."""
    p.add_argument(
        "--layout",
        default=None,
        metavar="NAME|FILE",
        help="the target layout the migration is judged by: peek-slug (profiles/default, "
        "the default), peek-uuid (profiles/<profile row id>) or a layout file "
        "(docs/layouts.md); migrators get it as $MIGRATION_LAYOUT",
    )


def apply_layout(args: argparse.Namespace) -> None:
    """Make ``--layout`` (or the project's ``layout`` key) the layout in force, here and in
    everything started from here (child pytests, their workers, the migrators), as
    :func:`apply_timeout` does for the timeout. A bad name or file: ``LayoutError``."""
    value = getattr(args, "layout", None)
    if not value:
        return  # before the import: layouts read TOML, which ``status DIR`` never needs
    from pathlib import Path

    from harness.contract import layout

    config_path = getattr(args, "config_path", None)
    try:
        chosen = layout.load(value)
    except layout.LayoutError:
        if config_path is None:
            raise
        chosen = layout.load(value, base=Path(config_path).parent)  # relative to the table
    os.environ[layout.LAYOUT_ENV] = layout.env_value(chosen)


def open_migrator(spec: str | None, args: argparse.Namespace) -> Migrator:
    """The migrator ``spec`` names, run in this directory with ``--timeout``, once started
    on an empty data dir: :class:`MigratorSpecError` or
    :class:`~harness.scenario.preflight.MigratorCannotStart` (both usage: exit status 2)
    when it cannot run at all."""
    from harness.run.adapters import parse_migrator
    from harness.scenario.preflight import preflight

    migrator = parse_migrator(spec, timeout=args.timeout)
    preflight(migrator)
    return migrator


def apply_timeout(args: argparse.Namespace) -> None:
    """Make ``--timeout`` the default of every run from here on, also in the child pytests
    and their xdist workers, which inherit this environment (:func:`harness.run.adapters.
    default_timeout` reads it where a run is given no timeout of its own)."""
    timeout = getattr(args, "timeout", None)
    if timeout is not None:
        os.environ[TIMEOUT_ENV] = repr(float(timeout))
