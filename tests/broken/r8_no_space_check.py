"""No free-space preflight: a user that runs out of space mid-copy keeps the partial files (R8)."""

from __future__ import annotations

import errno
import sys

from migrator import server, space
from tests.broken._variant import variant


class _Run(server._UserRun):
    def _discard_scratch(self, kind):
        failure = sys.exc_info()[1]  # called while run() handles the user's failure
        if isinstance(failure, OSError) and failure.errno == errno.ENOSPC:
            return  # found out about the space by failing half way, and left it there
        super()._discard_scratch(kind)


migrate = variant((server, "_UserRun", _Run), (space, "check", lambda paths, tree: "skipped"))
