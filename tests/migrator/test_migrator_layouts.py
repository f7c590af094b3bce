"""The reference under ``MIGRATION_LAYOUT=peek-uuid``: the profile folder is named after the
profile row's id (Peek's ``migrateProfileFoldersToUuid`` at 398e4a1), and a profile the
seed's migration left in ``profiles/default`` is renamed, once, safely."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from migrator import layout, log, report, server, status
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb


def _row_ids(data_dir: Path) -> dict[str, str]:
    conn = sqlite3.connect(data_dir / "system.db")
    try:
        return dict(conn.execute("SELECT user_id, id FROM profiles WHERE slug = 'default'"))
    finally:
        conn.close()


@pytest.fixture
def uuid_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)


def test_legacy_user_lands_in_the_folder_of_its_row(data_dir: Path, uuid_layout) -> None:
    tb.build(data_dir, [tb.User("alice", items=5, wal_rows=10, images=2, seed=1)])
    old_rows = tb.rows(UserPaths(data_dir, "alice").old_db)

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.outcome(result, "alice").outcome == report.MIGRATED
    row_id = _row_ids(data_dir)["alice"]
    p = UserPaths(data_dir, "alice", row_id)
    assert tb.rows(p.new_db) == old_rows
    assert sorted(os.listdir(p.profiles_dir)) == [row_id]
    assert len(list(p.new_images.iterdir())) == 2
    again = server.migrate(data_dir, log=log.Collect())  # R3: nothing more to do
    assert tb.outcome(again, "alice").outcome == report.ALREADY_MIGRATED
    assert sorted(os.listdir(p.profiles_dir)) == [row_id]


def test_a_slug_folder_is_renamed_to_the_row_id_once(data_dir: Path, monkeypatch) -> None:
    """A tree migrated by the seed's layout, then the peek-uuid migration: the existing row
    keeps its id and the folder takes it; a second run changes nothing."""
    tb.build(data_dir, [tb.User("bob", items=4, images=1, seed=2)])
    server.migrate(data_dir, log=log.Collect())  # peek-slug (the default)
    slug = UserPaths(data_dir, "bob")
    rows = tb.rows(slug.new_db)
    row_id = _row_ids(data_dir)["bob"]

    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    server.migrate(data_dir, log=log.Collect())

    moved = UserPaths(data_dir, "bob", row_id)
    assert not slug.profile_dir.exists()
    assert tb.rows(moved.new_db) == rows
    assert _row_ids(data_dir) == {"bob": row_id}
    assert status.collect(data_dir).users[0].state == "migrated"
    before = sorted(os.listdir(moved.profile_dir))
    server.migrate(data_dir, log=log.Collect())
    assert sorted(os.listdir(moved.profile_dir)) == before


def test_both_folders_is_a_conflict_that_changes_nothing(data_dir: Path, monkeypatch) -> None:
    tb.build(data_dir, [tb.User("carol", items=3, seed=4)])
    server.migrate(data_dir, log=log.Collect())
    row_id = _row_ids(data_dir)["carol"]
    (data_dir / "carol" / "profiles" / row_id).mkdir()
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    with pytest.raises(report.MigrationFailed) as failed:
        server.migrate(data_dir, log=log.Collect())
    assert tb.outcome(failed.value.report, "carol").problem == "conflict"
    assert UserPaths(data_dir, "carol").new_db.exists()


def test_an_unknown_layout_stops_before_any_change(data_dir: Path, monkeypatch) -> None:
    tb.build(data_dir, [tb.User("dave", items=2, seed=5)])
    monkeypatch.setenv(layout.LAYOUT_ENV, "data/<user>/store")
    with pytest.raises(ValueError, match="MIGRATION_LAYOUT"):
        server.migrate(data_dir, log=log.Collect())
    assert UserPaths(data_dir, "dave").old_db.exists()
