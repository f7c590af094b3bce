"""Make a broken migrator out of the reference: some of its parts replaced during one run.

``variant(*patches)`` returns a ``migrate`` with the reference's signature that applies the
patches (``(owner, attribute, replacement)``, as ``unittest.mock.patch.object`` takes them)
only for the duration of the call. A broken step is usually a subclass of ``_UserRun`` that
overrides one method, patched in as ``(server, "_UserRun", Subclass)``; ``patched`` applies
patches around a part of a step (``super()`` then runs the reference code under them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from migrator import server

Patch = tuple[Any, str, Any]
Migrate = Callable[..., server.MigrationReport]


@contextlib.contextmanager
def patched(*patches: Patch) -> Iterator[None]:
    """Replace ``owner.attribute`` by ``replacement`` for each patch, for the block."""
    with contextlib.ExitStack() as stack:
        for owner, attribute, replacement in patches:
            stack.enter_context(mock.patch.object(owner, attribute, replacement))
        yield


def variant(*patches: Patch) -> Migrate:
    """The reference ``migrate`` with ``patches`` applied while it runs."""

    def migrate(
        data_dir: Path | str, *, dry_run: bool = False, grace_days: float | None = None
    ) -> server.MigrationReport:
        with patched(*patches):
            return server.migrate(data_dir, dry_run=dry_run, grace_days=grace_days)

    return migrate
