"""``plan`` reads a data dir through the layout in force: a peek-uuid tree's migrated users
are found in ``profiles/<row id>/`` (under peek-slug the same tree reads as not migrated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.build import build
from fixtures.variants import half_migrated
from harness.contract import layout
from harness.deploy import plan


@pytest.fixture
def uuid_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    build(half_migrated(("legacy", "migrated", "images_half_moved")), tmp_path / "tree")
    return tmp_path / "tree"


def _states(tree: Path) -> dict[str, str]:
    return {u.user: u.state for u in plan.collect(tree, workers=1).users}


def test_plan_follows_the_layout(uuid_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _states(uuid_tree) == {
        "user-legacy": "legacy",
        "user-migrated": "migrated",
        "user-images-half-moved": "half_migrated",
    }
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_SLUG)
    assert _states(uuid_tree)["user-migrated"] != "migrated"
