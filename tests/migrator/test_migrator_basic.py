"""The happy paths and the tree's non-users: SPEC R1, R3, R4, R6, R13, WAL-heavy users."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from migrator import log, report, server
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb


def test_r1_legacy_user_gets_new_db_images_profile_and_backup(data_dir: Path) -> None:
    """R1: every row (WAL included), every image byte, a profile row, a verified backup."""
    tb.build(data_dir, [tb.User("alice", items=15, wal_rows=40, images=4, seed=3)])
    p = UserPaths(data_dir, "alice")
    old_rows = tb.rows(p.old_db)
    old_images = {f.name: f.read_bytes() for f in p.old_images.iterdir()}
    assert p.old_sidecars()[0].exists(), "precondition: some rows only in peek.db-wal"

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.outcome(result, "alice").outcome == report.MIGRATED
    assert tb.rows(p.new_db) == old_rows
    assert tb.rows(p.backup) == old_rows
    assert {f.name: f.read_bytes() for f in p.new_images.iterdir()} == old_images
    assert not p.old_images.exists()
    assert not any(os.path.lexists(x) for x in (p.old_db, *p.old_sidecars()))
    assert not any(os.path.lexists(x) for x in p.new_sidecars())
    assert tb.profile_rows(data_dir) == [("alice", "default", "Default")]
    assert tb.scratch_left(data_dir) == []


def test_wal_heavy_users_keep_every_row(data_dir: Path) -> None:
    """The field's loss: a 4 KB peek.db beside a big -wal. Every row must arrive."""
    tb.build(
        data_dir,
        [tb.User(f"u{i}", items=1, wal_rows=400, images=1, seed=i) for i in range(3)],
    )
    expected = {}
    for i in range(3):
        p = UserPaths(data_dir, f"u{i}")
        wal = p.old_sidecars()[0]
        assert wal.stat().st_size > 3 * p.old_db.stat().st_size, "precondition: WAL-heavy"
        expected[p.user_id] = tb.rows(p.old_db)
        # The main file alone holds almost nothing: a move of peek.db alone loses the rows.
        only_main = sqlite3.connect(f"file:{p.old_db}?mode=ro&immutable=1", uri=True)
        assert only_main.execute("SELECT count(*) FROM items").fetchone()[0] <= 1
        only_main.close()

    server.migrate(data_dir, log=log.Collect())

    for user, want in expected.items():
        p = UserPaths(data_dir, user)
        assert len(want["items"]) == 401
        assert tb.rows(p.new_db) == want
        assert tb.rows(p.backup) == want


def test_r3_second_run_changes_nothing(data_dir: Path, legacy_template: Path) -> None:
    """R3: names, sizes, bytes and mtimes (backups included) identical after a re-run."""
    shutil.copytree(legacy_template, data_dir, symlinks=True)
    server.migrate(data_dir, log=log.Collect())
    before = tb.files(data_dir)

    second = server.migrate(data_dir, log=log.Collect())

    assert tb.files(data_dir) == before
    assert {u.outcome for u in second.users} == {report.ALREADY_MIGRATED}


def test_r4_already_migrated_is_untouched_and_gets_its_profile_row(data_dir: Path) -> None:
    """R4: new DB only (migrated by an earlier version, no profile row): untouched, no
    backup created, profile row ensured."""
    tb.build(data_dir, [tb.User("carol", items=None, images=0)])
    p = UserPaths(data_dir, "carol")
    tb.make_peek_db(p.new_db, items=12, seed=5)
    tb.make_images(p.new_images, 2, seed=5)
    before = tb.user_files(data_dir, "carol")

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.outcome(result, "carol").outcome == report.ALREADY_MIGRATED
    assert tb.user_files(data_dir, "carol") == before
    assert not p.backup.exists()
    assert tb.profile_rows(data_dir) == [("carol", "default", "Default")]


def test_r6_no_peek_db_creates_nothing(data_dir: Path) -> None:
    """R6: a user folder without peek.db (even with images) gets no backup, no profile."""
    tb.build(
        data_dir,
        [tb.User("empty", items=None, images=0), tb.User("pics", items=None, images=2)],
    )
    before = tb.files(data_dir)

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.files(data_dir) == before
    assert {u.outcome for u in result.users} == {report.NO_DB}
    assert tb.profile_rows(data_dir) == []


def test_r13_non_users_are_not_followed_or_touched(data_dir: Path, tmp_path: Path) -> None:
    """R13: a symlinked user dir, regular files, dot entries and backups/ are left alone."""
    tb.build(data_dir, [tb.User("real", items=5, images=1)])
    outside = tb.build(tmp_path / "elsewhere", [tb.User("linked", items=5, images=1)])
    (data_dir / "linked").symlink_to(outside / "linked")
    (data_dir / "stray.txt").write_text("not a user")
    (data_dir / ".cache").mkdir()
    tb.make_peek_db(data_dir / ".cache" / "peek.db", items=2)
    tb.make_peek_db(data_dir / "backups" / "peek.db", items=2)
    (data_dir / ".DS_Store").write_bytes(b"\0\1")
    others = {k: v for k, v in tb.files(data_dir).items() if not k.startswith("real")}
    outside_before = tb.files(outside)
    others.pop(".")
    others.pop("system.db")

    result = server.migrate(data_dir, log=log.Collect())

    assert [u.user for u in result.users] == ["real"]
    after = {k: v for k, v in tb.files(data_dir).items() if not k.startswith("real")}
    after.pop(".")
    after.pop("system.db")
    assert after == others
    assert tb.files(outside) == outside_before


def test_json_log_one_event_per_line_with_summary(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tb.build(data_dir, [tb.User("a", items=3, images=1), tb.User("b", users_row=False)])
    with pytest.raises(server.MigrationFailed) as failed:
        server.migrate(data_dir, log=log.JsonLog())
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all({"user", "step", "outcome", "error"} <= e.keys() for e in events)
    assert {e["step"] for e in events if e["user"] == "a"} >= {"copy", "backup", "place"}
    b_done = [e for e in events if e["user"] == "b" and e["step"] == "done"]
    assert b_done[0]["outcome"] == "failed" and "no users row" in b_done[0]["error"]
    assert events[-1]["step"] == "summary" and events[-1]["outcome"] == "failed"
    assert [u.user for u in failed.value.report.failed] == ["b"]


def test_text_log_names_every_user_and_step(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tb.build(data_dir, [tb.User("a", items=3, images=1)])
    server.migrate(data_dir)
    out = capsys.readouterr().out.splitlines()
    assert "a: copy: ok" in out[1]
    assert any(line.startswith("a: done: ok (migrated)") for line in out)
    assert out[-1].startswith("summary: ok (1 users: 1 migrated")


def test_owner_and_mode_of_peek_db_carry_over(data_dir: Path) -> None:
    """Run as root for a server user: the new DB must stay the server user's file."""
    if os.geteuid() != 0:
        pytest.skip("needs root to chown")
    tb.build(data_dir, [tb.User("a", items=3, images=1)])
    p = UserPaths(data_dir, "a")
    for path in (p.root, p.old_db):
        os.chown(path, 1234, 1234)
    os.chmod(p.old_db, 0o640)
    server.migrate(data_dir, log=log.Collect())
    for path in (p.new_db, p.backup):
        st = path.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1234, 1234, 0o640)
    assert p.profile_dir.stat().st_uid == 1234
