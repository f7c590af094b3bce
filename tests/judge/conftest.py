"""Trees for the harness's own tests: real directories built by ``fixtures.build``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.build import build
from fixtures.manifest import Manifest
from fixtures.spec import TreeSpec, UserSpec
from harness.judge.snapshot import Snapshot

MakeTree = Callable[..., tuple[Path, Manifest]]


@pytest.fixture
def make_tree(tmp_path: Path) -> MakeTree:
    """``make_tree(*users, extras=(), name="data") -> (data dir, manifest)``.

    Each user is a ``UserSpec`` or a bare user id (a small legacy user). Trees are small
    (a dozen rows, two images) so that every test builds its own.
    """

    def make(*users: UserSpec | str, extras: tuple[str, ...] = (), name: str = "data"):
        specs = tuple(
            u if isinstance(u, UserSpec) else UserSpec(u, items=12, images=2) for u in users
        )
        dest = tmp_path / name
        return dest, build(TreeSpec(users=specs, extras=extras, seed=7), dest)

    return make


def snap(path: Path) -> Snapshot:
    return Snapshot.take(path)
