"""The backup clean-up never deletes anything, however old the backup (R11)."""

from __future__ import annotations

from migrator import cleanup
from tests.broken._variant import variant

migrate = variant((cleanup, "sweep", lambda *args, **kwargs: cleanup.Sweep()))
