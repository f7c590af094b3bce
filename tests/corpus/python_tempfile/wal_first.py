"""The broken twin of ``migrate``: it retires the old DB's ``-wal`` before the DB itself.

A realistic slip ("clean up the sidecars, then the file"): after a kill between the two
unlinks, ``peek.db`` is left without the rows its ``-wal`` held, beside a new DB that has
them. The next run sees two DBs that differ and, rightly, refuses to pick one: the user is
stranded. The kit reports it under R10 (the process killed at one file operation: the clean
re-run does not reach the fault-free result).

The twin loads its own copy of ``migrate.py``, so the correct migrator imported in the same
process is never changed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "tests.corpus.python_tempfile._wal_first_copy", Path(__file__).with_name("migrate.py")
)
assert _spec is not None and _spec.loader is not None
_impl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_impl)


def _retire_sidecars_first(user) -> None:
    for side in user.sidecars():
        side.unlink()
    if user.old.exists():
        user.old.unlink()
    _impl.fsync_dir(user.root)
    _impl.move_images(user)


_impl.retire_old = _retire_sidecars_first
migrate = _impl.migrate
