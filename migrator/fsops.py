"""Durable file operations: the only place the migrator writes to the filesystem.

SPEC R17 (power loss): a rename only makes a file visible under its final name; the data
must already be on disk, so every file is fsynced *before* it is renamed into place, and the
directory is fsynced *after* every rename, unlink and mkdir in it, otherwise the directory
entry itself may be lost. Keeping every write here makes that discipline checkable in one
file, and gives fault injection (R9/R10) one small set of operations to fail.

Inside ``ordered_dir_syncs()`` a directory change is made durable when something relies on
it, instead of at once: before a *commit point* (the unlink of anything but scratch: data
is removed only once its other copies are on disk) every owed directory is fsynced; before
a rename, only the directories that make the destination's folder reachable (a rename
publishes nothing that is lost if it is rolled back). A user's folder changed four times
before its old DB is removed is fsynced once, with the same guarantee.

Copies are streamed in bounded chunks (SPEC R16): nothing here holds a file in memory.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from migrator import layout

CHUNK = 1 << 20  # 1 MiB: the most a copy or a hash holds in memory at once

# copy_file_range is refused for reasons that say nothing about the data (another
# filesystem on older kernels, a filesystem without support): fall back to read/write then.
_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (created, renamed, removed names) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Directories changed since their last fsync, while an ``ordered_dir_syncs()`` block is open.
# Module state rather than a parameter: every caller (and every test double of these
# functions) keeps the same signatures; a block changes *when* directories are synced.
_owed: dict[Path, None] | None = None


@contextlib.contextmanager
def ordered_dir_syncs() -> Iterator[None]:
    """Within the block, fsync each changed directory once, when something relies on it.

    What R17 needs from a directory fsync is ordering: an operation that relies on earlier
    changes must not reach the disk without them. Two kinds of operation rely on others:

    - the unlink of anything but scratch (the old DB, its sidecars) relies on every copy
      made so far (the backup's name, the new DB's name and folders, the images' new
      place): every owed directory is fsynced first (``commit_point``);
    - a rename relies only on its destination's folder being reachable after power loss
      (``profiles/`` in the user's folder, ``default/`` in ``profiles/``): those are fsynced
      first (``_reach``). A rename itself is atomic and durable with its destination
      directory's fsync; until then a power cut rolls it back, and what it moved is still
      in its old place, so nothing waits on it.

    Every change still owed is paid when the block ends, also when it ends with an error.
    A legacy user's migration changes its folder four times and ``profiles/default`` twice;
    this pays for the first three times and both of the latter with one fsync each, and
    the last folder change (the old DB's removal) with one more. Blocks do not nest: an
    inner block leaves the paying to the outer one.
    """
    global _owed
    if _owed is not None:
        yield
        return
    _owed = {}
    try:
        yield
    finally:
        try:
            commit_point()
        finally:
            _owed = None


def commit_point() -> None:
    """Make every owed directory change durable: called before a step that relies on them."""
    while _owed:
        path = next(iter(_owed))
        fsync_dir(path)
        del _owed[path]


def _reach(folder: Path) -> None:
    """Make ``folder`` reachable after power loss: fsync every owed directory above it (each
    holds the entry of the next one down), not ``folder`` itself."""
    if _owed:
        for owed in [d for d in _owed if d != folder and folder.is_relative_to(d)]:
            fsync_dir(owed)
            del _owed[owed]


def _dir_changed(path: Path) -> None:
    """``path``'s entries changed: fsync it now, or owe it inside ``ordered_dir_syncs()``."""
    if _owed is None:
        fsync_dir(path)
    else:
        _owed[path] = None


def _forget_dir(path: Path) -> None:
    """``path`` was removed: what was owed for it (or below it) has nothing left to sync."""
    if _owed:
        for owed in [d for d in _owed if d == path or d.is_relative_to(path)]:
            del _owed[owed]


def is_scratch(path: Path) -> bool:
    """The migrator's own scratch (``*.migrating``, anything in the work dir): never the only
    copy of anything, so removing it is no commit point."""
    return path.name.endswith(layout.TEMP_SUFFIX) or layout.WORK_DIR in path.parts


def fsync_file(path: Path) -> None:
    """Make the bytes of ``path`` durable (before it is renamed into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_fd(src: int, dst: int) -> int:
    copied = 0
    use_range = hasattr(os, "copy_file_range")
    while use_range:
        try:
            n = os.copy_file_range(src, dst, CHUNK * 8)
        except OSError as exc:
            if exc.errno not in _NO_COPY_RANGE:
                raise
            use_range = False  # both offsets advanced together: read/write goes on from here
            break
        if n == 0:
            return copied
        copied += n
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = os.readv(src, [buf])
        if n == 0:
            return copied
        written = 0
        while written < n:
            written += os.write(dst, view[written:n])
        copied += n


def copy_file(
    src: Path,
    dst: Path,
    *,
    like: os.stat_result | None = None,
    keep_times: bool = False,
    durable: bool = True,
    verified: bool = False,
) -> int:
    """Copy ``src`` to the new file ``dst`` (which must not exist) and fsync it.

    Without ``like`` the copy has mode 0600: a scratch file nobody else should use yet.
    With ``like`` it gets that file's mode and owner (and times with ``keep_times``)
    *before* the fsync, so what is later renamed into place is durable, metadata included.
    Returns the number of bytes copied. A half-written ``dst`` is removed on failure, so a
    failed copy (ENOSPC, EIO) leaves no partial file behind (SPEC R8).
    ``durable=False`` skips the fsync, for throwaway copies in the system temp dir and
    copies whose result the caller fsyncs itself after changing it. ``verified=True``
    reads both files back through the open descriptors and raises ``OSError(EIO)`` (the
    copy removed) unless they hold the same bytes: a copy that is to replace its source.
    """
    src_fd = os.open(src, os.O_RDONLY)
    try:
        access = os.O_RDWR if verified else os.O_WRONLY  # read back through the same fd
        dst_fd = os.open(dst, access | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            n = _copy_fd(src_fd, dst_fd)
            if verified and not _same_fd_bytes(src_fd, dst_fd):
                raise OSError(errno.EIO, f"the copy of {src} does not match it", str(dst))
            if like is not None:
                _adopt_fd(dst_fd, like)
                if keep_times:
                    os.utime(dst_fd, ns=(like.st_atime_ns, like.st_mtime_ns))
            if durable:
                os.fsync(dst_fd)
        except BaseException:
            os.close(dst_fd)
            _remove_quietly(dst)
            raise
        os.close(dst_fd)
        return n
    finally:
        os.close(src_fd)


def _adopt_fd(fd: int, like: os.stat_result) -> None:
    os.fchmod(fd, stat.S_IMODE(like.st_mode))
    if os.geteuid() == 0:
        os.fchown(fd, like.st_uid, like.st_gid)


def adopt_and_fsync(path: Path, like: os.stat_result) -> None:
    """Give ``path`` the mode (and, when run as root, the owner) of ``like``, then fsync.

    The migration usually runs as the server's user, but when an operator runs it as root
    the new DB must still belong to the server's user, or the server cannot open it.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        _adopt_fd(fd, like)
        os.fsync(fd)
    finally:
        os.close(fd)


def rename(src: Path, dst: Path) -> None:
    """Rename into a reachable folder; the new entry made durable (at once, or owed).

    The caller fsyncs a file before renaming it into place. Only the destination directory
    is owed an fsync: a rename is one atomic change of both directories, durable as a whole
    with its destination's fsync (ext4 and xfs journal it as one transaction; the power-loss
    model, harness/explore/powerloss/model.py, holds a migrator to the same rule), and until then a
    power cut rolls it back whole. Syncing the source as well bought nothing.
    Raises OSError(EXDEV) unchanged when ``dst`` is on another filesystem: the caller
    decides how to copy instead (SPEC R12).
    """
    _reach(dst.parent)
    os.rename(src, dst)
    _dir_changed(dst.parent)


def unlink(path: Path) -> None:
    """Remove a file and make its removal durable; unless it is scratch, earlier changes
    are made durable first (removing data relies on its other copies being on disk)."""
    if not is_scratch(path):
        commit_point()
    os.unlink(path)
    _dir_changed(path.parent)


def unlink_if_exists(path: Path) -> bool:
    """Remove ``path`` if it exists (a file or a symlink); True when something was removed."""
    if not os.path.lexists(path):
        return False
    try:
        unlink(path)
    except FileNotFoundError:
        return False
    return True


def rmdir(path: Path) -> None:
    """Remove an empty directory and make its removal durable; unless it is scratch, what
    was moved out of it is made durable first (a rename rolled back into a folder whose
    removal is on disk would be lost)."""
    if not is_scratch(path):
        commit_point()
    os.rmdir(path)
    _forget_dir(path)
    _dir_changed(path.parent)


def mkdirs(path: Path, *, owner_like: os.stat_result | None = None) -> None:
    """Create ``path`` and its missing parents, fsyncing each parent after each mkdir.

    With ``owner_like``, new folders get that owner when run as root (see
    ``adopt_mode_and_owner``).
    """
    missing: list[Path] = []
    cur = path
    while not cur.exists():
        missing.append(cur)
        cur = cur.parent
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        if owner_like is not None and os.geteuid() == 0:
            os.chown(d, owner_like.st_uid, owner_like.st_gid)
        _dir_changed(d.parent)


def remove_tree(path: Path) -> None:
    """Remove a scratch folder the migrator made (files and folders inside), then fsync.

    Symlinks inside are removed, never followed.
    """
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        unlink(path)
        return
    emptied = False
    for entry in os.scandir(path):
        p = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            remove_tree(p)
        else:
            os.unlink(p)
            emptied = True
    if emptied:
        fsync_dir(path)  # its entries are gone on disk before the folder is (R17)
    rmdir(path)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in bounded chunks."""
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK)
        while n := f.readinto(buf):
            h.update(memoryview(buf)[:n])
    return h.hexdigest()


def same_bytes(a: Path, b: Path) -> bool:
    """True when two files hold the same bytes: how a byte copy is verified."""
    fa = os.open(a, os.O_RDONLY)
    try:
        fb = os.open(b, os.O_RDONLY)
        try:
            return _same_fd_bytes(fa, fb)
        finally:
            os.close(fb)
    finally:
        os.close(fa)


def _same_fd_bytes(fa: int, fb: int) -> bool:
    """Compare two open files from their first byte, whatever their offsets.

    Chunk by chunk, two bounded buffers at a time: exact (no hash to trust) and several
    times faster than hashing both files.
    """
    size = os.fstat(fa).st_size
    if size != os.fstat(fb).st_size:
        return False
    chunk = min(CHUNK, size + 1)  # a small file in one read, without a 1 MiB buffer
    buf_a, buf_b = bytearray(chunk), bytearray(chunk)
    offset = 0
    while n := os.preadv(fa, [buf_a], offset):
        if os.preadv(fb, [buf_b], offset) != n:
            return False
        if (buf_a != buf_b) if n == chunk else (buf_a[:n] != buf_b[:n]):
            return False
        offset += n
    return os.preadv(fb, [buf_b], offset) == 0


def existing_ancestor(path: Path) -> Path:
    """``path`` itself or its nearest ancestor that exists (where it would be created)."""
    cur = path
    while not os.path.lexists(cur):
        cur = cur.parent
    return cur


def device_of(path: Path) -> int:
    """The filesystem a file at ``path`` lives on (or would be created on)."""
    return os.stat(existing_ancestor(path)).st_dev


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path``."""
    st = os.statvfs(existing_ancestor(path))
    return st.f_bavail * st.f_frsize


def file_size(path: Path) -> int:
    """Size of a regular file, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def tree_size(path: Path) -> int:
    """Total size of the regular files directly inside ``path`` (an images folder)."""
    if not path.is_dir():
        return 0
    total = 0
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False):
            total += entry.stat(follow_symlinks=False).st_size
    return total
