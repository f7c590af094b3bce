"""Takes a symlink to a folder in DATA_DIR for a user and migrates through it (R13)."""

from __future__ import annotations

from migrator import layout
from tests.broken._variant import variant

_candidate = layout.is_candidate_user_dir


def _also_symlinks(entry):
    return _candidate(entry) or (entry.is_symlink() and entry.is_dir() and entry.name[0] != ".")


migrate = variant((layout, "is_candidate_user_dir", _also_symlinks))
