"""The page-cache model on its own: what each kind of crash image keeps, operation by
operation, without strace (the replay tests feed it real traces)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.explore.powerloss.image import (
    COMMITTED,
    PREFIX,
    REORDERED,
    SYNCED,
    TORN,
    VOLATILE,
    CrashImage,
)
from harness.explore.powerloss.materialise import materialise
from harness.explore.powerloss.model import PAGE, FileSystem

ROOT = "/recorded/data"  # where the traced run saw the tree; need not exist


@pytest.fixture
def pristine(tmp_path: Path) -> Path:
    tree = tmp_path / "pristine"
    (tree / "u" / "images").mkdir(parents=True)
    (tree / "u" / "peek.db").write_bytes(b"old content")
    (tree / "u" / "images" / "a.png").write_bytes(b"png")
    os.utime(tree / "u" / "peek.db", ns=(1_000_000_000, 1_000_000_000))
    return tree


@pytest.fixture
def fs(pristine: Path) -> FileSystem:
    model = FileSystem(umask=0o022)
    model.mount(ROOT, pristine)
    return model


def files(image: CrashImage) -> dict[str, bytes | None]:
    """path -> durable bytes (None: unchanged since the start) for files; dirs -> b"<dir>"."""
    out: dict[str, bytes | None] = {}
    for node in image.nodes:
        if node.kind == "dir":
            out[node.path] = b"<dir>"
        elif node.kind == "file":
            out[node.path] = None if node.data is None else node.data.data
    return out


def img(fs: FileSystem, kind: str) -> CrashImage:
    top = fs.lookup(ROOT)
    assert top is not None
    return fs.image(top, kind)


def test_the_untouched_tree_is_its_own_crash_image(fs: FileSystem) -> None:
    for kind in (SYNCED, COMMITTED, VOLATILE):
        assert files(img(fs, kind)) == {
            ".": b"<dir>",
            "u": b"<dir>",
            "u/images": b"<dir>",
            "u/images/a.png": None,
            "u/peek.db": None,
        }
    assert img(fs, SYNCED).dropped == ()


def test_a_new_file_needs_its_data_and_its_directory_fsynced(fs: FileSystem) -> None:
    new = fs.create(f"{ROOT}/u/new.db", 0o644)
    fs.write(new, 0, b"data")
    assert "u/new.db" not in files(img(fs, SYNCED))  # the entry is not durable
    assert files(img(fs, COMMITTED))["u/new.db"] == b""  # the entry is, the data not
    fs.fsync(new)
    assert "u/new.db" not in files(img(fs, SYNCED))
    assert files(img(fs, COMMITTED))["u/new.db"] == b"data"
    u = fs.lookup(f"{ROOT}/u")
    assert u is not None
    fs.fsync(u)
    assert files(img(fs, SYNCED))["u/new.db"] == b"data"


def test_a_directory_fsync_without_a_file_fsync_leaves_an_empty_file(fs: FileSystem) -> None:
    new = fs.create(f"{ROOT}/u/new.db", 0o644)
    fs.write(new, 0, b"data")
    u = fs.lookup(f"{ROOT}/u")
    assert u is not None
    fs.fsync(u)
    image = img(fs, SYNCED)
    assert files(image)["u/new.db"] == b""
    assert any(line.startswith("u/new.db: ") and "empty" in line for line in image.dropped)


def test_writes_over_an_old_file_are_lost_until_it_is_fsynced(fs: FileSystem) -> None:
    old = fs.lookup(f"{ROOT}/u/peek.db")
    assert old is not None
    fs.write(old, 0, b"NEW")
    assert files(img(fs, VOLATILE))["u/peek.db"] == b"NEW content"
    assert files(img(fs, SYNCED))["u/peek.db"] is None  # the original bytes, from pristine
    fs.fsync(old)
    assert files(img(fs, SYNCED))["u/peek.db"] == b"NEW content"
    fs.truncate(old, 3)
    assert files(img(fs, COMMITTED))["u/peek.db"] == b"NEW content"
    fs.fsync(old, metadata=False)  # fdatasync: the data (and size) is durable too
    assert files(img(fs, COMMITTED))["u/peek.db"] == b"NEW"


def test_an_unlink_not_made_durable_comes_back(fs: FileSystem) -> None:
    fs.remove(f"{ROOT}/u/peek.db")
    assert "u/peek.db" in files(img(fs, SYNCED))
    assert "u/peek.db" not in files(img(fs, COMMITTED))
    u = fs.lookup(f"{ROOT}/u")
    assert u is not None
    fs.fsync(u)
    assert "u/peek.db" not in files(img(fs, SYNCED))


def test_a_rename_is_durable_as_a_whole_once_its_destination_is_fsynced(fs: FileSystem) -> None:
    fs.mkdir(f"{ROOT}/u/profiles", 0o777)
    fs.fsync(fs.lookup(f"{ROOT}/u"))  # type: ignore[arg-type]
    fs.rename(f"{ROOT}/u/peek.db", f"{ROOT}/u/profiles/datastore.sqlite")
    # fsync of the source directory alone: the rename is rolled back, not half done.
    fs.fsync(fs.lookup(f"{ROOT}/u"))  # type: ignore[arg-type]
    synced = files(img(fs, SYNCED))
    assert "u/peek.db" in synced and "u/profiles/datastore.sqlite" not in synced
    fs.fsync(fs.lookup(f"{ROOT}/u/profiles"))  # type: ignore[arg-type]
    synced = files(img(fs, SYNCED))
    assert "u/peek.db" not in synced and synced["u/profiles/datastore.sqlite"] is None


def test_a_new_directory_needs_its_parent_fsynced_too(fs: FileSystem) -> None:
    fs.mkdir(f"{ROOT}/u/profiles", 0o777)
    fs.mkdir(f"{ROOT}/u/profiles/default", 0o777)
    new = fs.create(f"{ROOT}/u/profiles/default/datastore.sqlite", 0o644)
    fs.write(new, 0, b"rows")
    fs.fsync(new)
    fs.fsync(fs.lookup(f"{ROOT}/u/profiles/default"))  # type: ignore[arg-type]
    fs.fsync(fs.lookup(f"{ROOT}/u/profiles"))  # type: ignore[arg-type]
    # u itself was never fsynced: profiles/ (and all below it) is not on disk.
    assert not any(p.startswith("u/profiles") for p in files(img(fs, SYNCED)))
    fs.fsync(fs.lookup(f"{ROOT}/u"))  # type: ignore[arg-type]
    assert files(img(fs, SYNCED))["u/profiles/default/datastore.sqlite"] == b"rows"


def test_mode_and_times_are_durable_only_with_an_fsync_of_the_inode(fs: FileSystem) -> None:
    old = fs.lookup(f"{ROOT}/u/peek.db")
    assert old is not None
    fs.chmod(old, 0o600)
    fs.utime(old, (5, 7))
    node = next(n for n in img(fs, SYNCED).nodes if n.path == "u/peek.db")
    assert (node.mode, node.times) == (0o644, None)
    fs.fsync(old)
    node = next(n for n in img(fs, SYNCED).nodes if n.path == "u/peek.db")
    assert (node.mode, node.times) == (0o600, (5, 7))


def test_equal_trees_have_equal_digests_and_different_ones_do_not(fs: FileSystem) -> None:
    first = img(fs, SYNCED)
    assert img(fs, COMMITTED).digest == first.digest
    old = fs.lookup(f"{ROOT}/u/peek.db")
    assert old is not None
    fs.write(old, 0, b"X")
    fs.fsync(old)
    assert img(fs, SYNCED).digest != first.digest


def test_materialise_writes_the_image_and_keeps_unchanged_files_times(
    fs: FileSystem, tmp_path: Path
) -> None:
    new = fs.create(f"{ROOT}/u/new.db", 0o600)
    fs.write(new, 0, b"fresh")
    fs.fsync(new)
    fs.symlink("images/a.png", f"{ROOT}/u/link")
    fs.fsync(fs.lookup(f"{ROOT}/u"))  # type: ignore[arg-type]
    out = materialise(img(fs, SYNCED), tmp_path / "state")
    assert (out / "u" / "new.db").read_bytes() == b"fresh"
    assert (out / "u" / "new.db").stat().st_mode & 0o777 == 0o600
    assert os.readlink(out / "u" / "link") == "images/a.png"
    assert (out / "u" / "peek.db").read_bytes() == b"old content"
    assert (out / "u" / "peek.db").stat().st_mtime_ns == 1_000_000_000
    assert (out / "u" / "images" / "a.png").read_bytes() == b"png"


def test_a_failed_fsync_loses_the_dirty_pages_even_when_a_retry_succeeds(fs: FileSystem) -> None:
    """Linux marks the pages clean after a failed write-back: the retried fsync succeeds and
    writes nothing of them (Rebello et al., ATC 2020). Pages written again are written."""
    inode = fs.lookup(f"{ROOT}/u/peek.db")
    assert inode is not None
    old = b"old content"
    fs.write(inode, 0, b"A" * (3 * PAGE))
    assert fs.fsync_failed(inode, "fsync #7 (EIO)") == 3
    fs.fsync(inode)  # the retry "succeeds"
    on_disk = files(img(fs, SYNCED))["u/peek.db"]
    assert on_disk == old + bytes(3 * PAGE - len(old))
    fs.write(inode, PAGE + 5, b"B")  # page 1 is dirty again: the next fsync writes it
    fs.fsync(inode)
    on_disk = files(img(fs, SYNCED))["u/peek.db"]
    assert on_disk is not None
    assert on_disk[:PAGE] == old + bytes(PAGE - len(old))
    assert on_disk[PAGE : 2 * PAGE] == b"A" * 5 + b"B" + b"A" * (PAGE - 6)
    assert on_disk[2 * PAGE :] == bytes(PAGE)
    assert any("fsync #7 (EIO) failed: 2 page(s)" in d for d in img(fs, COMMITTED).dropped)
    # What the processes see is untouched: the pages are in memory, clean.
    assert files(img(fs, VOLATILE))["u/peek.db"] == b"A" * (PAGE + 5) + b"B" + b"A" * (2 * PAGE - 6)


def test_a_failed_fsync_of_a_clean_file_loses_nothing(fs: FileSystem) -> None:
    inode = fs.lookup(f"{ROOT}/u/peek.db")
    assert inode is not None
    fs.write(inode, 0, b"new content")
    fs.fsync(inode)
    assert fs.fsync_failed(inode, "fsync #9 (EIO)") == 0
    fs.fsync(inode)
    assert files(img(fs, SYNCED))["u/peek.db"] == b"new content"


def flushed_img(fs: FileSystem, kind: str) -> CrashImage:
    top = fs.lookup(ROOT)
    assert top is not None
    return fs.image(top, kind, replace_flush=True)


def test_a_prefix_state_keeps_the_first_half_of_the_unsynced_writes(fs: FileSystem) -> None:
    new = fs.create(f"{ROOT}/u/new.db", 0o644)
    for i, chunk in enumerate((b"aa", b"bb", b"cc", b"dd")):
        fs.write(new, 2 * i, chunk)
    assert files(img(fs, PREFIX))["u/new.db"] == b"aabb"
    assert files(img(fs, COMMITTED))["u/new.db"] == b""
    assert any("part of its unsynced writes" in line for line in img(fs, PREFIX).dropped)
    fs.fsync(new)
    fs.write(new, 0, b"XX")
    fs.truncate(new, 4)
    fs.write(new, 4, b"YY")
    # After the fsync, only the writes since: the first of three (the overwrite) survives.
    assert files(img(fs, PREFIX))["u/new.db"] == b"XXbbccdd"


def test_a_torn_state_keeps_every_other_unsynced_block(fs: FileSystem) -> None:
    new = fs.create(f"{ROOT}/u/new.db", 0o644)
    fs.write(new, 0, b"a" * PAGE + b"b" * PAGE + b"c" * 10)
    torn = files(img(fs, TORN))["u/new.db"]
    # Block 0 and block 2 reached the disk, block 1 did not: a hole of zeros.
    assert torn == b"a" * PAGE + bytes(PAGE) + b"c" * 10
    fs.fsync(new)
    assert files(img(fs, TORN))["u/new.db"] == files(img(fs, VOLATILE))["u/new.db"]


def test_a_reordered_state_has_the_last_changed_directory_ahead(fs: FileSystem) -> None:
    """The reference's step without directory fsyncs: the new DB renamed into profiles/,
    then peek.db unlinked in the user's folder; only the latter reaches the disk."""
    fs.mkdir(f"{ROOT}/u/profiles", 0o755)
    new = fs.create(f"{ROOT}/u/staged", 0o644)
    fs.write(new, 0, b"new content")
    fs.fsync(new)
    fs.rename(f"{ROOT}/u/staged", f"{ROOT}/u/profiles/new.db")
    fs.remove(f"{ROOT}/u/peek.db")
    reordered = files(img(fs, REORDERED))
    assert "u/peek.db" not in reordered and "u/profiles" in reordered
    assert "u/profiles/new.db" not in reordered  # profiles/ is behind: its entry not on disk
    assert "u/staged" not in reordered  # the user folder ahead: the rename out is whole there
    assert files(img(fs, SYNCED)).get("u/peek.db") is None  # unchanged, as synced keeps it
    assert "u/peek.db" in files(img(fs, SYNCED))


def test_a_rename_into_the_directory_ahead_is_whole(fs: FileSystem) -> None:
    new = fs.create(f"{ROOT}/u/images/b.png", 0o644)
    fs.fsync(new)
    images = fs.lookup(f"{ROOT}/u/images")
    assert images is not None
    fs.fsync(images)
    fs.rename(f"{ROOT}/u/images/b.png", f"{ROOT}/u/b.png")
    reordered = files(img(fs, REORDERED))
    assert "u/b.png" in reordered and "u/images/b.png" not in reordered
    fs.mkdir(f"{ROOT}/u/images/sub", 0o755)  # now images/ is ahead, u/ behind
    reordered = files(img(fs, REORDERED))
    assert "u/b.png" not in reordered and "u/images/b.png" in reordered  # rolled back whole


def test_auto_da_alloc_flushes_a_file_renamed_over_another(fs: FileSystem) -> None:
    tmp = fs.create(f"{ROOT}/u/peek.db.tmp", 0o644)
    fs.write(tmp, 0, b"new content")
    fs.rename(f"{ROOT}/u/peek.db.tmp", f"{ROOT}/u/peek.db")
    assert files(img(fs, COMMITTED))["u/peek.db"] == b""  # xfs, btrfs, POSIX: empty
    for kind in (COMMITTED, PREFIX, TORN):
        assert files(flushed_img(fs, kind))["u/peek.db"] == b"new content"
    fs.write(tmp, 11, b" and more")  # written after the rename: not flushed by it
    assert files(flushed_img(fs, COMMITTED))["u/peek.db"] == b"new content"
    other = fs.create(f"{ROOT}/u/fresh.db", 0o644)
    fs.write(other, 0, b"data")
    fs.rename(f"{ROOT}/u/fresh.db", f"{ROOT}/u/fresh2.db")  # over nothing: no flush
    assert files(flushed_img(fs, COMMITTED))["u/fresh2.db"] == b""
