"""Shared by the power-loss tests: skip, with the probe's reason, where strace cannot run,
and record a small Python child's file operations with every byte it writes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.faults import strace
from harness.faults.trace import Trace, record

DATA_LIMIT = 1 << 20

Recorder = Callable[[str], tuple[Trace, str, Path]]


@pytest.fixture(scope="session")
def strace_backend() -> None:
    available = strace.backend_available()
    if not available:
        pytest.skip(available.reason)


@pytest.fixture
def traced(strace_backend: None, tmp_path: Path) -> Recorder:
    """``traced(code)``: run ``code`` (Python, cwd = a small tree) under strace.

    Returns (trace, the tree's path as recorded, a pristine copy of the tree as it was
    before). The tree holds ``old.txt`` ("old bytes") and an empty folder ``sub``.
    """

    def run(code: str) -> tuple[Trace, str, Path]:
        tree = tmp_path / "tree"
        (tree / "sub").mkdir(parents=True)
        (tree / "old.txt").write_bytes(b"old bytes")
        pristine = tmp_path / "pristine"
        subprocess.run(["cp", "-a", str(tree), str(pristine)], check=True)
        recorded = record(
            [sys.executable, "-c", code],
            cwd=tree,
            data_limit=DATA_LIMIT,
            positions=True,
            timeout=60,
        )
        assert recorded.run.returncode == 0, recorded.run.stderr
        return recorded.trace, str(tree), pristine

    return run
