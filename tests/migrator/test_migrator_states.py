"""Every starting state a real tree (or the seed's code, or a crash) can be in, built by
hand, then migrated: each must end exactly as a clean legacy user would (SPEC R9/R10's
"the next run converges"), or be left alone with an error (tested in _problems)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from migrator import layout, log, server
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb

USER = tb.User("u", items=6, wal_rows=12, images=3, seed=11)


@pytest.fixture
def reference(tmp_path: Path) -> dict:
    ref = tb.build(tmp_path / "ref", [USER])
    server.migrate(ref, log=log.Collect())
    return tb.final_view(ref)


def _sealed_copy(src: Path, dst: Path) -> None:
    tmp = src.with_name("sealing.db")
    shutil.copyfile(src, tmp)
    wal = src.with_name(src.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, tmp.with_name("sealing.db-wal"))
    sqlite3.connect(tmp).execute("PRAGMA wal_checkpoint(TRUNCATE)").connection.close()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(dst)


def _partial_backup(p: UserPaths) -> None:
    data = p.old_db.read_bytes()
    p.backup.write_bytes(data[: len(data) // 3])


def _leftover_temp(p: UserPaths) -> None:
    p.work_dir.mkdir()
    (p.work_dir / "peek.db").write_bytes(b"half a copy")
    (p.work_dir / "peek.db-shm").write_bytes(b"\0" * 100)
    p.old_db_temp.write_bytes(b"half a copy beside peek.db")
    p.backup_temp.write_bytes(b"half a backup")
    p.profile_dir.mkdir(parents=True)
    p.new_db_temp.write_bytes(b"half a new db")


def _profile_without_db(p: UserPaths) -> None:
    conn = sqlite3.connect(p.data_dir / layout.SYSTEM_DB)
    conn.executescript(tb.PROFILES_SCHEMA)
    conn.execute(
        "INSERT INTO profiles VALUES ('x', ?, 'default', 'Default', 'then', 'then')", (p.user_id,)
    )
    conn.commit()
    conn.close()


def _both_identical_no_backup(p: UserPaths) -> None:
    _sealed_copy(p.old_db, p.new_db)


def _both_identical_images_half_moved(p: UserPaths) -> None:
    _sealed_copy(p.old_db, p.new_db)
    _sealed_copy(p.old_db, p.backup)
    p.new_images.mkdir()
    for f in sorted(p.old_images.iterdir())[:2]:
        f.rename(p.new_images / f.name)


def _migrated_old_sidecars_left(p: UserPaths) -> None:
    """Crash in step 8 after peek.db was unlinked: -wal and -shm left, work dir left."""
    _sealed_copy(p.old_db, p.new_db)
    _sealed_copy(p.old_db, p.backup)
    p.old_images.rename(p.new_images)
    _profile_without_db(p)
    p.old_db.unlink()
    p.old_db.with_name("peek.db-shm").write_bytes(b"\0" * 32768)
    p.work_dir.mkdir()


def _migrated_images_not_moved(p: UserPaths) -> None:
    _sealed_copy(p.old_db, p.new_db)
    _sealed_copy(p.old_db, p.backup)
    p.old_db.unlink()
    p.old_sidecars()[0].unlink()


STATES = {
    "partial_backup": _partial_backup,
    "leftover_temp": _leftover_temp,
    "profile_without_db": _profile_without_db,
    "both_identical_no_backup": _both_identical_no_backup,
    "both_identical_images_half_moved": _both_identical_images_half_moved,
    "migrated_old_sidecars_left": _migrated_old_sidecars_left,
    "migrated_images_not_moved": _migrated_images_not_moved,
}


@pytest.mark.parametrize("state", STATES)
def test_state_converges_to_the_clean_result(state: str, data_dir: Path, reference: dict) -> None:
    tb.build(data_dir, [USER])
    STATES[state](UserPaths(data_dir, USER.user_id))

    server.migrate(data_dir, log=log.Collect())

    assert tb.final_view(data_dir) == reference
    settled = tb.files(data_dir)
    server.migrate(data_dir, log=log.Collect())
    assert tb.files(data_dir) == settled, "a second run must change nothing (R3)"
