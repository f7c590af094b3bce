"""The real-disk backend: file systems that really are full, and really are another device.

An injected ENOSPC says "this one call failed"; a full disk says more: every later write
fails too, a file may be left half written, and space comes back only when something is
deleted. An injected EXDEV fails one rename; a second file system under ``profiles/`` makes
*every* rename into it fail, and a copy then has to work (SPEC R8, R12). Both need the kernel,
so this module mounts size-limited file systems of a chosen kind (:class:`FsKind`): tmpfs
(fast, needs only root) or a loop-mounted ext4 or xfs image (a sparse file, ``mkfs``,
``losetup``), so the real-disk paths are checked against the file systems users have and
not against tmpfs alone (docs/power-loss.md says what each kind is faithful to):

- :func:`volume` mounts one at a directory (:func:`tmpfs` is its tmpfs kind), optionally
  carrying the directory's contents in and back out, so the tree reads as one directory
  before and after;
- :func:`fill` leaves exactly K bytes free on a file system (``K=0`` is "full"; fewer bytes
  than a user's data needs is "nearly full"); deleting the returned filler frees the space;
- :func:`nearly_full` is both for a data dir: the tree on a tmpfs with K bytes left;
- :func:`cross_device` puts a directory (``DATA_DIR/U/profiles``) on its own file system.

Mounting needs root (CAP_SYS_ADMIN); :func:`backend_available` says whether it works here and
every context manager raises :class:`FaultBackendUnavailable` with the reason when it does
not. Mounts are always undone, even when the body fails; a mount still busy (a process
left running inside it) is detached lazily (``umount -l``) rather than left behind. A loop
image is unlinked as soon as it is attached and its device is set to detach itself when
unmounted (autoclear), so neither outlives the mount; and a SIGTERM while a mount is up
unwinds through the unmount before the process dies of it, so a terminated run leaves no
mount and no loop device (a SIGKILL still can: ``umount`` by hand).
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from harness.faults.availability import Availability, FaultBackendUnavailable

_BLOCK = 4096
_FILLER = ".migration-kit-filler"
_MIB = 1 << 20


class FsKind(StrEnum):
    """The file systems the real-disk backend mounts, by the names ``--disk`` takes."""

    TMPFS = "tmpfs"  # memory-backed; exact free space; no journal, no allocation metadata
    EXT4 = "ext4"  # loop-mounted image, journal on, no root-reserved blocks (-m 0)
    XFS = "xfs"  # loop-mounted image; mkfs.xfs refuses file systems under 300 MB

    @property
    def loop(self) -> bool:
        return self is not FsKind.TMPFS

    @property
    def min_bytes(self) -> int:
        """The smallest image ``mkfs`` accepts (a size asked for is a floor, not exact)."""
        return {FsKind.TMPFS: _BLOCK, FsKind.EXT4: 8 * _MIB, FsKind.XFS: 320 * _MIB}[self]


@dataclass(frozen=True)
class Mount:
    """A file system the kit mounted (``device`` is the loop device of an image)."""

    path: Path
    size_bytes: int
    kind: FsKind = FsKind.TMPFS
    device: str | None = None

    def free_bytes(self) -> int:
        return free_bytes(self.path)


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes an unprivileged writer can still allocate on ``path``'s file system."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@functools.cache
def backend_available(kind: FsKind = FsKind.TMPFS) -> Availability:
    """Whether mounts of ``kind`` work here (root, the tools present, mounting permitted;
    for a loop image also ``/dev/loop-control``, which containers often leave out)."""
    kind = FsKind(kind)
    name = f"real-disk ({kind} mounts)"
    tools = ["mount", "umount"]
    if kind.loop:
        tools += ["losetup", f"mkfs.{kind}"]
    for tool in tools:
        if shutil.which(tool) is None:
            return Availability(name, False, f"{tool} is not installed")
    if kind.loop and not os.path.exists("/dev/loop-control"):
        return Availability(name, False, "no /dev/loop-control (loop devices not granted)")
    with tempfile.TemporaryDirectory(prefix="mk-mount-probe-") as tmp:
        try:
            with volume(tmp, _BLOCK * 16, kind=kind):
                pass
        except FaultBackendUnavailable as exc:
            return Availability(name, False, str(exc))
    return Availability(name, True)


@contextmanager
def volume(
    path: str | os.PathLike[str],
    size_bytes: int,
    *,
    kind: FsKind = FsKind.TMPFS,
    keep_contents: bool = False,
) -> Iterator[Mount]:
    """Mount a file system of ``kind`` and ``size_bytes`` at ``path`` (created if missing).

    Without ``keep_contents`` the mount hides what ``path`` held and its own contents vanish
    on exit. With it, ``path``'s contents are copied in first (metadata and symlinks kept)
    and the mount's contents replace them on exit, so ``path`` ends up holding what was
    written through the mount, as if no mount had been there. A loop image is at least
    ``kind.min_bytes``; its size is the image's, its free space is less (journal, metadata):
    ask :func:`free_bytes`, or :func:`fill` for an exact amount.
    """
    kind = FsKind(kind)
    target = Path(path).absolute()
    target.mkdir(parents=True, exist_ok=True)
    # While mounted, ``stash`` (next to ``target``, on the same file system) holds what
    # ``target`` is to hold afterwards: the original contents, or what the block wrote.
    with _unwind_on_sigterm():
        stash = _stash_of(target) if keep_contents else None
        try:
            size = max(size_bytes, kind.min_bytes)
            device = _mount_loop(target, size, kind) if kind.loop else _mount(target, size)
            try:
                if stash is not None:
                    _copy_contents(stash, target)
                yield Mount(target, size, kind, device)
                if stash is not None:
                    written = _stash_of(target)
                    shutil.rmtree(stash)
                    stash = written
            finally:
                _unmount(target)
        finally:
            if stash is not None:
                _restore(stash, target)


@contextmanager
def tmpfs(
    path: str | os.PathLike[str], size_bytes: int, *, keep_contents: bool = False
) -> Iterator[Mount]:
    """A tmpfs of ``size_bytes`` at ``path`` for the block (:func:`volume`'s tmpfs kind)."""
    with volume(path, size_bytes, kind=FsKind.TMPFS, keep_contents=keep_contents) as mount:
        yield mount


def fill(path: str | os.PathLike[str], leave_free: int) -> Path:
    """Allocate a filler file so that exactly ``leave_free`` bytes stay free on ``path``'s fs.

    ``leave_free`` is rounded down to the block size (4 KiB): a file system cannot have
    half a block free. Returns the filler; unlink it to give the space back (SPEC R8's
    "after space is freed, a re-run migrates them").
    """
    leave = leave_free // _BLOCK * _BLOCK
    filler = Path(path) / _FILLER
    while filler.exists():
        filler = filler.with_name(filler.name + "_")
    if free_bytes(path) < leave:
        raise ValueError(f"{path} has only {free_bytes(path)} bytes free, not {leave}")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _settle(fd, path, leave)
    finally:
        os.close(fd)
    if free_bytes(path) != leave:
        raise RuntimeError(f"filled {path} to {free_bytes(path)} free bytes, wanted {leave}")
    return filler


@contextmanager
def nearly_full(
    path: str | os.PathLike[str], leave_free: int, *, kind: FsKind = FsKind.TMPFS
) -> Iterator[Mount]:
    """``path`` (a data dir) on its own file system with exactly ``leave_free`` bytes free.

    The tree is carried in and back out (``keep_contents``); the filler is removed before
    the contents are carried out, so ``path`` ends up as the migrator left it.
    """
    target = Path(path)
    used = sum(_allocated(p) for p in target.rglob("*") if p.is_file() and not p.is_symlink())
    size = used + leave_free + max(used // 10, 1 << 20)
    if kind.loop:  # room for the journal and the inode tables, which tmpfs does not have
        size = size * 2 + 16 * _MIB
    with volume(target, size, kind=kind, keep_contents=True) as mount:
        filler = fill(target, leave_free)
        try:
            yield mount
        finally:
            filler.unlink(missing_ok=True)


@contextmanager
def cross_device(
    path: str | os.PathLike[str], size_bytes: int = 1 << 30, *, kind: FsKind = FsKind.TMPFS
) -> Iterator[Mount]:
    """``path`` (e.g. ``DATA_DIR/U/profiles``) on a file system of its own (SPEC R12).

    Every ``rename`` from outside into it fails with EXDEV, for any process in any
    language. Contents are carried in and back out, so the tree reads as one afterwards.
    tmpfs only takes memory for what is written, and a loop image is a sparse file, so the
    default size is a ceiling.
    """
    with volume(path, size_bytes, kind=kind, keep_contents=True) as mount:
        yield mount


def _settle(fd: int, path: str | os.PathLike[str], leave: int) -> None:
    """Grow or shrink the filler until ``leave`` bytes are free. On tmpfs one allocation is
    exact; ext4 and xfs spend blocks of their own on a big file's extent tree (and xfs keeps
    per-group reserves, refusing an allocation that would eat them), so it takes a few
    rounds: measure with statvfs, never compute from the image size."""
    size = 0
    for _ in range(64):
        need = free_bytes(path) - leave
        if need == 0:
            return
        if need < 0:
            size = max(size + need, 0)
            os.ftruncate(fd, size)
            os.fsync(fd)  # ext4 counts freed blocks once the journal has them
            continue
        try:
            os.posix_fallocate(fd, size, need)
            size += need
        except OSError as exc:  # the fs keeps some of what statvfs reports: ask for less
            if exc.errno != errno.ENOSPC or need <= _BLOCK:
                raise
            half = need // 2 // _BLOCK * _BLOCK
            os.posix_fallocate(fd, size, half)
            size += half


def _allocated(path: Path) -> int:
    return -(-path.stat().st_size // _BLOCK) * _BLOCK


def _mount(target: Path, size_bytes: int) -> None:
    """Mount a tmpfs at ``target`` whose root keeps ``target``'s mode and owner."""
    st = target.stat()
    options = f"size={size_bytes},mode={st.st_mode & 0o7777:o},uid={st.st_uid},gid={st.st_gid}"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "migration-kit", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.strip() or f"mount exited with {done.returncode}"
        raise FaultBackendUnavailable(f"cannot mount a tmpfs at {target}: {reason} (needs root)")


def _mount_loop(target: Path, size_bytes: int, kind: FsKind) -> str:
    """Make a ``kind`` file system in a sparse image, attach it and mount it at ``target``.

    The image is unlinked once attached (the loop device holds it open) and the device is
    detached at once (``losetup -d`` on a busy device sets autoclear: the kernel frees it
    when the mount goes), so nothing but the mount is left to undo. Returns the device.
    """
    st = target.stat()
    with tempfile.TemporaryDirectory(prefix="mk-loop-") as tmp:
        image = Path(tmp) / f"{kind}.img"
        with image.open("wb") as f:
            f.truncate(size_bytes)
        mkfs = [f"mkfs.{kind}", "-F", "-q", "-m", "0"] if kind is FsKind.EXT4 else []
        mkfs = mkfs or [f"mkfs.{kind}", "-f", "-q"]
        _run([*mkfs, str(image)], f"cannot make an {kind} file system in {image}")
        device = _run(
            ["losetup", "--find", "--show", str(image)],
            f"cannot attach {image} to a loop device (needs root and /dev/loop-control)",
        ).strip()
    try:
        _run(
            ["mount", "-t", str(kind), device, str(target)],
            f"cannot mount {device} ({kind}) at {target} (needs root)",
        )
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True, check=False)
    try:
        lost = target / "lost+found"  # ext4's, not the tree's: a snapshot must not see it
        if lost.is_dir():
            lost.rmdir()
        os.chown(target, st.st_uid, st.st_gid)
        os.chmod(target, st.st_mode & 0o7777)
    except BaseException:
        _unmount(target)
        raise
    return device


def _run(argv: list[str], what: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exited with {done.returncode}"]
        raise FaultBackendUnavailable(f"{what}: {argv[0]}: {reason[0]}")
    return done.stdout


class _Terminated(BaseException):
    """SIGTERM arrived while a mount was up: unwinds the stack so every mount is undone."""


@contextmanager
def _unwind_on_sigterm() -> Iterator[None]:
    """Turn a SIGTERM into an unwinding (every ``finally`` unmounts), then die of it.

    Only where SIGTERM would kill the process outright (the main thread, default handler):
    an outer mount's handler, or a program's own, is left in charge.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _unmount(target: Path) -> None:
    """Unmount, retrying while busy, then detach lazily: never leave a mount behind."""
    for _ in range(5):
        if not os.path.ismount(target):
            return
        subprocess.run(["umount", str(target)], capture_output=True, check=False)
        if not os.path.ismount(target):
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
    if os.path.ismount(target):
        raise RuntimeError(f"could not unmount {target}; run: umount -l {target}")


def _copy_contents(source: Path, dest: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dest / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, dest / entry.name, follow_symlinks=False)
    shutil.copystat(source, dest)


def _clear(directory: Path) -> None:
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _stash_of(directory: Path) -> Path:
    """A copy of ``directory``'s contents (and its own metadata) in a sibling directory."""
    stash = Path(tempfile.mkdtemp(prefix=f".{directory.name}.mk-stash-", dir=directory.parent))
    _copy_contents(directory, stash)
    return stash


def _restore(stash: Path, target: Path) -> None:
    """Make ``target`` hold exactly what ``stash`` holds, then drop the stash."""
    meta = stash.stat()
    _clear(target)
    for entry in stash.iterdir():
        os.rename(entry, target / entry.name)
    stash.rmdir()
    os.chmod(target, meta.st_mode & 0o7777)
    os.utime(target, ns=(meta.st_atime_ns, meta.st_mtime_ns))
