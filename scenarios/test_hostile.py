"""Beyond the checklist: what else lives in a real DATA_DIR.

The seed lists user folders with ``readdirSync(DATA_DIR).filter(dirent => dirent.isDirectory()
&& dirent.name !== 'system.db')``: the server's own ``backups/`` folder is taken for a user,
and so is anything else that is a directory. Real data dirs also hold dot files, stray
files, a user folder that is a symlink to another disk, folders of deleted users (no
``users`` row, so the profile insert fails after the DB was already moved: the field's
stranded images), and names with spaces and accents. SPEC R13: symlinks, regular files, dot
entries and ``backups/`` are not followed and not touched. SPEC R14: a user folder with no
users row is left untouched (or migrated completely, never half) and the error reported.
"""

from __future__ import annotations

import pytest

from fixtures.spec import TreeSpec, UserSpec
from harness.judge.oracles import (
    check_exit_status,
    check_no_content_lost,
    check_r1,
    check_r13,
    check_r14,
)
from harness.scenario import Trial
from scenarios import trees

pytestmark = pytest.mark.hostile

PLAIN = ("plain", "Zoë Ångström", "with space")


def test_non_users_untouched_orphans_reported_plain_users_migrated(trial: Trial) -> None:
    """R13 and R14 on one hostile tree; users with awkward names migrated (R1); nobody's
    content lost, the read-only ones' included."""
    tree = trial.tree(trees.hostile())
    step = trial.migrate(tree)
    trial.judge(
        step,
        check_r13(*step),
        check_r14(*step),
        check_r1(*step, users=PLAIN),
        check_no_content_lost(step.before, step.after),
    )


def test_bait_databases_where_no_user_lives_are_not_taken_for_users(trial: Trial) -> None:
    """R13's bait on its own: ``backups/peek.db`` and ``.cache/peek.db`` look like user
    folders to a migrator that lists every directory (the seed's ``readdirSync`` filter).
    The real server never has them (its backups are zips per user), so the default trees do
    not carry them; here they are, and a finding names the bait that was taken."""
    tree = trial.tree(
        TreeSpec(
            users=(UserSpec("alice", items=30, images=2), UserSpec("bob", items=12)),
            extras=("server_backups", "bait_dbs"),
        )
    )
    step = trial.migrate(tree)
    trial.judge(
        step,
        check_r13(*step),
        check_r1(*step),
        check_exit_status(step.run),
        check_no_content_lost(step.before, step.after),
    )
