"""Takes no lock on DATA_DIR, so two processes started together migrate the same users (R15)."""

from __future__ import annotations

import contextlib

from migrator import runlock
from tests.broken._variant import variant


@contextlib.contextmanager
def _no_lock(data_dir, **kwargs):
    yield


migrate = variant((runlock, "holding", _no_lock))
