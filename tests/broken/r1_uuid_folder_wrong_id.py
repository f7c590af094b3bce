"""Under peek-uuid, names the folder after an id of its own, not the profile row's (R1 under
that layout): the row gets a random id, the folder a derived one."""

from __future__ import annotations

import uuid

from migrator import systemdb
from tests.broken._variant import variant

_ensure = systemdb.ProfileWriter.ensure


def _ensure_random(self, user_id: str, profile_id: str | None = None) -> bool:
    return _ensure(self, user_id, str(uuid.uuid4()))  # the folder's id is not the row's


migrate = variant((systemdb.ProfileWriter, "ensure", _ensure_random))
