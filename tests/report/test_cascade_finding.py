"""A schema rebuild under foreign keys reads as one finding: "item_tags: every row gone from
the new DB", and "items: rebuilt", not "rows missing" in two tables with no cause.

The Peek server's start-up (``migrateToImageSupport``) rebuilds a generation-2 ``items``
with ``DROP TABLE`` while foreign keys are on, and every ``item_tags`` row goes by cascade.
Here the same rebuild (the broken migrator's own code) runs on a real generation-2
datastore, the judge compares it with the original, and the fold reports it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixtures.factory import TreeFactory
from fixtures.spec import TreeSpec, UserSpec
from harness.contract.content import read_content
from harness.judge.oracles.judgments import same_content
from harness.judge.snapshot import DbState
from harness.report import findings as fnd
from tests.broken.r1_schema_rebuild_cascade import migrate_to_image_support


@pytest.fixture(scope="module")
def datastores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cascade")
    spec = TreeSpec(users=(UserSpec("bob", items=15, images=0, generation=2),), seed=5)
    tree, _ = TreeFactory(root / "cache").make(spec, root / "tree")
    old = tree / "bob" / "peek.db"
    new = root / "datastore.sqlite"
    shutil.copyfile(old, new)
    migrate_to_image_support(new)
    return old, new


def test_the_rebuild_deletes_every_item_tags_row(datastores: tuple[Path, Path]) -> None:
    old, new = datastores
    before, after = read_content(old), read_content(new)
    assert before.row_counts["item_tags"] > 0
    assert after.row_counts.get("item_tags") == 0
    assert after.row_counts["items"] == before.row_counts["items"]
    losses = {t.table: t for t in before.table_losses(after)}
    assert losses["item_tags"].gone == losses["item_tags"].total
    assert losses["items"].rebuilt and losses["items"].gone == 0


def test_the_finding_says_which_table_lost_every_row_and_where(
    datastores: tuple[Path, Path],
) -> None:
    old, new = datastores
    source = DbState("bob/peek.db", read_content(old))
    moved = DbState("bob/profiles/default/datastore.sqlite", read_content(new))
    verdict = same_content("R1", "bob", "new DB", moved, source)
    assert not verdict.ok
    assert source.content is not None
    n = source.content.row_counts["item_tags"]
    items = source.content.row_counts["items"]
    assert verdict.evidence == (
        f"item_tags: every row gone from the new DB ({n} of {n})",
        f"items: rebuilt, every row changed in the new DB ({items} of {items})",
    )
    observation = fnd.Observation("s/test_01.py::t", fnd.Source.SCENARIO, (verdict,))
    [finding] = fnd.fold([observation])
    lines = fnd.terminal_lines([finding])
    assert f"     - bob: item_tags: every row gone from the new DB ({n} of {n})" in lines
