"""Retries a failed fsync and carries on, as PostgreSQL did until 2018: on Linux the failed
write-back left the dirty pages marked clean, so the retry succeeds at once and writes
nothing; the file is trusted (renamed into place, its source removed) with pages that never
reached the disk. A power cut afterwards loses them (R17: "a failed fsync is not retried as
if the data were safe"). Without a power cut nothing shows: the page cache holds the data.
"""

from __future__ import annotations

import errno
import os

from migrator import fsops
from tests.broken._variant import variant

_fsync = os.fsync
RETRIES = 3


def fsync(fd: int) -> None:
    """fsync, retried on EIO and ENOSPC ("a transient error"), then assumed done."""
    for attempt in range(RETRIES):
        try:
            _fsync(fd)
            return
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.ENOSPC) or attempt == RETRIES - 1:
                raise


migrate = variant((fsops.os, "fsync", fsync))
