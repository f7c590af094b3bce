"""Is this a data dir at all? Checked before anything else, writing nothing.

A migrator pointed at the wrong folder (a typo, a file, an empty mount point) must say so in
one line and stop, not "migrate" whatever looks like a user folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from migrator import layout, state


class DataDirError(Exception):
    """The given path cannot be a data dir; the message names it and says what to do."""


def check(data_dir: Path) -> list[Path]:
    """Validate ``data_dir`` and return its candidate user folders.

    A data dir is a readable folder; if it has user folders it must also have the server's
    ``system.db`` (without it no user can be checked against the ``users`` table, SPEC R14).
    An empty folder is a data dir with nothing to migrate, as for a fresh server.
    """
    if not os.path.lexists(data_dir):
        raise DataDirError(f"{data_dir}: no such directory; pass the server's DATA_DIR")
    if not data_dir.is_dir():
        raise DataDirError(f"{data_dir}: not a directory; pass the server's DATA_DIR folder")
    if not os.access(data_dir, os.R_OK | os.X_OK):
        raise DataDirError(
            f"{data_dir}: cannot read this directory (permission denied); "
            "run as the server's user or fix its permissions"
        )
    try:
        users = state.user_dirs(data_dir)
    except OSError as exc:
        raise DataDirError(
            f"{data_dir}: cannot list this directory ({exc.strerror}); "
            "run as the server's user or fix its permissions"
        ) from exc
    system_db = data_dir / layout.SYSTEM_DB
    if users and not system_db.is_file():
        raise DataDirError(
            f"{data_dir}: not a data dir: it has folders ({', '.join(p.name for p in users[:3])}"
            f"{', ...' if len(users) > 3 else ''}) but no {layout.SYSTEM_DB}; "
            "pass the server's DATA_DIR (the folder that holds system.db)"
        )
    return users
