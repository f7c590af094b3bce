"""Loop-mounted file systems in tests: skip where the machine refuses them, unless CI said
they must run (``MK_REQUIRE_LOOP=1``), so a CI that lost its loop devices fails loudly."""

from __future__ import annotations

import os

import pytest

from harness.faults import mounts


def require_loop(kind: mounts.FsKind) -> None:
    """Skip (with the probe's reason) where loop mounts of ``kind`` cannot run; with
    ``MK_REQUIRE_LOOP=1`` (CI on a machine known to allow them) fail instead."""
    available = mounts.backend_available(kind)
    if available:
        return
    if os.environ.get("MK_REQUIRE_LOOP") == "1":
        pytest.fail(f"MK_REQUIRE_LOOP=1 but {available.backend}: {available.reason}")
    pytest.skip(available.reason)
