"""pyfakefs helpers: full disks and second devices for high-volume runs of pure Python.

A property test that tries thousands of trees cannot mount a tmpfs per example; pyfakefs
fakes the file system inside the process in microseconds, with a disk size
(``set_disk_usage``: writes past it raise ENOSPC) and mount points (``add_mount_point``:
renames across them raise EXDEV). Use it for file-moving logic only.

Limits (why the real-disk and syscall backends exist):

- only Python code that goes through the patched ``os``/``io``/``pathlib``/``shutil`` sees
  the fake; **sqlite3's C code does not**: a ``sqlite3.connect(fake_path)`` opens a real file
  at that path on the real disk. Never run a real migration (which opens SQLite databases)
  inside a fake file system;
- child processes (a command migrator, strace) see the real disk;
- file sizes are accounted, not allocated: block rounding, inodes and metadata cost
  nothing, so "exactly K bytes free" is exact in bytes here and in 4 KiB blocks on tmpfs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import PurePosixPath

from pyfakefs.fake_filesystem import FakeFilesystem
from pyfakefs.fake_filesystem_unittest import Patcher

from harness.faults.availability import Availability

_FILLER = ".migration-kit-filler"


def backend_available() -> Availability:
    """pyfakefs is a dependency of the kit, so this backend is always available."""
    return Availability("pyfakefs", True)


@contextmanager
def fake_disk(
    total_bytes: int | None = None, *, mounts: Mapping[str, int | None] | None = None
) -> Iterator[FakeFilesystem]:
    """A fake file system for the block: a root disk of ``total_bytes`` (None: unlimited)
    and a separate device at each path of ``mounts`` (path -> size in bytes, or None)."""
    with Patcher() as patcher:
        fs = patcher.fs
        assert fs is not None
        if total_bytes is not None:
            fs.set_disk_usage(total_bytes)
        for path, size in (mounts or {}).items():
            fs.add_mount_point(path, total_size=size)
        yield fs


def fill(fs: FakeFilesystem, path: str, leave_free: int) -> str:
    """Add a filler file under ``path`` so exactly ``leave_free`` bytes stay free on its
    device; returns the filler's path (remove it to give the space back)."""
    free = fs.get_disk_usage(path).free
    if free < leave_free:
        raise ValueError(f"{path} has only {free} bytes free, not {leave_free}")
    filler = str(PurePosixPath(path) / _FILLER)
    fs.create_file(filler, st_size=free - leave_free)
    return filler
