"""The app after the move (R18): the user's after-check, run on a migrated tree.

The check is a migrator-like spec (``cmd:``, ``py:`` or ``serve:`` with its options, read by
:func:`harness.run.adapters.parse_migrator`), run with ``DATA_DIR`` set to the migrated tree:
the server started once more, or a script that reads every datastore through the app's own
code. It is the app, so it may write (a server's start-up migrates again, takes a backup):
it runs on a copy of the tree, after the step's snapshots are taken, so it can neither
change the verdicts on the migration nor the tree a later step of the scenario runs on.

What fails it (:func:`harness.judge.oracles.rules.check_r18`): an exit status, a crash, a
timeout, a JSON error event, or for ``serve:`` not getting ready or a ``--fail-line`` match;
a working app's chatter (a warning on stderr, "0 errors") does not.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from fixtures.cache import copy_tree
from harness.contract.errors import KitError
from harness.run.adapters import Migrator, MigratorSpecError, ServeMigrator, parse_migrator
from harness.run.process import RunResult
from harness.run.serve import DEFAULT_FAIL_LINE, ServeSpecError
from harness.store.scratch import remove_tree


class AfterCheckSpecError(KitError, ValueError):
    """An ``--after-check`` (or ``after-check`` key) that names nothing runnable."""


class AfterCheckCopyError(KitError):
    """The migrated tree could not be copied for the after-check (an unreadable file)."""


# The ``--fail-line`` of a ``serve:`` check the user gave none for: a regex that matches
# nothing. The launcher's default (a line saying error, fail or critical) is SPEC's "reported"
# for a migrator; a working app says such words too ("0 errors", a warning), and R18 fails on
# what the user says is a failure, not on a word.
NO_FAIL_LINE = "(?!)"


def parse_after_check(
    spec: str | None,
    *,
    cwd: str | None = None,
    timeout: float | None = None,
    like: Migrator | None = None,
) -> Migrator | None:
    """The check ``spec`` names (None when none is given), parsed as a migrator spec.

    A ``serve:`` check that says nothing of its readiness takes the migrator's serve options
    (``like``'s) but for those it sets itself: "the server started once more" is
    ``--after-check 'serve:node server.js'`` beside ``--migrator 'serve:node server.js'
    --ready-line R``, without R written twice. Its ``--fail-line`` is its own or the
    migrator's, when the user gave one; else none (:data:`NO_FAIL_LINE`).
    """
    if spec is None or not spec.strip():
        return None
    try:
        check = parse_migrator(spec, cwd=cwd, timeout=timeout)
    except (MigratorSpecError, ServeSpecError) as exc:
        message = str(exc).replace("unknown migrator", "unknown after-check", 1)
        raise AfterCheckSpecError(f"--after-check: {message}") from None
    if not isinstance(check, ServeMigrator):
        return check
    options = check.options
    if (
        isinstance(like, ServeMigrator)
        and options.ready_line is None
        and options.ready_port is None
    ):
        own = {
            f.name: getattr(options, f.name)
            for f in dataclasses.fields(options)
            if getattr(options, f.name) != f.default
        }
        options = dataclasses.replace(like.options, **own)
    if options.fail_line == DEFAULT_FAIL_LINE:
        options = dataclasses.replace(options, fail_line=NO_FAIL_LINE)
    return dataclasses.replace(check, options=options)


def run_after_check(check: Migrator, tree: Path, scratch: Path) -> RunResult:
    """Run ``check`` on a copy of ``tree`` made at ``scratch`` (which must not exist or be
    empty); the copy is removed afterwards, what the check printed is the result."""
    try:
        copy_tree(tree, scratch)
    except (OSError, subprocess.CalledProcessError) as exc:
        remove_tree(scratch)
        raise AfterCheckCopyError(
            f"{tree}: cannot copy the migrated tree for the after-check to {scratch} ({exc}); "
            "make the tree readable, or run without --after-check"
        ) from None
    try:
        return check.run(scratch)
    finally:
        remove_tree(scratch)
