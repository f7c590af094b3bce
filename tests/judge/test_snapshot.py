"""Snapshots read a tree without changing it, and diffs say what was lost."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3

from fixtures.spec import UserSpec
from harness.contract.content import DbContent, read_content
from harness.judge.snapshot import DbState, Snapshot, _DbMemo, diff
from migrator.layout import UserPaths


def raw_state(root) -> dict[str, tuple]:
    """Everything ``Snapshot`` promises not to change, read independently of it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            data = b""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    data = f.read()
            out[path] = (st.st_mode, st.st_size, st.st_mtime_ns, hashlib.sha256(data).digest())
    return out


def test_taking_a_snapshot_changes_nothing_even_with_a_wal(make_tree):
    root, _ = make_tree(
        UserSpec("alice", items=30, wal_share=0.8),
        UserSpec("bob", state="migrated", wal_share=0.5),
        UserSpec("carol", damage="btree"),
        extras=("server_backups", "dot_entries", "symlinked_user"),
    )
    paths = UserPaths(root, "alice")
    assert paths.old_db.with_name("peek.db-wal").stat().st_size > 0
    paths.old_db.with_name("peek.db-shm").unlink(missing_ok=True)  # SQLite would recreate it
    before = raw_state(root)
    Snapshot.take(root)
    assert raw_state(root) == before


def test_rows_in_the_wal_are_part_of_the_content(make_tree):
    root, manifest = make_tree(UserSpec("alice", items=30, wal_share=0.8))
    alice = Snapshot.take(root).users["alice"]
    assert manifest.user("alice").wal_items > 0
    assert alice.old_db.sound
    assert alice.old_db.digest == manifest.user("alice").digest
    assert alice.old_db.content.row_counts["items"] == 30
    assert alice.old_sidecars == ("peek.db-wal", "peek.db-shm")


def test_user_states_say_where_the_data_is(make_tree):
    root, manifest = make_tree(
        UserSpec("alice", items=10, images=2),
        UserSpec("bob", state="migrated", images=2),
        UserSpec("dave", state="both_different"),
        UserSpec("gina", state="no_db"),
    )
    snap = Snapshot.take(root)
    alice, bob, dave, gina = (snap.users[u] for u in ("alice", "bob", "dave", "gina"))
    assert alice.old_db and alice.new_db is None and alice.backup is None
    assert alice.old_images == manifest.user("alice").images and alice.new_images is None
    assert bob.old_db is None and bob.new_db.sound and bob.new_images
    assert dave.live is dave.old_db  # the empty new DB is not the user's data
    assert gina.live is None and gina.images == {}
    assert snap.system.users >= {"alice", "bob", "dave", "gina"}
    assert [(p.user_id, p.slug, p.name) for p in snap.system.profiles] == [
        ("bob", "default", "Default")
    ]


def test_every_kind_of_damage_is_unsound_with_a_reason(make_tree):
    kinds = ("truncated", "zeroed_header", "garbage_header", "btree", "empty", "not_a_db")
    root, _ = make_tree(*(UserSpec(f"u-{k}", damage=k) for k in kinds))
    snap = Snapshot.take(root)
    for kind in kinds:
        db = snap.users[f"u-{kind}"].old_db
        assert db is not None and not db.sound and db.error, kind


def test_symlinks_fifos_and_link_targets_are_recorded_not_followed(make_tree, tmp_path):
    root, _ = make_tree("alice")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "peek.db").write_bytes(b"not followed")
    (root / "mallory").symlink_to(outside)
    os.mkfifo(root / "pipe")  # opening it would block the snapshot forever
    snap = Snapshot.take(root)
    assert snap.entries["mallory"].kind == "symlink"
    assert snap.entries["mallory"].target == str(outside)
    assert "mallory" not in snap.users
    assert "mallory/peek.db" not in snap.entries
    assert snap.entries["pipe"].kind == "other"
    assert snap.link_targets["mallory"]["peek.db"].size == len(b"not followed")


def test_diff_of_an_unchanged_tree_is_empty(make_tree):
    root, _ = make_tree("alice", UserSpec("dave", state="both_different"))
    assert diff(Snapshot.take(root), Snapshot.take(root)).empty
    assert str(diff(Snapshot.take(root), Snapshot.take(root))) == "nothing changed"


def test_diff_reports_lost_rows_and_images_per_user(make_tree):
    root, manifest = make_tree("alice", "bob")
    before = Snapshot.take(root)
    paths = UserPaths(root, "alice")
    conn = sqlite3.connect(paths.old_db)
    conn.execute("DELETE FROM items WHERE rowid IN (SELECT rowid FROM items LIMIT 3)")
    conn.commit()
    conn.close()
    lost, changed = sorted(manifest.user("alice").images)
    (paths.old_images / lost).unlink()
    (paths.old_images / changed).write_bytes(b"other bytes")
    result = diff(before, Snapshot.take(root))
    alice = result.user("alice")
    assert alice.rows_missing["items"] == 3
    assert alice.images_missing == (lost,)
    assert alice.images_changed == (changed,)
    assert result.user("bob").empty
    text = str(result)
    assert "user alice:" in text and "items 3" in text and lost in text
    assert "bob" not in text


def test_diff_reports_a_touched_file_and_a_lost_database(make_tree):
    root, _ = make_tree("alice", "bob", extras=("server_backups",))
    before = Snapshot.take(root)
    backup = next((root / "backups").rglob("*.zip"))  # the server's: backups/<user>/*.zip
    os.utime(backup, ns=(0, 0))
    shutil.rmtree(root / "bob")
    result = diff(before, Snapshot.take(root))
    assert any(c.path.startswith("backups/") and c.what == "mtime" for c in result.other)
    bob = result.user("bob")
    assert bob.content_note and bob.rows_missing["items"] == 12
    assert {c.what for c in bob.changes} == {"removed"}


def test_diff_shows_a_moved_image_as_a_move(make_tree):
    root, manifest = make_tree("alice")
    before = Snapshot.take(root)
    paths = UserPaths(root, "alice")
    name = sorted(manifest.user("alice").images)[0]
    paths.new_images.mkdir(parents=True)
    (paths.old_images / name).rename(paths.new_images / name)
    changes = {c.path: c.what for c in diff(before, Snapshot.take(root)).user("alice").changes}
    assert changes[f"alice/images/{name}"] == f"moved to alice/profiles/default/images/{name}"
    assert f"alice/profiles/default/images/{name}" not in changes


def test_an_unreadable_file_is_recorded_not_fatal(make_tree, monkeypatch):
    """EACCES on open (simulated: the tests may run as root, who is never refused)."""
    root, _ = make_tree("alice", "bob")
    denied = {str(UserPaths(root, "alice").old_db)}
    unlistable = str(UserPaths(root, "bob").old_images)
    real_open, real_copy, real_listdir = os.open, shutil.copyfile, os.listdir

    def refusing_open(path, *args, **kwargs):
        if str(path) in denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def refusing_copy(src, *args, **kwargs):
        if str(src) in denied:
            raise PermissionError(13, "Permission denied", str(src))
        return real_copy(src, *args, **kwargs)

    def refusing_listdir(path):
        if str(path) == unlistable:
            raise PermissionError(13, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setattr(shutil, "copyfile", refusing_copy)
    monkeypatch.setattr(os, "listdir", refusing_listdir)
    snap = Snapshot.take(root)
    entry = snap.entries["alice/peek.db"]
    assert entry.sha256 is None and "Permission denied" in entry.error
    alice = snap.users["alice"].old_db
    assert not alice.sound and "Permission denied" in alice.error
    assert snap.users["bob"].old_db.sound
    assert "cannot list" in snap.entries["bob/images"].error


def test_a_database_rewritten_under_its_old_size_and_mtime_is_read_again(make_tree):
    """Snapshots reuse a database read by its bytes, never by metadata a migrator can put
    back: the same size and mtime with other rows is other content."""
    root, _ = make_tree("alice")
    db = UserPaths(root, "alice").old_db
    first = Snapshot.take(root).users["alice"].old_db
    st = os.stat(db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("UPDATE items SET created_at = replace(created_at, '-', '/')")
    conn.close()
    for side in ("-wal", "-shm", "-journal"):
        db.with_name(db.name + side).unlink(missing_ok=True)
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (os.stat(db).st_size, os.stat(db).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    again = Snapshot.take(root).users["alice"].old_db
    assert again.sound and again.digest != first.digest
    assert again.digest == read_content(db).digest
    assert Snapshot.take(root).users["alice"].old_db.digest == again.digest


def test_an_unreadable_database_names_the_tree_it_is_in(make_tree):
    """A database SQLite cannot read is not reused across trees: its error names its path."""
    root, _ = make_tree(UserSpec("alice", damage="not_a_db"))
    other, _ = make_tree(UserSpec("alice", damage="not_a_db"), name="other")
    errors = [Snapshot.take(r).users["alice"].old_db.error for r in (root, other)]
    assert str(root) in errors[0] and str(other) in errors[1]


def test_the_database_memo_keeps_within_its_budget():
    """Content is kept for at most ``budget`` bytes of database files: the oldest goes."""
    memo = _DbMemo(limit=10, budget=100)
    reads: list[str] = []

    def reader(name: str):
        def read() -> DbState:
            reads.append(name)
            return DbState(name, DbContent(tables={}, schema=(), integrity="ok"))

        return read

    for i in range(5):
        memo.db((str(i), (None, None), 40), "x", reader(str(i)))
    reads.clear()
    memo.db(("4", (None, None), 40), "x", reader("4"))
    memo.db(("0", (None, None), 40), "x", reader("0"))
    assert reads == ["0"]  # 4 was kept (the newest two fit 100 bytes), 0 was read again
