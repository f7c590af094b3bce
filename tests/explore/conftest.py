"""Fixtures of the explorer's own tests: a private recording cache, baselines recorded once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.spec import TreeSpec
from harness.explore.baseline import Baseline, baseline
from harness.explore.exploration import Exploration
from tests.explore.explore_cases import SMALL_TREE

Baseline = Callable[..., Baseline]


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recordings made by these tests, apart from the user's cache."""
    return tmp_path_factory.mktemp("explore-cache")


@pytest.fixture(scope="session")
def baseline_of(cache_root: Path, tree_factory) -> Baseline:
    """``baseline_of(migrator, tree=SMALL_TREE, backend="syscall")``: recorded once a session."""

    def get(migrator: str, tree: TreeSpec = SMALL_TREE, backend: str = "syscall"):
        exploration = Exploration(migrator=migrator, tree=tree, backend=backend)
        return baseline(exploration, factory=tree_factory, root=cache_root)

    return get
