"""Under peek-slug (the default), names the folder after the profile row's id (R1 under
that layout): a peek-uuid migrator shipped where the server reads ``profiles/default/``."""

from __future__ import annotations

from migrator import layout
from tests.broken._variant import variant


def _uuid_always(environ=None) -> str:
    return layout.PEEK_UUID  # whatever MIGRATION_LAYOUT says


migrate = variant((layout, "layout_from_env", _uuid_always))
