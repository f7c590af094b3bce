"""Crash images: the tree a power cut leaves, as plain frozen data.

An image is what :class:`~harness.explore.powerloss.model.FileSystem` hands out for one crash
point: every entry of the data dir that is on disk, with the bytes that are on disk. It
holds only immutable values, so images taken at many points can be kept side by side,
compared (:attr:`CrashImage.digest`: two points that leave the same tree are judged once)
and written out (:mod:`harness.explore.powerloss.materialise`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

# The kinds of crash state (see harness.explore.powerloss.model for what each keeps). Which
# of them a file system can produce is its persistence profile's choice
# (harness.explore.powerloss.profiles).
SYNCED = "synced"
COMMITTED = "committed"
PREFIX = "prefix"
TORN = "torn"
REORDERED = "reordered"
KINDS = (SYNCED, COMMITTED, PREFIX, TORN, REORDERED)
# No power cut at all: what the processes saw. Not a crash state; the replay's self-check
# (the model's volatile tree at the end must be the tree the real run left).
VOLATILE = "volatile"

KIND_TEXT = {
    SYNCED: "only what was fsynced survives (unsynced data and directory changes lost)",
    COMMITTED: "directory changes reached the disk, file data not fsynced did not",
    PREFIX: "directory changes reached the disk, and the first half of each file's unsynced writes",
    TORN: "directory changes reached the disk, and every other unsynced 4 KiB block of each "
    "file (the first, third, ...), the rest not",
    REORDERED: "the directory changed last reached the disk alone, ahead of every other "
    "directory's unsynced changes; unsynced file data did not",
}


@dataclass(frozen=True, eq=False)
class Blob:
    """File content held by the model; its hash is computed once, when first needed."""

    data: bytes

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ImageNode:
    """One entry of a crash image.

    A file's bytes are either ``data`` or, when unchanged since the run started, the file at
    ``base`` (the pristine copy of the initial tree), copied with its times. A directory
    with ``base`` lists the same names as before the run and gets its old times back.
    """

    path: str  # relative to the data dir, "." for the data dir itself
    kind: str  # "file", "dir" or "symlink"
    mode: int
    data: Blob | None = None
    base: str | None = None
    times: tuple[int, int] | None = None  # (atime_ns, mtime_ns) made durable by an fsync
    target: str | None = None  # symlinks

    def identity(self) -> str:
        """What makes two nodes the same on disk (for :attr:`CrashImage.digest`)."""
        content = self.data.sha256 if self.data is not None else f"base:{self.base}"
        return f"{self.path}\0{self.kind}\0{self.mode:o}\0{content}\0{self.target}\0{self.times}"


@dataclass(frozen=True)
class CrashImage:
    """The data dir after a power cut: its entries (parents first) and what was dropped.

    ``dropped`` says, path by path, what the processes had seen that the disk does not
    hold: the power-loss half of "what was lost" in a report.
    """

    kind: str
    nodes: tuple[ImageNode, ...]
    dropped: tuple[str, ...] = ()

    @cached_property
    def digest(self) -> str:
        h = hashlib.sha256()
        for node in self.nodes:
            h.update(node.identity().encode("utf-8", "surrogateescape"))
            h.update(b"\n")
        return h.hexdigest()

    def paths(self) -> tuple[str, ...]:
        return tuple(n.path for n in self.nodes)
