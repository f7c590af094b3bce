"""Backup clean-up (SPEC R11): expired backups of fully migrated users go, at every run;
younger ones stay; a user not fully migrated never loses its backup."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from migrator import cleanup, log, server
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb

DAY = 86400


def _age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


@pytest.fixture
def migrated(data_dir: Path) -> Path:
    tb.build(
        data_dir,
        [tb.User(name, items=3, images=1, seed=i) for i, name in enumerate("abcd")],
    )
    server.migrate(data_dir, log=log.Collect())
    return data_dir


def test_r11_expired_backup_removed_on_next_run_younger_kept(migrated: Path) -> None:
    _age(UserPaths(migrated, "a").backup, 31)
    _age(UserPaths(migrated, "b").backup, 29)

    result = server.migrate(migrated, log=log.Collect())

    assert result.backups_removed == ("a",)
    assert not UserPaths(migrated, "a").backup.exists()
    assert UserPaths(migrated, "b").backup.exists()


def test_r11_not_fully_migrated_user_keeps_an_old_backup(migrated: Path) -> None:
    """Old images back in place (a half move) or no profile row: the backup stays."""
    c = UserPaths(migrated, "c")
    c.old_images.mkdir()
    (c.old_images / "late.png").write_bytes(b"still here")
    (c.new_images / "late.png").write_bytes(b"other bytes")  # an image conflict: stuck
    _age(c.backup, 400)
    sink = log.Collect()

    with pytest.raises(server.MigrationFailed):
        server.migrate(migrated, log=sink)

    assert c.backup.exists()
    kept = [e for e in sink.events if e.user == "c" and e.step == "cleanup"]
    assert kept and kept[0].outcome == "kept"


def test_r11_grace_period_from_environment(migrated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGRATION_BACKUP_GRACE_DAYS", "5")
    _age(UserPaths(migrated, "a").backup, 6)
    _age(UserPaths(migrated, "b").backup, 4)
    result = server.migrate(migrated, log=log.Collect())
    assert result.backups_removed == ("a",)


def test_r11_damaged_new_db_keeps_its_backup(migrated: Path) -> None:
    """Deleting the backup next to a damaged new DB would turn damage into loss."""
    d = UserPaths(migrated, "d")
    d.new_db.write_bytes(b"\0" * 4096)
    _age(d.backup, 60)

    with pytest.raises(server.MigrationFailed) as failed:
        server.migrate(migrated, log=log.Collect())

    assert d.backup.exists()
    assert {u.user: u.problem for u in failed.value.report.failed} == {"d": "new_db_damaged"}


def test_cleanup_backups_command_only_cleans(migrated: Path) -> None:
    _age(UserPaths(migrated, "a").backup, 10)
    legacy = migrated / "late"
    tb.make_peek_db(legacy / "peek.db", items=2)  # not in users: must stay as it is
    before = tb.user_files(migrated, "late")

    dry = cleanup.cleanup_backups(migrated, grace_days=7, dry_run=True, log=log.Collect())
    assert dry.removed == () and UserPaths(migrated, "a").backup.exists()

    done = cleanup.cleanup_backups(migrated, grace_days=7, log=log.Collect())
    assert done.removed == ("a",)
    assert not UserPaths(migrated, "a").backup.exists()
    assert tb.user_files(migrated, "late") == before


@pytest.mark.parametrize("wal_rows", [0, 5])
def test_old_backup_of_a_legacy_user_survives_its_migration(data_dir: Path, wal_rows) -> None:
    """A legacy user with a 90-day-old backup (the seed's first attempt, which copied
    peek.db without its -wal): the backup is kept if it verifies, replaced if not, and
    in both cases its grace period starts now, so neither this run nor the next one
    deletes the only backup of a user migrated a moment ago."""
    tb.build(data_dir, [tb.User("old", items=3, wal_rows=wal_rows, images=0)])
    p = UserPaths(data_dir, "old")
    p.backup.write_bytes(p.old_db.read_bytes())
    _age(p.backup, 90)
    want = tb.rows(p.old_db)

    server.migrate(data_dir, log=log.Collect())
    server.migrate(data_dir, log=log.Collect())

    assert tb.rows(p.backup) == want
    assert cleanup.backup_age_days(p.backup) < 1
