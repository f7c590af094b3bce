"""Fixtures shared by the fault-backend tests: skip, with the probe's reason, where a
backend cannot run."""

from __future__ import annotations

import pytest

from harness.faults import mounts, strace
from tests.support.loop import require_loop


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


@pytest.fixture(params=[mounts.FsKind.EXT4, mounts.FsKind.XFS], ids=str)
def loop_kind(request: pytest.FixtureRequest) -> mounts.FsKind:
    """Each loop-mounted file system kind, skipped where loop devices are refused."""
    require_loop(request.param)
    return request.param
