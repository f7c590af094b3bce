"""A model of the page cache: what a file system holds in memory versus what is on disk.

A power cut keeps the disk and loses the memory. So the model keeps, for every file,
directory and symlink, two versions of its state:

- the *volatile* state, what every process sees: each write, rename, unlink and mkdir as it
  happened;
- the *durable* state, what the disk is guaranteed to hold: a file's data and metadata as of
  its last ``fsync`` (``fdatasync``: data only), a directory's entries as of *its* last
  ``fsync``.

From the two, :meth:`FileSystem.image` builds the tree a power cut can leave (a
:class:`~harness.explore.powerloss.image.CrashImage`), in one of five kinds:

- ``SYNCED``: only what was synced survives. Directory entries come from each directory's
  durable entries, file data from each file's durable data. This is POSIX's guarantee and
  nothing more: a new directory survives only if its parent was fsynced after the mkdir,
  its files only if it was fsynced itself after they were created.
- ``COMMITTED``: every directory change so far reached the disk (as a journal commit writes
  them, in order, every few seconds on ext4 without any fsync), file data did not (delayed
  allocation writes it back later). This is the state behind the classic "zero-length file
  after a crash": the rename is on disk, the bytes it was meant to publish are not.
- ``PREFIX``: as ``COMMITTED``, but of each file's n write calls since its last fsync the
  first n // 2 reached the disk (write-back interrupted part-way; a file written in one
  call looks as in ``COMMITTED``, and ``TORN`` covers it).
- ``TORN``: as ``COMMITTED``, but of each file's unsynced 4 KiB blocks (those that differ
  from the disk) every other one reached the disk, the first, third, ...: write-back is
  block by block, in no order a program can rely on. The size is what those blocks reach.
- ``REORDERED``: only the directory changed last reached the disk, ahead of every other
  directory's unsynced changes (no ordered metadata: ext2, vfat, POSIX's bare promise); file
  data as in ``SYNCED``. A rename stays atomic: into the directory ahead it is whole (the
  old name gone); out of it towards a directory left behind, the old name stays.

Each kind is one state per crash point: bounded, and states equal by digest are judged once.
With ``replace_flush`` (ext4's ``auto_da_alloc``: a rename over an existing file starts the
write-back of the new one, and the journal commit holding the rename waits for it), a file
renamed over another holds, in every kind, at least the bytes it had at that rename.

Rules the model applies, each the conservative reading of what Linux file systems promise:

- a file that was never fsynced has no durable data: it is empty (ext4 with delayed
  allocation shows exactly that; xfs may show the size with zeros, the same loss);
- fsync of a file makes its data durable, not its name: the directory must be fsynced too;
- fsync of a directory makes its own entries durable, not its parent's entry for it;
- a rename is atomic: it becomes durable as a whole (the new name in, the old name out)
  when the *destination* directory is fsynced; an fsync of the source directory alone keeps
  the old name (the rename is rolled back, not half done);
- creation metadata (the mode a file or directory is created with) is durable with the
  entry; ``chmod`` and ``utime`` changes only with an fsync of the inode;
- a *failed* fsync of a file (EIO, ENOSPC: :meth:`FileSystem.fsync_failed`) loses the pages
  that were dirty then: Linux marks them clean after the failed write-back, so a retried
  fsync succeeds and never writes them (Rebello et al., USENIX ATC 2020). Those pages keep
  their older durable bytes (zeros past the durable end) at every later crash, whatever a
  later fsync does, until the program writes them again.

Inodes are mutable objects on purpose: a replay applies tens of thousands of writes. What
leaves the model (images) is frozen and holds only immutable bytes.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.contract.errors import ExitStatus, KitError
from harness.explore.powerloss.image import (
    PREFIX,
    REORDERED,
    SYNCED,
    TORN,
    VOLATILE,
    Blob,
    CrashImage,
    ImageNode,
)

FILE, DIR, SYMLINK = "file", "dir", "symlink"
PAGE = 4096  # the page cache's unit: what a failed write-back leaves clean but unwritten
_MAX_SYMLINKS = 40  # as the kernel's ELOOP limit


class ModelError(KitError):
    """The trace asks for something the model cannot do (a path that is not a directory)."""

    exit_status = ExitStatus.INTERNAL


class Inode:
    """One file, directory or symlink: its volatile state and its durable state.

    Files: ``volatile`` is None while the content is still ``base``'s (a real file read only
    when needed); ``durable`` is None while the durable content is ``base``'s.
    """

    __slots__ = (
        "base",
        "durable",
        "durable_entries",
        "durable_mode",
        "durable_times",
        "entries",
        "external",
        "failed",
        "flushed",
        "flushed_at",
        "kind",
        "links",
        "log",
        "lost_pages",
        "mode",
        "number",
        "target",
        "times",
        "volatile",
    )

    def __init__(self, number: int, kind: str, mode: int, *, base: str | None = None) -> None:
        self.number = number
        self.kind = kind
        self.mode = self.durable_mode = mode
        self.base = base  # the real path holding the initial content (or the dir's times)
        self.times: tuple[int, int] | None = None  # (atime_ns, mtime_ns) set by utime
        self.durable_times: tuple[int, int] | None = None
        self.links = 0  # volatile names pointing here
        self.volatile: bytearray | None = None
        self.durable: Blob | None = None
        self.entries: dict[str, Inode] = {}
        self.durable_entries: dict[str, Inode] = {}
        self.external = False  # a directory outside the modelled tree: filled in lazily
        self.target = ""  # symlinks
        # Pages whose write-back failed (a failed fsync): clean in memory, never on disk.
        self.lost_pages: set[int] = set()
        self.failed = ""  # which failed fsync lost them, for a report
        # The write calls since the durable bytes, ("w", offset, data) or ("t", size), in
        # order: what a PREFIX state replays part of.
        self.log: list[tuple[str, int, bytes]] = []
        # A rename over an existing file flushed these bytes (auto_da_alloc), and log[:at]
        # is in them: None when no rename did since the last fsync.
        self.flushed: Blob | None = None
        self.flushed_at = 0

    def durable_bytes(self) -> bytes:
        """The bytes on disk now: the last fsync's, or the pristine file's."""
        return _read(self.base) if self.durable is None else self.durable.data

    def content(self) -> bytearray:
        """The volatile content, loaded from ``base`` on first use."""
        if self.volatile is None:
            self.volatile = bytearray(_read(self.base))
        return self.volatile

    def size(self) -> int:
        if self.volatile is None:
            return _size(self.base)
        return len(self.volatile)

    def durable_size(self) -> int:
        return _size(self.base) if self.durable is None else len(self.durable.data)

    def durable_equals_volatile(self) -> bool:
        if self.volatile is None:
            return self.durable is None
        if self.durable is None:
            return bytes(self.volatile) == _read(self.base)
        return self.durable.data == self.volatile


def _read(path: str | None) -> bytes:
    if path is None:
        return b""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _written_back(inode: Inode) -> bytes:
    """What a successful fsync puts on disk: the volatile bytes, except the pages a failed
    fsync lost, which keep what the disk held (zeros where it held nothing)."""
    assert inode.volatile is not None
    if not inode.lost_pages:
        return bytes(inode.volatile)
    data, on_disk = bytearray(inode.volatile), inode.durable_bytes()
    for page in sorted(inode.lost_pages):
        start = page * PAGE
        end = min(start + PAGE, len(data))
        if start >= end:
            continue
        old = on_disk[start:end]
        data[start:end] = old + bytes(end - start - len(old))
    return bytes(data)


def _torn(on_disk: bytes, now: bytearray) -> Blob:
    """Every other dirty 4 KiB block of ``now`` (the first, third, ...) over ``on_disk``: a
    write-back cut off block by block. The file ends where the last block on disk ends (a
    shorter file in memory: its size, a truncate being metadata that commits first)."""
    dirty = [
        page
        for page in range((max(len(on_disk), len(now)) + PAGE - 1) // PAGE)
        if on_disk[page * PAGE : (page + 1) * PAGE] != now[page * PAGE : (page + 1) * PAGE]
    ]
    data = bytearray(on_disk)
    end = len(on_disk)
    for page in dirty[::2]:
        start, stop = page * PAGE, min((page + 1) * PAGE, len(now))
        if start >= stop:
            continue
        data.extend(bytes(max(0, stop - len(data))))
        data[start:stop] = now[start:stop]
        end = max(end, stop)
    return Blob(bytes(data[: min(end, len(now))] if len(now) < len(on_disk) else data[:end]))


def _size(path: str | None) -> int:
    if path is None:
        return 0
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


@dataclass(frozen=True)
class Move:
    """A rename across directories whose destination directory was not fsynced yet."""

    source_dir: Inode
    source_name: str
    target_dir: Inode
    inode: Inode


class FileSystem:
    """The whole namespace from ``/``; one subtree (the data dir) is loaded from disk.

    Directories outside the mounted tree are *external*: they start empty and are filled in
    from the real disk only when the trace uses a name in them (a file copied into the
    tree from ``/tmp``, say). Their durability is modelled like any other, but only the
    mounted tree is ever imaged.
    """

    def __init__(self, *, umask: int = 0o022) -> None:
        self.umask = umask
        self._numbers = itertools.count(1)
        self.root = self._new(DIR, 0o755, base="/")
        self.root.external = True
        self.root.links = 1
        self.moves: list[Move] = []
        self.last_dir: Inode | None = None  # the directory whose entries changed last
        # The names each pristine directory listed before the run (None: unreadable): the
        # pristine copy never changes, and every image of every crash point asks again.
        self._base_names: dict[str, frozenset[str] | None] = {}

    # -- building ----------------------------------------------------------------------

    def _new(self, kind: str, mode: int, *, base: str | None = None) -> Inode:
        return Inode(next(self._numbers), kind, mode, base=base)

    def mount(self, path: str, source: Path) -> Inode:
        """Load the real tree at ``source`` as the (durable and volatile) tree at ``path``.

        ``source`` is a pristine copy of the tree the traced run started from; its files
        are read only when the trace changes them or an image needs their bytes.
        """
        head, name = os.path.split(os.path.normpath(path))
        parent, here = self.root, "/"
        for part in [p for p in head.split("/") if p]:
            # The recorded tree's parents may be gone (the recording was moved): make them.
            here = os.path.join(here, part)
            child = parent.entries.get(part) or self._vivify(parent, part, here)
            if child is None or child.kind != DIR:
                child = self._new(DIR, 0o755)
                child.external = True
                self._link(parent, part, child, durable=True)
            parent = child
        inode = self._load(Path(source))
        self._link(parent, name, inode, durable=True)
        return inode

    def _load(self, source: Path) -> Inode:
        st = os.lstat(source)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            inode = self._new(DIR, mode, base=str(source))
            for entry in sorted(os.scandir(source), key=lambda e: e.name):
                child = self._load(Path(entry.path))
                self._link(inode, entry.name, child, durable=True)
            return inode
        if stat.S_ISLNK(st.st_mode):
            inode = self._new(SYMLINK, mode, base=str(source))
            inode.target = os.readlink(source)
            return inode
        # Regular files (and anything else, which a migrator must not touch anyway).
        return self._new(FILE, mode, base=str(source))

    def _vivify(self, directory: Inode, name: str, real: str) -> Inode | None:
        """An external name as it is on the real disk now (None: absent there too)."""
        try:
            st = os.lstat(real)
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            inode = self._new(DIR, stat.S_IMODE(st.st_mode), base=real)
            inode.external = True
        elif stat.S_ISLNK(st.st_mode):
            inode = self._new(SYMLINK, stat.S_IMODE(st.st_mode), base=real)
            inode.target = os.readlink(real)
        else:
            inode = self._new(FILE, stat.S_IMODE(st.st_mode), base=real)
        self._link(directory, name, inode, durable=True)
        return inode

    @staticmethod
    def _link(directory: Inode, name: str, inode: Inode, *, durable: bool = False) -> None:
        old = directory.entries.get(name)
        if old is not None:
            old.links -= 1
        directory.entries[name] = inode
        inode.links += 1
        if durable:
            directory.durable_entries[name] = inode

    @staticmethod
    def _unlink(directory: Inode, name: str) -> Inode:
        inode = directory.entries.pop(name)
        inode.links -= 1
        return inode

    # -- lookups -----------------------------------------------------------------------

    def _parent(self, path: str) -> tuple[Inode, str, str]:
        """The directory holding ``path``'s last component, that component, and the real
        path of the directory (symlinks resolved)."""
        head, name = os.path.split(os.path.normpath(path))
        if not name:
            raise ModelError(f"{path}: no name to act on")
        found = self._walk(head, depth=0)
        if found is None or found[0].kind != DIR:
            raise ModelError(f"{head}: not a directory in the model")
        return found[0], name, found[1]

    def _walk(self, path: str, *, depth: int) -> tuple[Inode, str] | None:
        """The inode at absolute ``path`` and its real path, following every symlink."""
        node, here = self.root, "/"
        for part in [p for p in path.split("/") if p]:
            if node.kind != DIR:
                return None
            child = self._child(node, part, os.path.join(here, part))
            if child is None:
                return None
            real = os.path.join(here, part)
            if child.kind == SYMLINK:
                if depth >= _MAX_SYMLINKS:
                    return None
                target = os.path.normpath(os.path.join(here, child.target))
                found = self._walk(target, depth=depth + 1)
                if found is None:
                    return None
                child, real = found
            node, here = child, real
        return node, here

    def _child(self, directory: Inode, name: str, real: str) -> Inode | None:
        """An entry of ``directory``; in an external directory, read off the disk if new."""
        child = directory.entries.get(name)
        if child is None and directory.external:
            child = self._vivify(directory, name, real)
        return child

    def lookup(self, path: str) -> Inode | None:
        """The inode named by ``path`` (the last component not followed), or None.

        External names are loaded from the real disk the first time they are named, so a
        file the traced program read from outside the tree can still be copied in.
        """
        if os.path.normpath(path) == "/":
            return self.root
        try:
            directory, name, real = self._parent(path)
        except ModelError:
            return None
        return self._child(directory, name, os.path.join(real, name))

    # -- operations (each as a successful syscall left it) ------------------------------

    def create(self, path: str, mode: int) -> Inode:
        """A new, empty regular file (open with O_CREAT of a missing name, creat)."""
        directory, name, _ = self._parent(path)
        inode = self._new(FILE, mode & ~self.umask & 0o7777)
        inode.volatile = bytearray()
        inode.durable = Blob(b"")
        self._link(directory, name, inode)
        self.last_dir = directory
        return inode

    def mkdir(self, path: str, mode: int) -> Inode:
        directory, name, _ = self._parent(path)
        inode = self._new(DIR, mode & ~self.umask & 0o7777)
        self._link(directory, name, inode)
        self.last_dir = directory
        return inode

    def symlink(self, target: str, path: str) -> Inode:
        directory, name, _ = self._parent(path)
        inode = self._new(SYMLINK, 0o777)
        inode.target = target
        self._link(directory, name, inode)
        self.last_dir = directory
        return inode

    def link(self, source: str, path: str) -> None:
        inode = self.lookup(source)
        if inode is None:
            raise ModelError(f"link: {source} is not in the model")
        directory, name, _ = self._parent(path)
        self._link(directory, name, inode)
        self.last_dir = directory

    def remove(self, path: str) -> Inode:
        """unlink and rmdir alike: the name goes, the inode lives on while it is open."""
        directory, name, _ = self._parent(path)
        if self.lookup(path) is None:
            raise ModelError(f"remove: {path} is not in the model")
        inode = self._unlink(directory, name)
        self.moves = [m for m in self.moves if m.inode is not inode]
        self.last_dir = directory
        return inode

    def rename(self, source: str, target: str, *, exchange: bool = False) -> None:
        src_dir, src_name, _ = self._parent(source)
        dst_dir, dst_name, _ = self._parent(target)
        inode = src_dir.entries.get(src_name) or self.lookup(source)
        if inode is None:
            raise ModelError(f"rename: {source} is not in the model")
        if exchange:
            other = dst_dir.entries.get(dst_name) or self.lookup(target)
            if other is None:
                raise ModelError(f"rename: {target} is not in the model")
            src_dir.entries[src_name], dst_dir.entries[dst_name] = other, inode
            self.last_dir = dst_dir
            if src_dir is not dst_dir:
                self.moves.append(Move(src_dir, src_name, dst_dir, inode))
                self.moves.append(Move(dst_dir, dst_name, src_dir, other))
            return
        if src_dir is dst_dir and src_name == dst_name:
            return
        replaced = dst_dir.entries.get(dst_name)
        if replaced is not None and replaced.kind == FILE and inode.kind == FILE:
            # ext4's auto_da_alloc: the new file's write-back starts now, and the commit of
            # the rename waits for it (used by images with replace_flush only).
            inode.flushed = Blob(_written_back(inode) if inode.volatile is not None else b"")
            if inode.volatile is None:
                inode.flushed = None  # unchanged since the run started: nothing to flush
            inode.flushed_at = len(inode.log)
        self._unlink(src_dir, src_name)
        self._link(dst_dir, dst_name, inode)
        self.last_dir = dst_dir
        if src_dir is not dst_dir:
            self.moves.append(Move(src_dir, src_name, dst_dir, inode))

    @staticmethod
    def write(inode: Inode, offset: int, data: bytes) -> None:
        content = inode.content()
        if offset > len(content):
            content.extend(bytes(offset - len(content)))
        content[offset : offset + len(data)] = data
        inode.log.append(("w", offset, bytes(data)))
        if inode.lost_pages and data:
            # Written again: dirty again, so the next fsync writes these pages back.
            inode.lost_pages -= set(range(offset // PAGE, (offset + len(data) - 1) // PAGE + 1))

    @staticmethod
    def truncate(inode: Inode, size: int) -> None:
        content = inode.content()
        if size < len(content):
            del content[size:]
        else:
            content.extend(bytes(size - len(content)))
        inode.log.append(("t", size, b""))
        if inode.lost_pages:
            # The page holding the new end is rewritten (zeroed past it); later ones are gone.
            inode.lost_pages = {p for p in inode.lost_pages if p < size // PAGE}

    @staticmethod
    def read(inode: Inode, offset: int, length: int) -> bytes:
        return bytes(inode.content()[offset : offset + length])

    @staticmethod
    def chmod(inode: Inode, mode: int) -> None:
        inode.mode = mode & 0o7777

    @staticmethod
    def utime(inode: Inode, times: tuple[int, int] | None) -> None:
        inode.times = times

    def fsync(self, inode: Inode, *, metadata: bool = True) -> None:
        """fsync (``metadata``) or fdatasync of a file or a directory."""
        if inode.kind == DIR:
            self._fsync_dir(inode)
        elif inode.kind == FILE and inode.volatile is not None:
            inode.durable = Blob(_written_back(inode))
            inode.log, inode.flushed, inode.flushed_at = [], None, 0
        if metadata or inode.kind == DIR:
            inode.durable_mode = inode.mode
            inode.durable_times = inode.times

    @staticmethod
    def fsync_failed(inode: Inode, what: str) -> int:
        """An fsync or fdatasync of ``inode`` failed (``what`` says which, for a report).

        Nothing becomes durable, and the pages dirty now are lost for good: the kernel
        marks them clean after the failed write-back, so no later fsync writes them (they
        keep the bytes already on disk). Returns how many pages that is. A directory's
        failed fsync is not modelled (its entries simply stay as durable as they were).
        """
        if inode.kind != FILE or inode.volatile is None:
            return 0
        on_disk, now = inode.durable_bytes(), bytes(inode.volatile)
        dirty = {
            page
            for page in range((max(len(on_disk), len(now)) + PAGE - 1) // PAGE)
            if on_disk[page * PAGE : (page + 1) * PAGE] != now[page * PAGE : (page + 1) * PAGE]
        }
        if dirty:
            inode.lost_pages |= dirty
            inode.failed = inode.failed or what
        return len(dirty)

    def _fsync_dir(self, directory: Inode) -> None:
        entries = dict(directory.entries)
        still: list[Move] = []
        for move in self.moves:
            if move.target_dir is directory:
                # The rename is durable now, as a whole: its old name leaves the source.
                source = move.source_dir.durable_entries
                if source.get(move.source_name) is move.inode:
                    del source[move.source_name]
                continue
            if (
                move.source_dir is directory
                and move.source_name not in entries
                and directory.durable_entries.get(move.source_name) is move.inode
            ):
                # Not durable until its destination is fsynced: keep the old name.
                entries[move.source_name] = move.inode
            still.append(move)
        self.moves = still
        directory.durable_entries = entries

    # -- images --------------------------------------------------------------------------

    def _entries(self, directory: Inode, kind: str) -> dict[str, Inode]:
        """``directory``'s entries on disk in a crash state of ``kind``."""
        if kind == SYNCED:
            return directory.durable_entries
        if kind != REORDERED:
            return directory.entries  # COMMITTED, PREFIX, TORN, and VOLATILE
        ahead = self.last_dir
        if directory is ahead:
            entries = dict(directory.entries)
            for move in self.moves:
                if (
                    move.source_dir is directory
                    and move.target_dir is not directory
                    and move.source_name not in entries
                    and directory.durable_entries.get(move.source_name) is move.inode
                ):
                    entries[move.source_name] = move.inode  # its destination is left behind
            return entries
        entries = directory.durable_entries
        for move in self.moves:
            if (
                move.target_dir is ahead
                and move.source_dir is directory
                and entries.get(move.source_name) is move.inode
            ):
                if entries is directory.durable_entries:
                    entries = dict(entries)
                del entries[move.source_name]  # moved into the directory ahead: whole
        return entries

    def _walk_tree(self, top: Inode, path: str, kind: str) -> Iterator[tuple[str, Inode]]:
        """(path, inode) of ``top`` and everything below it, parents first, names sorted."""
        yield path, top
        if top.kind != DIR:
            return
        entries = self._entries(top, kind)
        for name in sorted(entries):
            yield from self._walk_tree(entries[name], os.path.join(path, name), kind)

    def image(self, top: Inode, kind: str = SYNCED, *, replace_flush: bool = False) -> CrashImage:
        """The tree under ``top`` as a power cut now would leave it (see the module doc);
        ``replace_flush``: ext4's ``auto_da_alloc`` (a rename over a file flushes it)."""
        volatile = kind == VOLATILE
        on_disk = list(self._walk_tree(top, ".", kind))
        nodes = tuple(
            self._node(os.path.normpath(path), inode, kind, replace_flush=replace_flush)
            for path, inode in on_disk
        )
        dropped = () if volatile else tuple(self._dropped(top, on_disk, nodes, kind))
        return CrashImage(kind=kind, nodes=nodes, dropped=dropped)

    def _dropped(
        self,
        top: Inode,
        on_disk: list[tuple[str, Inode]],
        nodes: tuple[ImageNode, ...],
        kind: str,
    ) -> Iterator[str]:
        """What the power cut takes away from what the processes saw, path by path.

        ``on_disk`` is the image's own walk; what the processes saw is the same walk when
        every directory change was committed, so only ``SYNCED`` and ``REORDERED`` walk again.
        """
        kept = dict(on_disk)
        on_disk_node = {path: node for (path, _), node in zip(on_disk, nodes, strict=True)}
        committed = kind not in (SYNCED, REORDERED)
        seen = kept if committed else dict(self._walk_tree(top, ".", VOLATILE))
        for path in sorted(seen.keys() | kept.keys()):
            rel = os.path.normpath(path)
            now, disk = seen.get(path), kept.get(path)
            if disk is None:
                assert now is not None
                yield f"{rel}: {now.kind} not on disk: its directory not fsynced since it appeared"
            elif now is None:
                yield f"{rel}: back on disk: its removal or rename was not made durable"
            elif now is not disk:
                yield f"{rel}: an older {disk.kind} is on disk: the rename over it was not durable"
            elif now.kind == FILE and not now.durable_equals_volatile():
                node = on_disk_node[path]
                if node.data is not None and node.data is not now.durable:
                    if bytes(now.content()) == node.data.data:
                        continue  # flushed whole (a rename over a file: auto_da_alloc)
                    how = {PREFIX: "part of its unsynced writes", TORN: "some of its blocks"}
                    what = (
                        f"written since its last fsync, {how.get(kind, 'some of it')} on disk: "
                        f"{len(node.data.data)} bytes on disk"
                    )
                    yield f"{rel}: {what}, {now.size()} bytes in memory"
                    continue
                synced = now.durable_size()
                if now.lost_pages:
                    what = (
                        f"{now.failed} failed: {len(now.lost_pages)} page(s) never reached the "
                        f"disk, though marked clean (a later fsync does not write them); "
                        f"{synced} bytes on disk"
                    )
                elif now.durable is not None and synced == 0 and now.base is None:
                    what = "never fsynced: empty on disk"
                else:
                    what = f"written since its last fsync: {synced} bytes on disk"
                yield f"{rel}: {what}, {now.size()} bytes in memory"

    def _file_data(self, inode: Inode, kind: str, *, replace_flush: bool) -> Blob | None:
        """A file's bytes in a crash state of ``kind`` (None: the pristine file's)."""
        base, log = inode.durable, inode.log
        if replace_flush and inode.flushed is not None:
            base, log = inode.flushed, inode.log[inode.flushed_at :]
        if kind == PREFIX and len(log) >= 2:
            data = bytearray(inode.durable_bytes() if base is None else base.data)
            for op, at, chunk in log[: len(log) // 2]:
                if op == "t":
                    del data[at:]
                    data.extend(bytes(at - len(data)))
                else:
                    data.extend(bytes(max(0, at - len(data))))
                    data[at : at + len(chunk)] = chunk
            return Blob(bytes(data))
        if kind == TORN and inode.volatile is not None:
            return _torn(inode.durable_bytes() if base is None else base.data, inode.volatile)
        return base

    def _node(self, rel: str, inode: Inode, kind: str, *, replace_flush: bool) -> ImageNode:
        volatile = kind == VOLATILE
        if inode.kind == FILE:
            if volatile:
                blob = None if inode.volatile is None else Blob(bytes(inode.volatile))
            else:
                blob = self._file_data(inode, kind, replace_flush=replace_flush)
            return ImageNode(
                path=rel,
                kind=FILE,
                mode=inode.mode if volatile else inode.durable_mode,
                data=blob,
                base=inode.base if blob is None else None,
                times=inode.times if volatile else inode.durable_times,
            )
        if inode.kind == SYMLINK:
            return ImageNode(path=rel, kind=SYMLINK, mode=inode.mode, target=inode.target)
        entries = self._entries(inode, kind)
        pristine = (
            inode.base is not None
            and not inode.external
            and self._names_before(inode.base) == entries.keys()
        )
        return ImageNode(
            path=rel,
            kind=DIR,
            mode=inode.durable_mode,
            base=inode.base if pristine else None,
            times=inode.durable_times,
        )

    def _names_before(self, base: str) -> frozenset[str] | None:
        """What a pristine directory listed before the run; an image keeps its mtime only
        when the directory lists the same now."""
        if base not in self._base_names:
            try:
                self._base_names[base] = frozenset(os.listdir(base))
            except OSError:
                self._base_names[base] = None
        return self._base_names[base]
