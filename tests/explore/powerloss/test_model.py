"""The page-cache model on its own: what each kind of crash image keeps, operation by
operation, without strace (the replay tests feed it real traces)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.explore.powerloss.image import COMMITTED, SYNCED, VOLATILE, CrashImage
from harness.explore.powerloss.materialise import materialise
from harness.explore.powerloss.model import FileSystem

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
