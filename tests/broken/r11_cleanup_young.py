"""The backup clean-up ignores the grace period: young backups are deleted too (R11)."""

from __future__ import annotations

from migrator import cleanup
from tests.broken._variant import variant

_sweep = cleanup.sweep


def _sweep_without_grace(data_dir, user_dirs, accounts, grace_days, **kwargs):
    return _sweep(data_dir, user_dirs, accounts, 0.0, **kwargs)


migrate = variant((cleanup, "sweep", _sweep_without_grace))
