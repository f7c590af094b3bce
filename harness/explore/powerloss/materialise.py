"""Write a :class:`~harness.explore.powerloss.image.CrashImage` out as a real directory tree.

The migrator's clean re-run and the oracles work on real files, so each crash state is
materialised in a fresh directory: unchanged files are copied from the pristine initial
tree with their times (so a backup's age, which decides R11, survives the crash as it
would), changed ones written from the model's bytes. Modes and times are applied after a
directory is filled, so a read-only folder of the fixture does not stop its own creation.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.explore.powerloss.image import CrashImage, ImageNode


def materialise(image: CrashImage, dest: Path) -> Path:
    """Create ``dest`` (which must not exist) holding exactly ``image``; returns ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    dirs: list[tuple[Path, ImageNode]] = []
    for node in image.nodes:
        path = dest if node.path == "." else dest / node.path
        if node.kind == "dir":
            if path != dest:
                path.mkdir()
            dirs.append((path, node))
        elif node.kind == "symlink":
            os.symlink(node.target or "", path)
        else:
            _write_file(node, path)
    for path, node in reversed(dirs):  # children before parents: their times stay put
        os.chmod(path, node.mode)
        _set_times(path, node)
    return dest


def _write_file(node: ImageNode, path: Path) -> None:
    if node.data is None and node.base is not None and os.path.isfile(node.base):
        shutil.copy2(node.base, path, follow_symlinks=False)
    else:
        path.write_bytes(node.data.data if node.data is not None else b"")
    os.chmod(path, node.mode)
    if node.times is not None:
        os.utime(path, ns=node.times, follow_symlinks=False)


def _set_times(path: Path, node: ImageNode) -> None:
    if node.times is not None:
        os.utime(path, ns=node.times)
    elif node.base is not None:
        st = os.stat(node.base)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
