"""The real-disk backend: file systems that really are full, and really are another device.

An injected ENOSPC says "this one call failed"; a full disk says more: every later write
fails too, a file may be left half written, and space comes back only when something is
deleted. An injected EXDEV fails one rename; a second file system under ``profiles/`` makes
*every* rename into it fail, and a copy then has to work (SPEC R8, R12). Both need the kernel,
so this module mounts size-limited tmpfs instances:

- :func:`tmpfs` mounts one at a directory (optionally carrying the directory's contents in
  and back out, so the tree reads as one directory before and after);
- :func:`fill` leaves exactly K bytes free on a file system (``K=0`` is "full"; fewer bytes
  than a user's data needs is "nearly full"); deleting the returned filler frees the space;
- :func:`nearly_full` is both for a data dir: the tree on a tmpfs with K bytes left;
- :func:`cross_device` puts a directory (``DATA_DIR/U/profiles``) on its own file system.

Mounting needs root (CAP_SYS_ADMIN); :func:`backend_available` says whether it works here and
every context manager raises :class:`FaultBackendUnavailable` with the reason when it does
not. Mounts are always undone, even when the body fails; a mount still busy (a process
left running inside it) is detached lazily (``umount -l``) rather than left behind.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.faults.availability import Availability, FaultBackendUnavailable

_BLOCK = 4096
_FILLER = ".migration-kit-filler"


@dataclass(frozen=True)
class Mount:
    """A file system the kit mounted."""

    path: Path
    size_bytes: int

    def free_bytes(self) -> int:
        return free_bytes(self.path)


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes an unprivileged writer can still allocate on ``path``'s file system."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@functools.cache
def backend_available() -> Availability:
    """Whether tmpfs mounts work here (root, mount(8) present and permitted)."""
    name = "real-disk (tmpfs mounts)"
    for tool in ("mount", "umount"):
        if shutil.which(tool) is None:
            return Availability(name, False, f"{tool} is not installed")
    with tempfile.TemporaryDirectory(prefix="mk-mount-probe-") as tmp:
        try:
            _mount(Path(tmp), _BLOCK * 16)
        except FaultBackendUnavailable as exc:
            return Availability(name, False, str(exc))
        _unmount(Path(tmp))
    return Availability(name, True)


@contextmanager
def tmpfs(
    path: str | os.PathLike[str], size_bytes: int, *, keep_contents: bool = False
) -> Iterator[Mount]:
    """Mount a tmpfs of ``size_bytes`` at ``path`` (created if missing) for the block.

    Without ``keep_contents`` the mount hides what ``path`` held and its own contents vanish
    on exit. With it, ``path``'s contents are copied in first (metadata and symlinks kept)
    and the mount's contents replace them on exit, so ``path`` ends up holding what was
    written through the mount, as if no mount had been there.
    """
    target = Path(path).absolute()
    target.mkdir(parents=True, exist_ok=True)
    # While mounted, ``stash`` (next to ``target``, on the same file system) holds what
    # ``target`` is to hold afterwards: the original contents, or what the block wrote.
    stash = _stash_of(target) if keep_contents else None
    _mount(target, size_bytes)
    try:
        if stash is not None:
            _copy_contents(stash, target)
        yield Mount(target, size_bytes)
        if stash is not None:
            written = _stash_of(target)
            shutil.rmtree(stash)
            stash = written
    finally:
        _unmount(target)
        if stash is not None:
            _restore(stash, target)


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
    need = free_bytes(path) - leave
    if need < 0:
        raise ValueError(f"{path} has only {free_bytes(path)} bytes free, not {leave}")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if need:
            os.posix_fallocate(fd, 0, need)
    finally:
        os.close(fd)
    if free_bytes(path) != leave:
        raise RuntimeError(f"filled {path} to {free_bytes(path)} free bytes, wanted {leave}")
    return filler


@contextmanager
def nearly_full(path: str | os.PathLike[str], leave_free: int) -> Iterator[Mount]:
    """``path`` (a data dir) on its own tmpfs with exactly ``leave_free`` bytes free.

    The tree is carried in and back out (``keep_contents``); the filler is removed before
    the contents are carried out, so ``path`` ends up as the migrator left it.
    """
    target = Path(path)
    used = sum(_allocated(p) for p in target.rglob("*") if p.is_file() and not p.is_symlink())
    size = used + leave_free + max(used // 10, 1 << 20)
    with tmpfs(target, size, keep_contents=True) as mount:
        filler = fill(target, leave_free)
        try:
            yield mount
        finally:
            filler.unlink(missing_ok=True)


@contextmanager
def cross_device(path: str | os.PathLike[str], size_bytes: int = 1 << 30) -> Iterator[Mount]:
    """``path`` (e.g. ``DATA_DIR/U/profiles``) on a file system of its own (SPEC R12).

    Every ``rename`` from outside into it fails with EXDEV, for any process in any
    language. Contents are carried in and back out, so the tree reads as one afterwards.
    tmpfs only takes memory for what is written, so the default size is a ceiling.
    """
    with tmpfs(path, size_bytes, keep_contents=True) as mount:
        yield mount


def _allocated(path: Path) -> int:
    return -(-path.stat().st_size // _BLOCK) * _BLOCK


def _mount(target: Path, size_bytes: int) -> None:
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
