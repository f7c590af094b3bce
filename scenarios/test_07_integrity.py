"""Checklist item 7: "Test database integrity verification".

The seed adds ``verifyDatabase()`` (``PRAGMA integrity_check`` on the new DB, after the
move). The risk is what that order allows: a corrupt ``peek.db`` is moved first and checked
after, so the only copy is already gone from where the server looks, and its backup is
later cleaned up; and ``fs.existsSync(newDbPath)`` takes *any* file there, the dry-run
trap's empty DB included, for a finished migration. SPEC R7: a corrupt peek.db leaves that
user untouched, the error reported, every other user migrated. SPEC R5: with old and new DB
both present, a verified copy is finished; anything else is left untouched and reported.
"""

from __future__ import annotations

import pytest

from harness.judge.oracles import check_r1, check_r5, check_r7
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.integrity


def test_corrupt_databases_are_refused_and_everyone_else_migrated(trial: Trial) -> None:
    """R7, one user per kind of damage (truncated, zeroed or garbage header, a damaged
    b-tree page, empty, not a database): each untouched and named; the healthy migrated."""
    tree = trial.tree(trees.corrupt_users())
    step = trial.migrate(tree)
    trial.judge(step, check_r7(*step))


def test_both_databases_present_finish_a_verified_copy_and_refuse_the_trap(
    trial: Trial,
) -> None:
    """R5: a new DB with exactly the old content is finished; an empty new DB (the dry-run
    trap) leaves both untouched and is reported; the legacy user migrated (R1)."""
    tree = trial.tree(trees.both_present())
    step = trial.migrate(tree)
    trial.judge(step, check_r5(*step), check_r1(*step))
