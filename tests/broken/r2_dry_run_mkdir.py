"""The dry run creates profiles/default/ for each user it would migrate (R2)."""

from __future__ import annotations

from migrator import report, server
from tests.broken._variant import variant

_plan_user = server._plan_user


def _plan_and_mkdir(paths, accounts, emit):
    result = _plan_user(paths, accounts, emit)
    if result.outcome == report.WOULD_MIGRATE:
        paths.profile_dir.mkdir(parents=True, exist_ok=True)
    return result


migrate = variant((server, "_plan_user", _plan_and_mkdir))
