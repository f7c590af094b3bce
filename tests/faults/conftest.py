"""Fixtures shared by the fault-backend tests: skip, with the probe's reason, where a
backend cannot run."""

from __future__ import annotations

import os

import pytest

from harness.faults import mounts, strace


@pytest.fixture(scope="session")
def strace_backend() -> None:
    available = strace.backend_available()
    if not available:
        pytest.skip(available.reason)


@pytest.fixture(scope="session")
def mount_backend() -> None:
    available = mounts.backend_available()
    if not available:
        pytest.skip(available.reason)


def require_loop(kind: mounts.FsKind) -> None:
    """Skip (with the probe's reason) where loop mounts of ``kind`` cannot run; with
    ``MK_REQUIRE_LOOP=1`` (CI on a machine known to allow them) fail instead."""
    available = mounts.backend_available(kind)
    if available:
        return
    if os.environ.get("MK_REQUIRE_LOOP") == "1":
        pytest.fail(f"MK_REQUIRE_LOOP=1 but {available.backend}: {available.reason}")
    pytest.skip(available.reason)


@pytest.fixture(params=[mounts.FsKind.EXT4, mounts.FsKind.XFS], ids=str)
def loop_kind(request: pytest.FixtureRequest) -> mounts.FsKind:
    """Each loop-mounted file system kind, skipped where loop devices are refused."""
    require_loop(request.param)
    return request.param
