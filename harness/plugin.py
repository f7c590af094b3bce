"""The kit's pytest plugin (loaded through the ``pytest11`` entry point).

A thin skin over objects that work without pytest: ``fixtures.factory.TreeFactory`` makes
data trees. Other parts of the kit add their fixtures, options and reports here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.factory import TreeFactory
from fixtures.manifest import Manifest
from fixtures.spec import TreeSpec

MakeTree = Callable[[TreeSpec], tuple[Path, Manifest]]


@pytest.fixture(scope="session")
def tree_factory() -> TreeFactory:
    """One factory per session; its cache ($MIGRATION_KIT_CACHE or ~/.cache/migration-kit) is
    shared by xdist workers, who build each tree once between them."""
    return TreeFactory()


@pytest.fixture
def make_tree(tree_factory: TreeFactory, tmp_path: Path) -> MakeTree:
    """``make_tree(spec) -> (data_dir, manifest)``: a private copy of the tree, under tmp_path."""
    count = 0

    def make(spec: TreeSpec) -> tuple[Path, Manifest]:
        nonlocal count
        count += 1
        return tree_factory.make(spec, tmp_path / f"tree{count}")

    return make
