"""Stages peek.db without its -wal, so rows still in the WAL are lost (R1)."""

from __future__ import annotations

from pathlib import Path

from migrator import fsops, server, verify
from tests.broken._variant import patched, variant


def _main_file_only(db: Path, dest: Path) -> Path:
    fsops.copy_file(db, dest, durable=False)
    return dest


class _Run(server._UserRun):
    def stage(self, db, *, corrupt_kind):
        with patched((verify, "copy_with_sidecars", _main_file_only)):
            return super().stage(db, corrupt_kind=corrupt_kind)


migrate = variant((server, "_UserRun", _Run))
