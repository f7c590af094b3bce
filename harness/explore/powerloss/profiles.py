"""Persistence profiles: which crash states a file system can leave (``--fs``).

A power cut leaves what the file system had written, and file systems differ in what they
write without being asked. Each profile names the crash kinds
(:data:`~harness.explore.powerloss.image.KINDS`) its file system can produce, and whether a
rename over an existing file flushes the new file first (ext4's ``auto_da_alloc``). The
model never relaxes a rule for a profile (fsync of a file never makes its name durable,
though on ext4 and btrfs it usually does): a profile only adds or leaves out crash kinds,
so a migrator that passes ``posix-minimal`` passes them all. Sources in ``SOURCES`` and in
docs/power-loss.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.contract import settings
from harness.explore.powerloss.image import COMMITTED, PREFIX, REORDERED, SYNCED, TORN


class Fs(StrEnum):
    EXT4_ORDERED = "ext4-ordered"
    XFS = "xfs"
    BTRFS = "btrfs"
    POSIX_MINIMAL = "posix-minimal"


@dataclass(frozen=True)
class Profile:
    """What a power cut can leave on one kind of file system."""

    fs: Fs
    kinds: tuple[str, ...]
    replace_flush: bool  # a rename over an existing file writes the new one back first
    source: str


# Journalled metadata commits directory changes in order (no REORDERED); write-back of file
# data is page by page and can stop anywhere (PREFIX, TORN) on all of them.
JOURNALLED = (SYNCED, COMMITTED, PREFIX, TORN)

PROFILES: dict[Fs, Profile] = {
    p.fs: p
    for p in (
        Profile(
            Fs.EXT4_ORDERED,
            JOURNALLED,
            replace_flush=True,
            source="ext4 data=ordered (the default) with auto_da_alloc (the default): metadata "
            "journalled in order; a rename over an existing file, and a truncate to 0, start the "
            "new data's write-back and the commit waits for it (Documentation/admin-guide/"
            "ext4.rst, auto_da_alloc; fs/ext4/namei.c ext4_rename -> ext4_alloc_da_blocks)",
        ),
        Profile(
            Fs.XFS,
            JOURNALLED,
            replace_flush=False,
            source="xfs: metadata journalled in order (delayed logging); delayed allocation "
            "with no flush on rename (only on close after a truncate, which the model does not "
            "credit); the on-disk size moves only with written data (no 'NULL files' since "
            "2.6.22)",
        ),
        Profile(
            Fs.BTRFS,
            JOURNALLED,
            replace_flush=False,
            source="btrfs: copy-on-write, metadata committed in transactions in order; a rename "
            "over a file only starts the new data's write-back (filemap_flush in btrfs_rename), "
            "the commit does not wait for it since the ordered-operations list was removed "
            "(Linux 3.17), so no flush is credited",
        ),
        Profile(
            Fs.POSIX_MINIMAL,
            (*JOURNALLED, REORDERED),
            replace_flush=False,
            source="only what POSIX promises: fsync of a file makes its data durable, fsync of a "
            "directory its entries; nothing else is ordered, so one directory's changes may "
            "reach the disk ahead of another's (ext2, vfat, any file system without ordered "
            "metadata)",
        ),
    )
}

# The strictest profile the reference migrator passes on the default tree.
DEFAULT_FS = Fs(settings.DEFAULT_FS)
assert tuple(f.value for f in Fs) == settings.FS_PROFILES  # --help names them from there
