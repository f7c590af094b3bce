"""Before any scenario: can the migrator start at all?

A migrator that cannot start (a shell's 126 or 127, a script or module that is not there, a
``py:`` callable that cannot be loaded) would otherwise fail every scenario, each failure
blamed on a rule (R1: "no new DB") while the real cause sits in a log. So every command that
runs a migrator first runs it once, as a dry run, on an empty data dir (a ``system.db`` with
no users): SPEC's contract asks exit status 0 of that run, so anything else is reported
once, with the migrator's own output, as "the migrator could not start".
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

from fixtures.build import build
from fixtures.spec import TreeSpec
from harness.contract.errors import KitError
from harness.run.adapters import Migrator
from harness.run.process import RunResult

EMPTY_TREE = TreeSpec(users=())
OUTPUT_LINES = 20  # of the migrator's output quoted in the message


class MigratorCannotStart(KitError):
    """The migrator failed (or hung) on an empty data dir; ``str()`` says how, for a person.
    Usage (exit status 2): what to change is the spec, the command or its files."""

    def __init__(self, migrator: Migrator, run: RunResult) -> None:
        self.run = run
        super().__init__(cannot_start_message(migrator, run))


def cannot_start_message(migrator: Migrator, run: RunResult) -> str:
    """What went wrong, the command, where it ran and the last lines of its output."""
    how = run.describe()
    head = how if run.timed_out else f"the migrator could not start ({how})"
    lines = [
        f"{head}: a dry run on an empty data dir (no users), which must exit 0",
        f"  migrator: {migrator.spec}",
        f"  command:  {run.command}",
        f"  run in:   {migrator.cwd}",
    ]
    tail = run.tail(OUTPUT_LINES)
    lines.append("  its output:" if tail else "  its output: (none)")
    if tail:
        lines.append(textwrap.indent(tail, "    "))
    return "\n".join(lines)


def preflight(migrator: Migrator) -> RunResult:
    """Run ``migrator`` once, dry, on an empty data dir; raise :class:`MigratorCannotStart`
    unless it exits 0 in time. The scratch tree is removed either way."""
    with tempfile.TemporaryDirectory(prefix="mk-preflight-") as tmp:
        tree = Path(tmp) / "data"
        build(EMPTY_TREE, tree)
        run = migrator.run(tree, dry_run=True)
    if not run.ok:
        raise MigratorCannotStart(migrator, run)
    return run
