"""A model of the page cache: what a file system holds in memory versus what is on disk.

A power cut keeps the disk and loses the memory. So the model keeps, for every file,
directory and symlink, two versions of its state:

- the *volatile* state, what every process sees: each write, rename, unlink and mkdir as it
  happened;
- the *durable* state, what the disk is guaranteed to hold: a file's data and metadata as of
  its last ``fsync`` (``fdatasync``: data only), a directory's entries as of *its* last
  ``fsync``.

From the two, :meth:`FileSystem.image` builds the tree a power cut can leave (a
:class:`~harness.explore.powerloss.image.CrashImage`), in one of two kinds:

- ``SYNCED``: only what was synced survives. Directory entries come from each directory's
  durable entries, file data from each file's durable data. This is POSIX's guarantee and
  nothing more: a new directory survives only if its parent was fsynced after the mkdir,
  its files only if it was fsynced itself after they were created.
- ``COMMITTED``: every directory change so far reached the disk (as a journal commit writes
  them, in order, every few seconds on ext4 without any fsync), file data did not (delayed
  allocation writes it back later). This is the state behind the classic "zero-length file
  after a crash": the rename is on disk, the bytes it was meant to publish are not.

Rules the model applies, each the conservative reading of what Linux file systems promise:

- a file that was never fsynced has no durable data: it is empty (ext4 with delayed
  allocation shows exactly that; xfs may show the size with zeros, the same loss);
- fsync of a file makes its data durable, not its name: the directory must be fsynced too;
- fsync of a directory makes its own entries durable, not its parent's entry for it;
- a rename is atomic: it becomes durable as a whole (the new name in, the old name out)
  when the *destination* directory is fsynced; an fsync of the source directory alone keeps
  the old name (the rename is rolled back, not half done);
- creation metadata (the mode a file or directory is created with) is durable with the
  entry; ``chmod`` and ``utime`` changes only with an fsync of the inode.

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
from harness.explore.powerloss.image import SYNCED, VOLATILE, Blob, CrashImage, ImageNode

FILE, DIR, SYMLINK = "file", "dir", "symlink"
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
        "kind",
        "links",
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
        return inode

    def mkdir(self, path: str, mode: int) -> Inode:
        directory, name, _ = self._parent(path)
        inode = self._new(DIR, mode & ~self.umask & 0o7777)
        self._link(directory, name, inode)
        return inode

    def symlink(self, target: str, path: str) -> Inode:
        directory, name, _ = self._parent(path)
        inode = self._new(SYMLINK, 0o777)
        inode.target = target
        self._link(directory, name, inode)
        return inode

    def link(self, source: str, path: str) -> None:
        inode = self.lookup(source)
        if inode is None:
            raise ModelError(f"link: {source} is not in the model")
        directory, name, _ = self._parent(path)
        self._link(directory, name, inode)

    def remove(self, path: str) -> Inode:
        """unlink and rmdir alike: the name goes, the inode lives on while it is open."""
        directory, name, _ = self._parent(path)
        if self.lookup(path) is None:
            raise ModelError(f"remove: {path} is not in the model")
        inode = self._unlink(directory, name)
        self.moves = [m for m in self.moves if m.inode is not inode]
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
            if src_dir is not dst_dir:
                self.moves.append(Move(src_dir, src_name, dst_dir, inode))
                self.moves.append(Move(dst_dir, dst_name, src_dir, other))
            return
        if src_dir is dst_dir and src_name == dst_name:
            return
        self._unlink(src_dir, src_name)
        self._link(dst_dir, dst_name, inode)
        if src_dir is not dst_dir:
            self.moves.append(Move(src_dir, src_name, dst_dir, inode))

    @staticmethod
    def write(inode: Inode, offset: int, data: bytes) -> None:
        content = inode.content()
        if offset > len(content):
            content.extend(bytes(offset - len(content)))
        content[offset : offset + len(data)] = data

    @staticmethod
    def truncate(inode: Inode, size: int) -> None:
        content = inode.content()
        if size < len(content):
            del content[size:]
        else:
            content.extend(bytes(size - len(content)))

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
            inode.durable = Blob(bytes(inode.volatile))
        if metadata or inode.kind == DIR:
            inode.durable_mode = inode.mode
            inode.durable_times = inode.times

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

    def _walk_tree(self, top: Inode, path: str, *, committed: bool) -> Iterator[tuple[str, Inode]]:
        """(path, inode) of ``top`` and everything below it, parents first, names sorted."""
        yield path, top
        if top.kind != DIR:
            return
        entries = top.entries if committed else top.durable_entries
        for name in sorted(entries):
            yield from self._walk_tree(entries[name], os.path.join(path, name), committed=committed)

    def image(self, top: Inode, kind: str = SYNCED) -> CrashImage:
        """The tree under ``top`` as a power cut now would leave it (see the module doc)."""
        committed = kind != SYNCED
        volatile = kind == VOLATILE
        on_disk = list(self._walk_tree(top, ".", committed=committed))
        nodes = tuple(
            self._node(os.path.normpath(path), inode, committed=committed, volatile=volatile)
            for path, inode in on_disk
        )
        dropped = () if volatile else tuple(self._dropped(top, on_disk, committed=committed))
        return CrashImage(kind=kind, nodes=nodes, dropped=dropped)

    def _dropped(
        self, top: Inode, on_disk: list[tuple[str, Inode]], *, committed: bool
    ) -> Iterator[str]:
        """What the power cut takes away from what the processes saw, path by path.

        ``on_disk`` is the image's own walk; what the processes saw is the same walk when
        every directory change was committed, so only a ``SYNCED`` image walks again.
        """
        kept = dict(on_disk)
        seen = kept if committed else dict(self._walk_tree(top, ".", committed=True))
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
                synced = now.durable_size()
                if now.durable is not None and synced == 0 and now.base is None:
                    what = "never fsynced: empty on disk"
                else:
                    what = f"written since its last fsync: {synced} bytes on disk"
                yield f"{rel}: {what}, {now.size()} bytes in memory"

    def _node(self, rel: str, inode: Inode, *, committed: bool, volatile: bool) -> ImageNode:
        if inode.kind == FILE:
            if volatile:
                blob = None if inode.volatile is None else Blob(bytes(inode.volatile))
            else:
                blob = inode.durable
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
        entries = inode.entries if committed else inode.durable_entries
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
