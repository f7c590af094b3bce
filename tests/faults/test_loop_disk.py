"""The real-disk backend on loop-mounted ext4 and xfs images: the same promises as tmpfs
(exact free space, ENOSPC from the kernel, EXDEV between file systems, nothing left behind),
and the one measured way xfs differs (a copy_file_range copy shares blocks, costs no space).

Skipped with the reason where loop devices are refused (not root, no /dev/loop-control),
except with ``MK_REQUIRE_LOOP=1``, where that fails.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.faults import mounts
from harness.faults.availability import Availability
from tests.support.loop import require_loop

MIB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, size: int) -> None:
    with path.open("wb") as f:
        f.write(b"x" * size)
        f.flush()
        os.fsync(f.fileno())  # ext4 allocates at write-back (delalloc): make it happen now


def test_fill_leaves_exactly_the_bytes_asked_and_the_kernel_refuses_more(
    tmp_path: Path, loop_kind: mounts.FsKind
) -> None:
    with mounts.volume(tmp_path / "m", 32 * MIB, kind=loop_kind) as mount:
        assert mount.device and mount.device.startswith("/dev/loop")
        assert not (mount.path / "lost+found").exists()  # ext4's, hidden from the tree
        filler = mounts.fill(mount.path, leave_free=4 * MIB)
        assert mount.free_bytes() == 4 * MIB
        write(mount.path / "fits", 3 * MIB)
        with pytest.raises(OSError) as exc:
            write(mount.path / "does-not-fit", 2 * MIB)
        assert exc.value.errno == errno.ENOSPC
        filler.unlink()
        os.sync()
        write(mount.path / "does-not-fit", 2 * MIB)  # space freed: the same write succeeds
    assert not os.path.ismount(tmp_path / "m")


def test_the_mount_root_keeps_the_directorys_mode_and_contents(
    tmp_path: Path, loop_kind: mounts.FsKind
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "old").write_text("old")
    tree.chmod(0o750)
    with mounts.volume(tree, 16 * MIB, kind=loop_kind, keep_contents=True):
        assert os.path.ismount(tree)
        assert sorted(p.name for p in tree.iterdir()) == ["sub"]
        assert tree.stat().st_mode & 0o7777 == 0o750
        (tree / "sub" / "new").write_text("new")
    assert not os.path.ismount(tree)
    assert (tree / "sub" / "new").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]  # no stash, no image


def test_rename_between_two_real_file_systems_is_exdev(tmp_path: Path) -> None:
    """EXDEV across an ext4 and an xfs image (and between two ext4 images): the kernel's
    answer, not the kit's, so the tmpfs cross_device model has a real-disk witness."""
    require_loop(mounts.FsKind.EXT4)
    require_loop(mounts.FsKind.XFS)
    user = tmp_path / "data" / "u1"
    (user / "profiles").mkdir(parents=True)
    with mounts.volume(user, 16 * MIB, kind=mounts.FsKind.EXT4, keep_contents=True):
        (user / "peek.db").write_text("db")
        for kind in (mounts.FsKind.XFS, mounts.FsKind.EXT4):
            with mounts.cross_device(user / "profiles", 16 * MIB, kind=kind):
                assert os.stat(user).st_dev != os.stat(user / "profiles").st_dev
                with pytest.raises(OSError) as exc:
                    os.rename(user / "peek.db", user / "profiles" / "datastore.sqlite")
                assert exc.value.errno == errno.EXDEV
                subprocess.run(["cp", str(user / "peek.db"), str(user / "profiles")], check=True)
        assert (user / "profiles" / "peek.db").read_text() == "db"


def test_a_copy_file_range_copy_costs_space_on_ext4_and_none_on_xfs(
    tmp_path: Path, loop_kind: mounts.FsKind
) -> None:
    """xfs (reflink on, mkfs.xfs's default) shares the blocks of a copy_file_range copy, so
    a copy never runs out of space: on xfs the disk-full scenario cannot make such a
    migrator's copy fail (tests/proof/test_disk_crosscheck.py shows the consequence)."""
    with mounts.volume(tmp_path / "m", 64 * MIB, kind=loop_kind) as mount:
        write(mount.path / "src", 8 * MIB)
        before = mount.free_bytes()
        with (mount.path / "src").open("rb") as src, (mount.path / "dst").open("wb") as dst:
            copied = 0
            while n := os.copy_file_range(src.fileno(), dst.fileno(), 8 * MIB):
                copied += n
            os.fsync(dst.fileno())
        assert copied == 8 * MIB
        spent = before - mount.free_bytes()
    if loop_kind is mounts.FsKind.XFS:
        assert spent < MIB, f"xfs spent {spent} bytes on a reflinked copy"
    else:
        assert spent >= 8 * MIB


SQUATTER = """
import sys, time
from harness.faults import mounts
with mounts.volume(sys.argv[1], 16 << 20, kind=sys.argv[2]) as mount:
    print(mount.device, flush=True)
    time.sleep(60)
"""


def test_a_sigtermed_run_leaves_no_mount_and_no_loop_device(
    tmp_path: Path, loop_kind: mounts.FsKind
) -> None:
    target = tmp_path / "m"
    child = subprocess.Popen(
        [sys.executable, "-c", SQUATTER, str(target), str(loop_kind)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        device = child.stdout.readline().strip()
        assert device.startswith("/dev/loop") and os.path.ismount(target)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == -signal.SIGTERM  # it still dies of the signal
    finally:
        child.kill()
        child.wait()
    assert not os.path.ismount(target)
    assert not _still_attached(device), "the loop device outlived its mount"


def _still_attached(device: str, within_s: float = 30.0) -> list[str]:
    """``device``'s line in ``losetup -a`` while it still holds one of the kit's images.
    The kernel frees an autoclear device after the last close, from a work queue: a busy
    machine (CI) can still list it, "(deleted)", for a moment after the unmount. Only one
    still there after ``within_s`` seconds is left behind."""
    deadline = time.monotonic() + within_s
    while True:
        listed = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
        ours = [
            line
            for line in listed.splitlines()
            if line.startswith(f"{device}:") and "mk-loop-" in line
        ]
        if not ours or time.monotonic() > deadline:
            return ours
        time.sleep(0.1)


def test_refused_loop_devices_skip_with_the_reason_unless_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = Availability("real-disk (ext4 mounts)", False, "no /dev/loop-control")
    monkeypatch.setattr(mounts, "backend_available", lambda kind: refused)
    monkeypatch.delenv("MK_REQUIRE_LOOP", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no /dev/loop-control"):
        require_loop(mounts.FsKind.EXT4)
    monkeypatch.setenv("MK_REQUIRE_LOOP", "1")
    with pytest.raises(pytest.fail.Exception, match="MK_REQUIRE_LOOP=1 but real-disk"):
        require_loop(mounts.FsKind.EXT4)


def test_the_probe_names_the_missing_mkfs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for tool in ("mount", "umount", "losetup"):  # everything but mkfs.xfs
        (tmp_path / tool).symlink_to("/bin/true")
    monkeypatch.setenv("PATH", str(tmp_path))
    probe = mounts.backend_available.__wrapped__(mounts.FsKind.XFS)
    assert not probe and probe.reason == "mkfs.xfs is not installed"
