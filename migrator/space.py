"""Free-space preflight (SPEC R8): refuse a user up front rather than fail halfway.

A copy that runs out of space mid-way is cleaned up too (``fsops.copy_file``), but checking
first gives the person a message with the numbers, and avoids filling the disk the server
needs. The estimate is deliberately a little generous: a user refused for lack of space is
untouched and migrated by the next run after space is freed; one that runs out halfway has
done work for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from migrator import fsops
from migrator.layout import UserPaths
from migrator.report import UserProblem
from migrator.state import Kind, UserTree

SLACK = 1 << 20  # -shm of the work copy, directory blocks, rounding


@dataclass(frozen=True)
class Need:
    """Bytes the migration will write on the filesystem holding ``where``."""

    where: Path
    bytes: int
    free: int

    @property
    def fits(self) -> bool:
        return self.free >= self.bytes


def _db_bytes(db: Path) -> tuple[int, int]:
    """(main file + data sidecars, size of the -wal alone)."""
    wal = fsops.file_size(db.with_name(db.name + "-wal"))
    journal = fsops.file_size(db.with_name(db.name + "-journal"))
    return fsops.file_size(db) + wal + journal, wal


def needs(paths: UserPaths, tree: UserTree) -> list[Need]:
    """What the real run would write for this user, per filesystem.

    In the user's folder: the work copy (main file + WAL, which the checkpoint may grow by
    up to the WAL's size) and the backup copy; for a half-migrated user also the copy of
    the new DB. On another filesystem holding ``profiles/`` (SPEC R12): a second copy of
    the DB and of the images, since a rename cannot cross filesystems.
    """
    per_device: dict[int, list] = {}

    def add(where: Path, n: int) -> None:
        dev = fsops.device_of(where)
        slot = per_device.setdefault(dev, [fsops.existing_ancestor(where), 0])
        slot[1] += n

    old_total, old_wal = _db_bytes(paths.old_db)
    root = paths.root
    if tree.kind is Kind.LEGACY:
        add(root, 2 * old_total + old_wal + SLACK)
        if fsops.device_of(paths.profile_dir) != fsops.device_of(root):
            add(paths.profile_dir, old_total)
    elif tree.kind is Kind.BOTH:
        new_total, new_wal = _db_bytes(paths.new_db)
        add(root, 2 * old_total + old_wal + new_total + new_wal + SLACK)
    elif tree.stray_wal is not None:
        new_total, _ = _db_bytes(paths.new_db)
        add(root, new_total + 2 * fsops.file_size(tree.stray_wal) + SLACK)
    if tree.old_images and fsops.device_of(paths.old_images) != fsops.device_of(paths.new_images):
        add(paths.new_images, fsops.tree_size(paths.old_images))
    return [Need(where, n, fsops.free_bytes(where)) for where, n in per_device.values()]


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def check(paths: UserPaths, tree: UserTree) -> str:
    """Raise ``UserProblem('no_space')`` when a filesystem is short; else a log detail."""
    found = needs(paths, tree)
    for need in found:
        if not need.fits:
            raise UserProblem(
                "no_space",
                f"not enough free space on the filesystem of {need.where}: migrating "
                f"{paths.user_id} needs about {need.bytes} bytes ({_mb(need.bytes)}), "
                f"{need.free} bytes ({_mb(need.free)}) are free; the user's folder is left "
                "untouched. Free some space, then re-run.",
            )
    return ", ".join(f"needs {_mb(n.bytes)}, {_mb(n.free)} free" for n in found) or "none"
