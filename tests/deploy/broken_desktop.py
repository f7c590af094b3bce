"""Desktop migrators that each break one non-destructive rule, for the scenarios to catch.

Each is the reference with one "harmless" extra step of the kind that slips into a
metadata-only migration.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from migrator import desktop


def vacuums_datastores(data_dir: Path, *, dry_run: bool = False) -> None:
    """Tidies every profile's datastore while it is there: rewrites user data."""
    desktop.migrate_desktop(data_dir, dry_run=dry_run)
    if dry_run:
        return
    for slug in desktop.existing_folders(data_dir):
        conn = sqlite3.connect(data_dir / slug / desktop.DATASTORE, isolation_level=None)
        conn.execute("VACUUM")
        conn.close()


def recreates_profiles_db(data_dir: Path, *, dry_run: bool = False) -> None:
    """Starts profiles.db afresh: rows made in the app (ids, names, sync settings) are lost,
    and every run writes it again."""
    if not dry_run:
        for suffix in ("", "-wal", "-shm"):
            Path(data_dir, desktop.PROFILES_DB + suffix).unlink(missing_ok=True)
    desktop.migrate_desktop(data_dir, dry_run=dry_run)


def touches_profiles_db_every_run(data_dir: Path, *, dry_run: bool = False) -> None:
    """Bumps last_used_at on every run: a second run is never a no-op."""
    desktop.migrate_desktop(data_dir, dry_run=dry_run)
    db = Path(data_dir, desktop.PROFILES_DB)
    if not dry_run and db.exists():
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("UPDATE profiles SET last_used_at = last_used_at + 1")
        conn.close()


def renames_dev_folder(data_dir: Path, *, dry_run: bool = False) -> None:
    """Moves a data folder to a 'nicer' name: data moved."""
    desktop.migrate_desktop(data_dir, dry_run=dry_run)
    dev = Path(data_dir, "dev")
    if not dry_run and dev.is_dir():
        os.rename(dev, Path(data_dir, "development"))
