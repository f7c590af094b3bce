"""Under peek-uuid, leaves the profile folder named ``default`` (R1 under that layout): the
seed's migration run where the server now looks in ``profiles/<profile row id>/``."""

from __future__ import annotations

from migrator import layout
from tests.broken._variant import variant


def _slug_only(environ=None) -> str:
    return layout.PEEK_SLUG  # whatever MIGRATION_LAYOUT says


migrate = variant((layout, "layout_from_env", _slug_only))
