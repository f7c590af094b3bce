"""Run a Python migrator callable as a process that follows SPEC's external contract.

``python -m harness.run.pyrunner package.module:function`` reads ``DATA_DIR``,
``MIGRATION_DRY_RUN`` and ``MIGRATION_BACKUP_GRACE_DAYS`` from the environment exactly as a
shell-command migrator would, calls ``function(Path(DATA_DIR), dry_run=...)`` and turns the
outcome into an exit status. So a Python callable is judged through the very same process
boundary as any other migrator: its crashes, memory and output are its own, and the harness
measures its peak RSS the same way.

Exit status: 0 the callable returned, 1 it raised (the traceback is printed),
:data:`LOAD_ERROR` (125) it could not be loaded, has no contract signature, or the
environment is incomplete: the migrator could not start, which is not a migration failure.
A status of its own, so the harness tells it from a callable's own ``sys.exit(2)``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from harness.contract.errors import KitError

LOAD_ERROR = 125
# A Python migrator's log records are its output, as they would be in a server's log.
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class TargetError(KitError):
    """``module:function`` cannot be imported, is not a callable, or is not a migrator."""


def load_target(target: str) -> Callable[..., object]:
    """Import ``package.module:function`` and return the function."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"{target!r}: expected 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import module {module_name!r}: {exc}") from exc
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise TargetError(f"{target!r} is not callable")
    check_signature(target, obj)
    return obj


def check_signature(target: str, func: Callable[..., object]) -> None:
    """Refuse a callable that cannot be called as ``f(data_dir, *, dry_run=...)``.

    ``py:os:getcwd`` imports fine and then fails in every run with a TypeError that reads
    like a migration failure. A callable whose signature Python cannot tell (some built-ins)
    gets the benefit of the doubt.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(Path("DATA_DIR"), dry_run=False)
    except TypeError as exc:
        raise TargetError(
            f"{target!r} takes {signature}, not (data_dir, *, dry_run): {exc}"
        ) from None


def accepts_grace_days(func: Callable[..., object]) -> bool:
    """Whether ``func`` takes a ``grace_days`` keyword (the reference migrator does)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "grace_days" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def call_kwargs(func: Callable[..., object], *, dry_run: bool, grace_days: float | None) -> dict:
    """The keywords a contract callable gets: ``dry_run``, and ``grace_days`` if it takes it.

    A callable that does not take ``grace_days`` can still read MIGRATION_BACKUP_GRACE_DAYS
    from the environment, which the runner sets, like a shell command would.
    """
    kwargs: dict[str, object] = {"dry_run": dry_run}
    if grace_days is not None and accepts_grace_days(func):
        kwargs["grace_days"] = grace_days
    return kwargs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m harness.run.pyrunner package.module:function", file=sys.stderr)
        return LOAD_ERROR
    data_dir = os.environ.get("DATA_DIR")
    if not data_dir:
        print("harness.run.pyrunner: DATA_DIR is not set", file=sys.stderr)
        return LOAD_ERROR
    grace = os.environ.get("MIGRATION_BACKUP_GRACE_DAYS")
    try:
        func = load_target(args[0])
        grace_days = float(grace) if grace is not None else None
    except (TargetError, ValueError) as exc:
        print(f"harness.run.pyrunner: {exc}", file=sys.stderr)
        return LOAD_ERROR
    dry_run = os.environ.get("MIGRATION_DRY_RUN") == "true"
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    try:
        func(Path(data_dir), **call_kwargs(func, dry_run=dry_run, grace_days=grace_days))
    except Exception as exc:
        traceback.print_exc()
        name = type(exc).__name__
        print(f"harness.run.pyrunner: {args[0]} failed: {name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
