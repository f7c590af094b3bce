"""Dry run (SPEC R2): the whole tree untouched, a line per user it would migrate."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from migrator import log, report, server
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb


def _mixed_tree(data_dir: Path) -> Path:
    """Legacy (WAL-heavy), orphan, corrupt, both-different, migrated, no-db, extras."""
    tb.build(
        data_dir,
        [
            tb.User("legacy", items=5, wal_rows=50, images=2, seed=1),
            tb.User("plain", items=5, images=0, seed=2),
            tb.User("orphan", items=3, users_row=False),
            tb.User("corrupt", items=3),
            tb.User("trap", items=4, seed=3),
            tb.User("done", items=None, images=0),
            tb.User("nodb", items=None, images=1),
        ],
    )
    (data_dir / "corrupt" / "peek.db").write_bytes(b"garbage" * 100)
    trap = UserPaths(data_dir, "trap")
    trap.profile_dir.mkdir(parents=True)
    trap.new_db.touch()
    done = UserPaths(data_dir, "done")
    tb.make_peek_db(done.new_db, items=4, wal_rows=3)  # a migrated DB with its own -wal
    (data_dir / "backups").mkdir()
    (data_dir / ".hidden").write_text("x")
    return data_dir


def test_r2_dry_run_leaves_every_byte_and_mtime(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _mixed_tree(data_dir)
    before = tb.files(data_dir)

    with pytest.raises(server.MigrationFailed) as failed:
        server.migrate(data_dir, dry_run=True)

    assert tb.files(data_dir) == before
    out = capsys.readouterr().out
    for user in ("legacy", "plain"):
        assert f"[DRY RUN] would migrate {user}: " in out
    outcomes = {u.user: u.outcome for u in failed.value.report.users}
    assert outcomes["legacy"] == report.WOULD_MIGRATE
    assert outcomes["done"] == report.ALREADY_MIGRATED
    assert outcomes["nodb"] == report.NO_DB
    assert {u.user: u.problem for u in failed.value.report.failed} == {
        "orphan": "orphan",
        "corrupt": "corrupt",
        "trap": "conflict",
    }


def test_dry_run_then_real_run_migrates_everything(data_dir: Path) -> None:
    """The field's trap: a dry run followed by the real run must still migrate the data."""
    tb.build(data_dir, [tb.User("a", items=7, wal_rows=9, images=1)])
    want = tb.rows(UserPaths(data_dir, "a").old_db)
    server.migrate(data_dir, dry_run=True, log=log.Collect())
    server.migrate(data_dir, log=log.Collect())
    assert tb.rows(UserPaths(data_dir, "a").new_db) == want


def test_dry_run_env_var_through_cli_writes_nothing(data_dir: Path) -> None:
    import subprocess
    import sys

    tb.build(data_dir, [tb.User("a", items=3, wal_rows=3, images=1)])
    before = tb.files(data_dir)
    env = {**os.environ, "MIGRATION_DRY_RUN": "true", "DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "migrator", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert "[DRY RUN] would migrate a:" in proc.stdout
    assert tb.files(data_dir) == before


def test_dry_run_reads_system_db_wal_without_creating_sidecars(data_dir: Path) -> None:
    """system.db (WAL) holding its users row only in system.db-wal: still read, untouched."""
    tb.build(data_dir, [tb.User("a", items=2, users_row=False)])
    keep = sqlite3.connect(data_dir / "system.db", isolation_level=None)
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("INSERT INTO users VALUES ('a', 'h', '2026-01-01T00:00:00.000Z')")
    snap = data_dir.parent / "snap"
    snap.mkdir()
    for name in ("system.db", "system.db-wal"):
        shutil.copy2(data_dir / name, snap / name)
    keep.close()
    for name in ("system.db", "system.db-wal"):
        shutil.copy2(snap / name, data_dir / name)
    before = tb.files(data_dir)

    result = server.migrate(data_dir, dry_run=True, log=log.Collect())

    assert tb.outcome(result, "a").outcome == report.WOULD_MIGRATE  # the row in the -wal
    assert tb.files(data_dir) == before


def test_dry_run_names_an_interrupted_migration_it_would_finish(data_dir: Path) -> None:
    """Both DBs equal plus the work dir of the interrupted run: 'would finish', not
    'already migrated' (the old DB is still there)."""
    from migrator import layout

    tb.build(data_dir, [tb.User("a", items=4, images=1)])
    p = UserPaths(data_dir, "a")
    p.profile_dir.mkdir(parents=True)
    shutil.copyfile(p.old_db, p.new_db)
    (p.root / layout.WORK_DIR).mkdir()
    sink = log.Collect()

    result = server.migrate(data_dir, dry_run=True, log=sink)

    assert tb.outcome(result, "a").outcome == report.WOULD_FINISH
    (plan,) = [e for e in sink.events if e.step == "plan"]
    assert plan.detail.startswith("finish migrating a:")
