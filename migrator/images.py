"""Move a user's images folder into the default profile, resumably.

The fast path is one rename of the folder. When the destination already exists (a move cut
short, or the seed's code having created it) or is on another filesystem (SPEC R12), the
folder is merged file by file; each file is either renamed, or copied under a ``.migrating``
name, fsynced, checked by sha256 and renamed into place *before* its source is removed, so
every image exists in the old or the new folder at every moment.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from migrator import fsops, layout
from migrator.layout import UserPaths
from migrator.report import UserProblem


def move(paths: UserPaths, *, owner_like: os.stat_result | None = None) -> str:
    """Bring ``images/`` to ``profiles/default/images/``; returns what was done (for logs).

    Raises ``UserProblem`` (image_conflict / unexpected) before moving anything when the two
    folders hold different files under one name, or the old folder holds something that is
    not a plain file: a person must decide, so the folders are left as they are.
    """
    old, new = paths.old_images, paths.new_images
    if not old.is_dir() or old.is_symlink():
        return "no images folder"
    if not os.path.lexists(new):
        fsops.mkdirs(new.parent, owner_like=owner_like)
        try:
            fsops.rename(old, new)
            return "images folder moved"
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        fsops.mkdirs(new, owner_like=owner_like)
    names = _check_mergeable(old, new)
    copied = 0
    for name in names:
        src, dst = old / name, new / name
        if dst.exists():
            fsops.unlink(src)  # same bytes already in place (checked above)
            continue
        copied += _move_file(src, dst)
    fsops.rmdir(old)
    across = f", {copied} copied across filesystems" if copied else ""
    return f"{len(names)} images merged{across}"


def check(paths: UserPaths) -> None:
    """Raise ``UserProblem`` if ``move`` would stop on this user's images; called before a
    user's first write, so such a user is left exactly as found.

    A file named like the migrator's scratch (``*.migrating``) is refused too: moved into
    the new folder it would be taken for the leftover of an interrupted copy and removed
    by the next run. (Real image names are ``<sha256>.<ext>``, so this never fires on
    data the server wrote.)
    """
    old, new = paths.old_images, paths.new_images
    if not old.is_dir() or old.is_symlink():
        return
    for entry in os.scandir(old):
        if entry.name.endswith(layout.TEMP_SUFFIX):
            raise UserProblem(
                "unexpected",
                f"{entry.path}: named like the migrator's scratch files; rename it (or move "
                f"it out of {old}), then re-run",
            )
    if new.is_dir():
        _check_mergeable(old, new)


def _check_mergeable(old: Path, new: Path) -> list[str]:
    names: list[str] = []
    for entry in sorted(os.scandir(old), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False):
            raise UserProblem(
                "unexpected",
                f"{entry.path}: not a plain image file; move it out of {old} by hand "
                "(or delete it if it is not needed), then re-run",
            )
        dst = new / entry.name
        if os.path.lexists(dst) and not (
            dst.is_file() and not dst.is_symlink() and fsops.same_bytes(Path(entry.path), dst)
        ):
            raise UserProblem(
                "image_conflict",
                f"{entry.name} exists in both {old} and {new} with different bytes; "
                "images left as they are: compare the two files, keep the right one in "
                f"{new}, delete the other, then re-run",
            )
        names.append(entry.name)
    return names


def _move_file(src: Path, dst: Path) -> int:
    """Rename ``src`` to ``dst``, or copy-verify-rename-unlink across filesystems."""
    try:
        fsops.rename(src, dst)
        return 0
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    tmp = layout.temp_path(dst)
    fsops.unlink_if_exists(tmp)
    st = src.stat()
    fsops.copy_file(src, tmp, like=st, keep_times=True, verified=True)
    fsops.rename(tmp, dst)
    fsops.unlink(src)
    return 1
