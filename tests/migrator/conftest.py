"""Fixtures for the reference migrator's tests: real trees in temporary folders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.migrator import treebuilder as tb


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def tmpfs(tmp_path: Path):
    """Mount a tmpfs of a given size at a path; always unmounted at teardown."""
    mounted: list[Path] = []

    def mount(where: Path, size: str, *, required: bool = True) -> Path:
        """``required=False``: when mounting is refused, just use the plain folder."""
        where.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            if not required:
                return where
            pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {proc.stderr}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="module")
def legacy_template(tmp_path_factory) -> Path:
    """Two legacy users, one WAL-heavy with images, one small without; built once."""
    root = tmp_path_factory.mktemp("template") / "data"
    return tb.build(
        root,
        [
            tb.User("alice", items=6, wal_rows=40, images=2, seed=1),
            tb.User("bob", items=8, images=0, seed=2),
        ],
    )
