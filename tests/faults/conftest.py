"""Fixtures shared by the fault-backend tests: skip, with the probe's reason, where a
backend cannot run."""

from __future__ import annotations

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
