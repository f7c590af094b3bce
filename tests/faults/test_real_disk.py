"""The real-disk backend: tmpfs mounts that are really full and really another device."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.faults import mounts, strace
from harness.faults.availability import FaultBackendUnavailable

pytestmark = pytest.mark.usefixtures("mount_backend")

KIB = 1024


def write(path: Path, size: int) -> None:
    with path.open("wb") as f:
        f.write(b"x" * size)


def child_write(path: Path, size: int) -> subprocess.CompletedProcess[str]:
    """Another process writing ``size`` bytes: the fault is the kernel's, not the kit's."""
    code = f"with open({str(path)!r}, 'wb') as f: f.write(b'x' * {size})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_fill_leaves_exactly_the_bytes_asked_and_the_kernel_refuses_one_more(
    tmp_path: Path,
) -> None:
    with mounts.tmpfs(tmp_path / "m", 256 * KIB) as mount:
        filler = mounts.fill(mount.path, leave_free=8 * KIB)
        assert mount.free_bytes() == 8 * KIB
        write(mount.path / "fits", 8 * KIB)
        with pytest.raises(OSError) as exc:
            write(mount.path / "does-not-fit", 1)
        assert exc.value.errno == errno.ENOSPC
        done = child_write(mount.path / "child", 4 * KIB)
        assert done.returncode != 0 and "No space left on device" in done.stderr
        filler.unlink()  # space freed: the same write now succeeds
        assert child_write(mount.path / "child", 4 * KIB).returncode == 0
    assert not os.path.ismount(tmp_path / "m")


def test_fill_refuses_to_free_space(tmp_path: Path) -> None:
    with mounts.tmpfs(tmp_path / "m", 64 * KIB) as mount, pytest.raises(ValueError):
        mounts.fill(mount.path, leave_free=128 * KIB)


def test_keep_contents_carries_the_tree_in_and_the_result_out(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "old").write_text("old")
    os.utime(tree / "sub" / "old", (1_000_000_000, 1_000_000_000))
    (tree / "link").symlink_to("sub/old")
    with mounts.tmpfs(tree, 1 << 20, keep_contents=True):
        assert os.path.ismount(tree)
        assert (tree / "sub" / "old").stat().st_mtime == 1_000_000_000
        assert (tree / "link").is_symlink()
        (tree / "sub" / "new").write_text("new")
    assert not os.path.ismount(tree)
    assert (tree / "sub" / "new").read_text() == "new"
    assert (tree / "sub" / "old").stat().st_mtime == 1_000_000_000
    assert os.readlink(tree / "link") == "sub/old"
    assert [p.name for p in tmp_path.iterdir()] == ["tree"]  # no stash left behind


def test_a_failing_block_unmounts_and_restores_the_original(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a").write_text("original")
    with pytest.raises(RuntimeError, match="boom"), mounts.tmpfs(tree, 1 << 20, keep_contents=True):
        (tree / "a").write_text("changed")
        raise RuntimeError("boom")
    assert not os.path.ismount(tree)
    assert (tree / "a").read_text() == "original"


def test_nearly_full_puts_a_data_dir_on_a_disk_with_k_bytes_left(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "u1").mkdir(parents=True)
    write(data / "u1" / "peek.db", 100 * KIB)
    with mounts.nearly_full(data, leave_free=12 * KIB) as mount:
        assert mount.free_bytes() == 12 * KIB
        assert (data / "u1" / "peek.db").stat().st_size == 100 * KIB
        done = child_write(data / "u1" / "copy.db", 100 * KIB)  # a copy does not fit
        assert "No space left on device" in done.stderr
    assert sorted(p.name for p in (data / "u1").iterdir()) == ["copy.db", "peek.db"]
    assert not any(p.name.startswith(".migration-kit-filler") for p in data.iterdir())


def test_cross_device_makes_every_rename_into_it_exdev(tmp_path: Path) -> None:
    user = tmp_path / "data" / "u1"
    (user / "profiles").mkdir(parents=True)
    (user / "peek.db").write_text("db")
    with mounts.cross_device(user / "profiles"):
        with pytest.raises(OSError) as exc:
            os.rename(user / "peek.db", user / "profiles" / "datastore.sqlite")
        assert exc.value.errno == errno.EXDEV
        # a program with a copy fallback still succeeds (mv copies, then unlinks)
        subprocess.run(["mv", str(user / "peek.db"), str(user / "profiles" / "x")], check=True)
    assert (user / "profiles" / "x").read_text() == "db"
    assert not (user / "peek.db").exists()


def test_a_busy_mount_is_detached_lazily_not_left_behind(tmp_path: Path) -> None:
    target = tmp_path / "m"
    with mounts.tmpfs(target, 64 * KIB):
        squatter = subprocess.Popen(["sleep", "30"], cwd=target)  # keeps the mount busy
    try:
        assert not os.path.ismount(target)
    finally:
        squatter.kill()
        squatter.wait()


def test_probes_say_why_a_backend_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    no_mount = mounts.backend_available.__wrapped__()
    assert not no_mount and "mount is not installed" in no_mount.reason
    no_strace = strace.backend_available.__wrapped__()
    assert not no_strace and "strace is not installed" in no_strace.reason
    with pytest.raises(FaultBackendUnavailable, match="strace is not installed"):
        no_strace.require()
