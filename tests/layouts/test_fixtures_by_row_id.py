"""Under peek-uuid every built state's profile folder is named after its profile row's id,
and the snapshot finds each new DB there (so the half-migrated states are judged by the
layout, not by profiles/default)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fixtures.build import build
from fixtures.spec import USER_STATES
from fixtures.variants import half_migrated
from harness.contract import layout
from harness.judge.snapshot import Snapshot


def test_every_new_db_sits_in_the_folder_of_its_row(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    tree = tmp_path / "tree"
    manifest = build(half_migrated(tuple(USER_STATES)), tree)
    conn = sqlite3.connect(f"file:{tree / 'system.db'}?mode=ro&immutable=1", uri=True)
    rows = dict(conn.execute("SELECT user_id, id FROM profiles WHERE slug = 'default'"))
    conn.close()
    snap = Snapshot.take(tree)
    placed = 0
    for user in manifest.users:
        folders = tree / user.user_id / "profiles"
        if not folders.is_dir():
            continue
        names = [p.name for p in folders.iterdir()]
        if not names:
            continue
        assert names == [rows[user.user_id]], user.state
        assert user.has_profile_row
        assert not (folders / "default").exists()
        if (folders / names[0] / "datastore.sqlite").exists():
            assert snap.users[user.user_id].new_db is not None, user.state
            placed += 1
    assert placed >= 4, "the states with a new DB were built"


@pytest.mark.parametrize("name", [layout.PEEK_SLUG, layout.PEEK_UUID])
def test_the_same_spec_is_another_tree_per_layout(name: str, monkeypatch) -> None:
    from fixtures.cache import cache_key
    from fixtures.variants import small

    monkeypatch.delenv(layout.LAYOUT_ENV, raising=False)
    default = cache_key(small())
    monkeypatch.setenv(layout.LAYOUT_ENV, name)
    assert (cache_key(small()) == default) == (name == layout.PEEK_SLUG)
