"""R9/R10's "the same tree as a fault-free run" under peek-uuid: two runs may give the new
profile row different ids (UUIDs), so the folder named after it is compared under one name;
what is inside it is still compared file by file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from fixtures.build import build
from fixtures.variants import half_migrated
from harness.contract import layout
from harness.judge import oracles
from harness.judge.snapshot import Snapshot
from migrator import log, server


def _with_another_id(tree: Path, user: str) -> None:
    """Give ``user``'s profile row (and so its folder) another id, as another run would."""
    conn = sqlite3.connect(tree / "system.db", isolation_level=None)
    (old,) = conn.execute("SELECT id FROM profiles WHERE user_id = ?", (user,)).fetchone()
    conn.execute("UPDATE profiles SET id = 'another-id' WHERE user_id = ?", (user,))
    conn.close()
    profiles = tree / user / "profiles"
    (profiles / old).rename(profiles / "another-id")


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    build(half_migrated(("legacy",)), tmp_path / "a")
    server.migrate(tmp_path / "a", log=log.Collect())
    shutil.copytree(tmp_path / "a", tmp_path / "b", symlinks=True)
    _with_another_id(tmp_path / "b", "user-legacy")
    return tmp_path / "a", tmp_path / "b"


def _converged(a: Path, b: Path) -> bool:
    return all(v.ok for v in oracles.check_converged(Snapshot.take(b), Snapshot.take(a)))


def test_another_row_id_is_the_same_tree(pair: tuple[Path, Path]) -> None:
    assert _converged(*pair)


def test_a_difference_inside_the_folder_is_still_seen(pair: tuple[Path, Path]) -> None:
    a, b = pair
    (b / "user-legacy" / "profiles" / "another-id" / "stray.tmp").write_bytes(b"x")
    assert not _converged(a, b)
