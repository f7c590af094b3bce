"""Treats a failed fsync as fatal, the fix PostgreSQL adopted (a PANIC, then recovery from
what is on disk): the first fsync error stops the whole run at once, and the next start
begins the unfinished user over from the old DB, which was never touched. Nothing written
before the error is trusted, so a power cut after it loses nothing (R17): this variant of
the reference must pass every power-loss case, failed fsyncs included.
"""

from __future__ import annotations

import errno
import os

from migrator import fsops
from tests.broken._variant import variant

_fsync = os.fsync


class FsyncFailed(BaseException):
    """Not an ``Exception``: no per-user handler may catch it and go on with the run."""


def fsync(fd: int) -> None:
    """fsync; on a write-back error (EIO, ENOSPC) stop everything, never retry."""
    try:
        _fsync(fd)
    except OSError as exc:
        if exc.errno in (errno.EIO, errno.ENOSPC):
            raise FsyncFailed(f"fsync failed ({exc}): stopping; the next run starts over") from exc
        raise


migrate = variant((fsops.os, "fsync", fsync))
