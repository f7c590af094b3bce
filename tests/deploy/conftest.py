"""Fixtures of the deploy tools' tests (plan, capture, replay, rehearse): real trees and a
real CLI.

Trees come from the kit's own ``make_tree`` fixture (``harness.pytest_plugin``: a cached build,
copied per test). Plain helpers (``run_cli``, the shared tree specs, ...) are in
``deploy_helpers``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.spec import TreeSpec, UserSpec
from harness.judge.snapshot import Snapshot, entry_changes
from tests.deploy.deploy_helpers import RICH

# Only users a correct migrator finishes without error.
CLEAN = TreeSpec(
    users=(
        UserSpec("kim-1a", items=25, images=2, wal_share=0.4),
        UserSpec("lou-2b", items=12, images=1),
        UserSpec("max-3c", state="migrated", items=10, images=1),
        UserSpec("ned-4d", state="no_db"),
    ),
    seed=5,
    extras=("server_backups", "dot_entries"),
    profiles_table=True,
)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """``cli(*args, env=...)``: ``migration-kit ARGS`` in this process (fast); the result
    looks like ``run_cli``'s. Use ``run_cli`` where a real child process matters."""
    from harness.cli import main as kit

    def call(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        try:
            code = kit.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return call


@pytest.fixture
def rich_tree(make_tree) -> Path:
    return make_tree(RICH)[0]


@pytest.fixture
def clean_tree(make_tree) -> Path:
    return make_tree(CLEAN)[0]


def stat_map(root: Path) -> dict[str, tuple]:
    """Every entry's (kind, size, mtime_ns, mode), folders included (Snapshot skips folder
    mtimes on purpose; "not an mtime changed" means folders too)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


class Untouched:
    """Before/after proof that a tree was not changed: bytes, DB content, every mtime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.snapshot = Snapshot.take(root)
        self.stats = stat_map(root)

    def assert_untouched(self) -> None:
        after = Snapshot.take(self.root)
        changes = entry_changes(self.snapshot.entries, after.entries)
        assert not changes, "\n".join(map(str, changes))
        assert after.databases == self.snapshot.databases
        assert stat_map(self.root) == self.stats


@pytest.fixture
def untouched() -> Callable[[Path], Untouched]:
    return Untouched
