"""No free-space preflight, and a user that fails keeps what was written: partial files (R8)."""

from __future__ import annotations

from migrator import server, space
from tests.broken._variant import variant


class _Run(server._UserRun):
    def _discard_scratch(self, kind):
        pass  # the seed's way: what a failed user wrote stays where it is


migrate = variant((server, "_UserRun", _Run), (space, "check", lambda paths, tree: "skipped"))
