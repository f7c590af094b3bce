"""Users a person must look at: SPEC R5, R7, R14, and the stranded-data states.

Each one: that user's folder untouched, an error that says what to do, every other user
still migrated, and the run fails (MigrationFailed) after processing everyone.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from migrator import log, report, server, survey
from migrator.layout import UserPaths
from migrator.systemdb import Accounts
from tests.migrator import treebuilder as tb


def _checkpointed_copy(src: Path, dst: Path) -> None:
    """A faithful new DB made from peek.db + -wal (as the migrator would have placed it)."""
    tmp = src.with_name("tmp-copy.db")
    shutil.copyfile(src, tmp)
    wal = src.with_name(src.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, tmp.with_name(tmp.name + "-wal"))
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(dst)


def _assert_only_user_failed(result, user: str, kind: str) -> None:
    failed = {u.user: u for u in result.failed}
    assert set(failed) == {user}
    assert failed[user].problem == kind
    assert all(u.outcome == report.MIGRATED for u in result.users if u.user != user)


def _run_expect_failure(data_dir: Path):
    with pytest.raises(server.MigrationFailed) as exc:
        server.migrate(data_dir, log=log.Collect())
    return exc.value.report


def test_r5_both_equal_finishes_the_migration(data_dir: Path, tmp_path: Path) -> None:
    """R5: new DB is a verified copy of old (crash before old removed): finish it, and the
    result equals a fault-free migration of the same user."""
    users = [tb.User("ann", items=9, wal_rows=20, images=2, seed=7)]
    reference = tb.build(tmp_path / "ref", users)
    server.migrate(reference, log=log.Collect())
    tb.build(data_dir, users)
    p = UserPaths(data_dir, "ann")
    _checkpointed_copy(p.old_db, p.new_db)

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.outcome(result, "ann").outcome == report.FINISHED
    assert tb.final_view(data_dir) == tb.final_view(reference)


@pytest.mark.parametrize("new_kind", ["empty_file", "empty_db", "other_rows"])
def test_r5_both_different_leaves_both_untouched(data_dir: Path, new_kind: str) -> None:
    """R5, the field's dry-run trap: an empty (or different) new DB next to peek.db must
    not be taken for 'already migrated'; both stay as they are, with an error."""
    tb.build(
        data_dir,
        [tb.User("trap", items=6, wal_rows=5, images=1, seed=8), tb.User("ok", items=3)],
    )
    p = UserPaths(data_dir, "trap")
    p.profile_dir.mkdir(parents=True)
    if new_kind == "empty_file":
        p.new_db.touch()
    elif new_kind == "empty_db":
        sqlite3.connect(p.new_db).execute("PRAGMA user_version=1").connection.close()
    else:
        tb.make_peek_db(p.new_db, items=6, seed=99)
    before = tb.user_files(data_dir, "trap")

    result = _run_expect_failure(data_dir)

    _assert_only_user_failed(result, "trap", "conflict")
    assert tb.user_files(data_dir, "trap") == before
    message = tb.outcome(result, "trap").error
    assert str(p.new_db) in message and "re-run" in message


def _damage(db: Path, kind: str) -> None:
    rng = random.Random(kind)
    data = bytearray(db.read_bytes())
    if kind == "truncated":
        db.write_bytes(bytes(data[: len(data) // 2 + 100]))
    elif kind == "zeroed_header":
        db.write_bytes(bytes(100) + bytes(data[100:]))
    elif kind == "garbage_header":
        db.write_bytes(rng.randbytes(100) + bytes(data[100:]))
    elif kind == "btree":
        page = 4096
        for n in range(3, len(data) // page):  # every b-tree page after the schema
            data[n * page + 8 : n * page + 200] = rng.randbytes(192)
        db.write_bytes(bytes(data))
    elif kind == "empty":
        db.write_bytes(b"")
    elif kind == "not_a_db":
        db.write_text("this is a note, not a database\n")


@pytest.mark.parametrize(
    "kind", ["truncated", "zeroed_header", "garbage_header", "btree", "empty", "not_a_db"]
)
def test_r7_corrupt_peek_db_untouched_others_migrated(data_dir: Path, kind: str) -> None:
    """R7: the corrupt user is left byte-for-byte (mtimes included), no -shm appears."""
    tb.build(
        data_dir,
        [tb.User("broken", items=200, images=1, seed=9), tb.User("fine", items=4, images=1)],
    )
    _damage(UserPaths(data_dir, "broken").old_db, kind)
    before = tb.user_files(data_dir, "broken")

    result = _run_expect_failure(data_dir)

    _assert_only_user_failed(result, "broken", "corrupt")
    assert tb.user_files(data_dir, "broken") == before
    assert "backups/" in tb.outcome(result, "broken").error
    assert tb.profile_rows(data_dir) == [("fine", "default", "Default")]


def test_r14_user_without_users_row_untouched(data_dir: Path) -> None:
    """R14: the field's stranded images: nothing of an orphan moves, no profile row."""
    tb.build(
        data_dir,
        [tb.User("ghost", items=5, images=2, users_row=False), tb.User("alive", items=5)],
    )
    before = tb.user_files(data_dir, "ghost")

    result = _run_expect_failure(data_dir)

    _assert_only_user_failed(result, "ghost", "orphan")
    assert tb.user_files(data_dir, "ghost") == before
    assert tb.profile_rows(data_dir) == [("alive", "default", "Default")]


def test_backup_only_user_needs_a_person(data_dir: Path) -> None:
    """Only peek.db.pre-migration-backup left: the data lives only there; never touched."""
    tb.build(data_dir, [tb.User("lost", items=None, images=0), tb.User("fine", items=2)])
    tb.make_peek_db(UserPaths(data_dir, "lost").backup, items=3)
    before = tb.user_files(data_dir, "lost")

    result = _run_expect_failure(data_dir)

    _assert_only_user_failed(result, "lost", "backup_only")
    assert tb.user_files(data_dir, "lost") == before


def test_seed_left_wal_without_peek_db_is_kept(data_dir: Path) -> None:
    """The seed's field loss: peek.db moved alone, its -wal left behind holding rows. The
    migrator must not delete that -wal as a 'stray sidecar'."""
    tb.build(data_dir, [tb.User("victim", items=3, wal_rows=30, images=0)])
    p = UserPaths(data_dir, "victim")
    p.profile_dir.mkdir(parents=True)
    p.old_db.rename(p.new_db)  # what fs.renameSync(peek.db) did
    before = tb.user_files(data_dir, "victim")

    result = _run_expect_failure(data_dir)

    assert tb.outcome(result, "victim").problem == "stray_wal"
    assert tb.user_files(data_dir, "victim") == before


def test_own_leftover_wal_is_removed(data_dir: Path, tmp_path: Path) -> None:
    """A crash between unlinking peek.db and its -wal (step 8): the -wal adds nothing to
    the verified new DB, so the next run removes it and reaches the fault-free result."""
    users = [tb.User("half", items=4, wal_rows=25, images=1, seed=4)]
    reference = tb.build(tmp_path / "ref", users)
    server.migrate(reference, log=log.Collect())
    tb.build(data_dir, users)
    p = UserPaths(data_dir, "half")
    wal = p.old_sidecars()[0]
    keep = tmp_path / "wal-copy"
    shutil.copyfile(wal, keep)
    server.migrate(data_dir, log=log.Collect())
    shutil.copyfile(keep, wal)  # as if the unlink of peek.db-wal never happened

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.outcome(result, "half").outcome == report.ALREADY_MIGRATED
    assert not wal.exists()
    assert tb.final_view(data_dir) == tb.final_view(reference)


def test_image_conflict_stops_before_moving_anything(data_dir: Path) -> None:
    tb.build(data_dir, [tb.User("pix", items=3, images=3, seed=2)])
    p = UserPaths(data_dir, "pix")
    name = sorted(p.old_images.iterdir())[0].name
    p.new_images.mkdir(parents=True)
    (p.new_images / name).write_bytes(b"different bytes")
    before = tb.user_files(data_dir, "pix")

    result = _run_expect_failure(data_dir)

    assert tb.outcome(result, "pix").problem == "image_conflict"
    assert tb.user_files(data_dir, "pix") == before


def test_half_moved_images_are_merged(data_dir: Path, tmp_path: Path) -> None:
    """Images partly in the new folder (same bytes): the merge finishes the move."""
    users = [tb.User("pix", items=3, images=4, seed=2)]
    reference = tb.build(tmp_path / "ref", users)
    server.migrate(reference, log=log.Collect())
    tb.build(data_dir, users)
    p = UserPaths(data_dir, "pix")
    p.new_images.mkdir(parents=True)
    for f in sorted(p.old_images.iterdir())[:2]:
        shutil.copyfile(f, p.new_images / f.name)  # one copied, still in old too
    first = sorted(p.old_images.iterdir())[2]
    first.rename(p.new_images / first.name)  # one moved

    server.migrate(data_dir, log=log.Collect())

    assert tb.final_view(data_dir) == tb.final_view(reference)


def test_dry_run_and_real_run_report_the_same_problems(data_dir: Path) -> None:
    tb.build(
        data_dir,
        [
            tb.User("ghost", items=2, users_row=False),
            tb.User("broken", items=50),
            tb.User("fine", items=2),
        ],
    )
    _damage(UserPaths(data_dir, "broken").old_db, "zeroed_header")
    accounts = Accounts.read(data_dir)
    found = {
        u: survey.inspect_user(UserPaths(data_dir, u), accounts).problem
        for u in ("ghost", "broken", "fine")
    }
    with pytest.raises(server.MigrationFailed) as dry:
        server.migrate(data_dir, dry_run=True, log=log.Collect())
    real = _run_expect_failure(data_dir)
    assert found == {"ghost": "orphan", "broken": "corrupt", "fine": None}
    assert {u.user: u.problem for u in dry.value.report.failed} == {
        u.user: u.problem for u in real.failed
    }


def test_an_unexpected_error_in_one_user_does_not_stop_the_others(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (not an I/O error) while moving one user's images: that user is reported,
    its content is still whole (new DB verified, old DB in place), the others migrate,
    and the next run finishes it."""
    from migrator import images

    tb.build(
        data_dir,
        [tb.User("a", items=3, images=2, seed=1), tb.User("b", items=3, images=2, seed=2)],
    )
    want = tb.rows(UserPaths(data_dir, "a").old_db)
    real = images.move

    def move(paths, **kw):
        if paths.user_id == "a":
            raise ValueError("boom")
        return real(paths, **kw)

    monkeypatch.setattr(images, "move", move)
    result = _run_expect_failure(data_dir)
    _assert_only_user_failed(result, "a", "unexpected")
    assert tb.rows(UserPaths(data_dir, "a").old_db) == want

    monkeypatch.setattr(images, "move", real)
    again = server.migrate(data_dir, log=log.Collect())
    assert tb.outcome(again, "a").outcome == report.FINISHED
    assert tb.rows(UserPaths(data_dir, "a").new_db) == want


@pytest.mark.parametrize("which", ["old_db", "new_db", "backup"])
def test_symlinked_db_is_not_followed_and_reported(
    data_dir: Path, tmp_path: Path, which: str
) -> None:
    """Never read through, never replaced: a person decides where the data lives."""
    tb.build(data_dir, [tb.User("linky", items=3, images=0), tb.User("fine", items=2)])
    p = UserPaths(data_dir, "linky")
    elsewhere = tmp_path / "elsewhere.db"
    tb.make_peek_db(elsewhere, items=3)
    link = getattr(p, which)
    if which == "old_db":
        link.unlink()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    before = tb.user_files(data_dir, "linky")

    result = _run_expect_failure(data_dir)

    _assert_only_user_failed(result, "linky", "unexpected")
    assert tb.user_files(data_dir, "linky") == before


@pytest.mark.parametrize("which", ["old_images", "new_images", "profile_dir"])
def test_a_symlinked_folder_the_migration_moves_into_is_not_followed(
    data_dir: Path, tmp_path: Path, which: str
) -> None:
    """An ``images/`` linked out of the user folder was skipped and the user called
    migrated, the images left outside. Now: the user fails naming the link, untouched, and
    nothing is written where it points; ``status`` says a person is needed."""
    tb.build(data_dir, [tb.User("linky", items=3, images=2), tb.User("fine", items=2)])
    p = UserPaths(data_dir, "linky")
    elsewhere = tmp_path / "elsewhere"
    if which == "old_images":
        shutil.move(p.old_images, elsewhere)
    else:
        elsewhere.mkdir()
        getattr(p, which).parent.mkdir(parents=True, exist_ok=True)
    link = getattr(p, which)
    link.symlink_to(elsewhere, target_is_directory=True)
    before, outside = tb.user_files(data_dir, "linky"), tb.files(elsewhere)

    from migrator import status

    found = {u.user: u for u in status.collect(data_dir).users}["linky"]
    assert found.needs_person and str(link) in (found.message or "")
    result = _run_expect_failure(data_dir)

    _assert_only_user_failed(result, "linky", "unexpected")
    (failed,) = result.failed
    assert str(link) in failed.error and "symbolic link" in failed.error
    assert tb.user_files(data_dir, "linky") == before
    assert tb.files(elsewhere) == outside


def test_odd_user_names_are_quoted_for_sqlite(data_dir: Path) -> None:
    """SQLite URIs treat '?', '#' and '%' specially; user ids are folder names."""
    names = ["a b", "q?x=1", "h#1", "p%20", "ünï"]
    tb.build(data_dir, [tb.User(n, items=3, wal_rows=2, images=1) for n in names])
    want = {n: tb.rows(UserPaths(data_dir, n).old_db) for n in names}
    server.migrate(data_dir, log=log.Collect())
    for n in names:
        assert tb.rows(UserPaths(data_dir, n).new_db) == want[n]


@pytest.mark.parametrize("wal_rows", [0, 5], ids=["copy-of-peek.db", "backup-copy"])
def test_a_copy_that_reads_back_wrong_fails_the_user_and_keeps_peek_db(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, wal_rows: int
) -> None:
    """A copy whose bytes differ from its source (a bad disk, a bug) is caught by reading
    it back: the user fails, nothing of the copy is left, and peek.db is untouched. A
    peek.db alone is copied byte for byte (and becomes the backup itself); with a -wal,
    the backup is a byte copy of the checked, checkpointed DB."""
    import os

    from migrator import fsops

    tb.build(data_dir, [tb.User("a", items=5, wal_rows=wal_rows, images=1)])
    paths = UserPaths(data_dir, "a")
    before = paths.old_db.read_bytes()
    real_copy = fsops._copy_fd
    target = paths.backup_temp if wal_rows else paths.old_db_temp

    def flips_a_byte(src: int, dst: int) -> int:
        n = real_copy(src, dst)
        if os.readlink(f"/proc/self/fd/{dst}") == str(target):
            os.pwrite(dst, b"\xff", n // 2)
        return n

    monkeypatch.setattr(fsops, "_copy_fd", flips_a_byte)
    with pytest.raises(server.MigrationFailed) as failed:
        server.migrate(data_dir, log=log.Collect())

    (result,) = failed.value.report.users
    assert result.outcome == report.FAILED and "does not match" in (result.error or "")
    assert paths.old_db.read_bytes() == before
    assert not paths.new_db.exists() and not paths.backup.exists()
    assert not paths.backup_temp.exists() and not paths.old_db_temp.exists()
