"""The desktop migration held to SPEC's non-destructive rules, on real userData trees.

The seed calls the desktop migration "already safe": it "only creates records in
profiles.db, never moves or modifies data directories, fully idempotent". These scenarios
make that a checked claim, for the reference (``migrator.desktop``) and for any desktop or
future mobile migrator run through the same adapters (``py:...`` or ``cmd:...`` with
``DATA_DIR`` set to the userData folder). The migrator under test is chosen apart from the
server's ``--migrator``: ``--desktop-migrator SPEC`` when the plugin offers it, else
``$MIGRATION_KIT_DESKTOP_MIGRATOR``, else the reference.

The risk guarded: a "metadata only" migration that touches a profile's datastore (a
VACUUM, a schema upgrade, a move), drops or rewrites a row someone added in the app, or
adds rows again on every start.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixtures.desktop import PROFILE_NAMES, PROFILES_DB
from fixtures.spec import DesktopSpec
from harness.contract.content import open_copy
from harness.judge.snapshot import Entry, Snapshot, entry_changes
from harness.run.adapters import Migrator, parse_migrator

DESKTOP_MIGRATOR_ENV = "MIGRATION_KIT_DESKTOP_MIGRATOR"
REFERENCE = "py:migrator.desktop:migrate_desktop"
METADATA = (PROFILES_DB, PROFILES_DB + "-wal", PROFILES_DB + "-shm")

TREES = {
    "fresh_both_folders": DesktopSpec(),
    "only_default": DesktopSpec(folders=("default",)),
    "only_dev": DesktopSpec(folders=("dev",)),
    "empty_profiles_db": DesktopSpec(profiles_db=True),
    "dev_added_later": DesktopSpec(profiles_db=True, profile_rows=("default",)),
    "all_listed": DesktopSpec(profiles_db=True, profile_rows=("default", "dev")),
    "nothing_at_all": DesktopSpec(folders=()),
}


@pytest.fixture
def desktop_migrator(request: pytest.FixtureRequest) -> Migrator:
    spec = (
        request.config.getoption("mk_desktop_migrator", default=None)
        or os.environ.get(DESKTOP_MIGRATOR_ENV)
        or REFERENCE
    )
    return parse_migrator(spec)


@pytest.fixture(params=sorted(TREES))
def user_data(request: pytest.FixtureRequest, make_tree) -> tuple[Path, DesktopSpec]:
    spec = TREES[request.param]
    return make_tree(spec)[0], spec


@pytest.fixture(params=sorted(n for n, s in TREES.items() if s.profiles_db))
def user_data_with_db(request: pytest.FixtureRequest, make_tree) -> tuple[Path, DesktopSpec]:
    spec = TREES[request.param]
    return make_tree(spec)[0], spec


def _data(entries: dict[str, Entry]) -> dict[str, Entry]:
    """Everything but the metadata database the migration exists to write."""
    return {p: e for p, e in entries.items() if p.split("/")[-1] not in METADATA}


def _rows(user_data: Path) -> tuple[dict[str, tuple], str | None]:
    """profiles rows by slug (name, is_default) and the active profile, read via a copy."""
    with open_copy(user_data / PROFILES_DB) as conn:
        rows = {
            s: (n, d) for s, n, d in conn.execute("SELECT slug, name, is_default FROM profiles")
        }
        active = conn.execute("SELECT profile_slug FROM active_profile WHERE id = 1").fetchone()
    return rows, active[0] if active else None


def test_every_pre_existing_file_is_byte_identical(user_data, desktop_migrator) -> None:
    """Names, sizes, bytes, modes and mtimes of every datastore, session file and folder:
    nothing is moved, rewritten or deleted, and nothing but profiles.db is added."""
    root, _ = user_data
    before = Snapshot.take(root)
    run = desktop_migrator.run(root)
    after = Snapshot.take(root)
    assert run.ok, run.output
    changes = entry_changes(_data(before.entries), _data(after.entries))
    assert not changes, "\n".join(map(str, changes))


def test_rows_already_in_profiles_db_stay_as_they_were(user_data_with_db, desktop_migrator) -> None:
    """Rows a person made in the app (or an earlier run) are never dropped or rewritten."""
    root, _ = user_data_with_db
    before = Snapshot.take(root).databases[PROFILES_DB]
    assert desktop_migrator.run(root).ok
    after = Snapshot.take(root).databases[PROFILES_DB]
    assert after.sound and before.content.missing_rows(after.content) == {}


def test_a_profile_row_for_each_existing_folder_and_an_active_profile(
    user_data, desktop_migrator
) -> None:
    """peek-facts: rows for existing ``default`` and ``dev`` folders, the active profile set."""
    root, spec = user_data
    run = desktop_migrator.run(root)
    assert run.ok, run.output
    if not spec.folders and not spec.profiles_db:
        assert not (root / PROFILES_DB).exists()  # nothing to list, nothing created
        return
    rows, active = _rows(root)
    assert set(rows) == set(spec.folders) | set(spec.profile_rows)
    for slug in spec.folders:
        assert rows[slug][0] == PROFILE_NAMES[slug]
    if "default" in spec.folders and "default" not in spec.profile_rows:
        assert rows["default"][1] == 1
    assert [s for s, (_, d) in rows.items() if d] in ([], ["default"])
    assert active == ("default" if "default" in rows else next(iter(rows), None))


def test_a_second_run_adds_nothing(user_data, desktop_migrator) -> None:
    """Idempotent: after the first run, a second one leaves every byte and mtime, of
    profiles.db too, exactly as it was."""
    root, _ = user_data
    assert desktop_migrator.run(root).ok
    first = Snapshot.take(root)
    second_run = desktop_migrator.run(root)
    second = Snapshot.take(root)
    assert second_run.ok, second_run.output
    changes = entry_changes(first.entries, second.entries)
    assert not changes, "\n".join(map(str, changes))


def test_a_dry_run_changes_nothing(user_data, desktop_migrator) -> None:
    root, _ = user_data
    before = Snapshot.take(root)
    run = desktop_migrator.run(root, dry_run=True)
    after = Snapshot.take(root)
    assert run.ok, run.output
    changes = entry_changes(before.entries, after.entries)
    assert not changes, "\n".join(map(str, changes))
