"""The fsync discipline (SPEC R17), checked on the trace of a real run's file operations.

Power loss keeps what was fsynced and may drop the rest, directory entries included. So:

- a file renamed into place was fsynced before the rename;
- a rename's destination folder is reachable on disk first: no folder above it has an
  entry change (a mkdir) that was not fsynced yet;
- every rename, unlink, mkdir or rmdir in a directory of the tree is followed by an fsync
  of that directory before the next *commit point* (the unlink of a file that is not
  scratch: removing data relies on its copies being on disk; the rmdir of a folder that is
  not scratch, whose files were moved out), and before the run ends.

Changes inside the migrator's own work dir are exempt: nothing there is ever the only copy.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from migrator import layout, log, server
from tests.migrator import treebuilder as tb


class Trace:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pending: set[Path] = set()
        self.synced_files: set[Path] = set()
        self.violations: list[str] = []
        self.renames = 0

    def _ours(self, d: Path) -> bool:
        return d.is_relative_to(self.data_dir) and layout.WORK_DIR not in d.parts

    def _changed(self, d: Path) -> None:
        if self._ours(d):
            self.pending.add(d)

    def _commit_point(self, what: str) -> None:
        if self.pending:
            names = sorted(str(p.relative_to(self.data_dir)) for p in self.pending)
            self.violations.append(f"{what} while directories not fsynced: {names}")

    def install(self, mp: pytest.MonkeyPatch) -> None:
        real = {n: getattr(os, n) for n in ("rename", "unlink", "mkdir", "rmdir", "fsync")}

        def rename(src, dst, *a, **k):
            src, dst = Path(src), Path(dst)
            is_file = src.is_file()
            if src.name == layout.OLD_DB:  # peek.db leaves its name: relies on every copy
                self._commit_point(f"rename {src} -> {dst}")
            real["rename"](src, dst, *a, **k)
            self.renames += 1
            above = sorted(
                str(d.relative_to(self.data_dir))
                for d in self.pending
                if d != dst.parent and dst.parent.is_relative_to(d)
            )
            if above:
                self.violations.append(f"rename {src.name} -> {dst} under unsynced {above}")
            # A file the run wrote (a scratch name) must be on disk before its final name
            # is; a user's file moved by a rename (an image) was never the run's to sync.
            written = src.name.endswith(layout.TEMP_SUFFIX) or layout.WORK_DIR in src.parts
            if is_file and written and self._ours(dst.parent) and src not in self.synced_files:
                self.violations.append(f"{src} renamed to {dst} without an fsync first")
            # Atomic: durable as a whole with its destination's fsync (the power-loss
            # model's rule), so the source directory owes nothing.
            self._changed(dst.parent)

        def unlink(path, *a, **k):
            path = Path(path)
            real["unlink"](path, *a, **k)
            if not path.name.endswith(layout.TEMP_SUFFIX) and layout.WORK_DIR not in path.parts:
                self._commit_point(f"unlink {path}")
            self._changed(path.parent)

        def mkdir(path, *a, **k):
            real["mkdir"](path, *a, **k)
            self._changed(Path(path).parent)

        def rmdir(path, *a, **k):
            if layout.WORK_DIR not in Path(path).parts:
                self._commit_point(f"rmdir {path}")
            real["rmdir"](path, *a, **k)
            self.pending.discard(Path(path))
            self._changed(Path(path).parent)

        def fsync(fd):
            real["fsync"](fd)
            target = Path(os.readlink(f"/proc/self/fd/{fd}"))
            self.pending.discard(target)
            self.synced_files.add(target)

        for name, fn in (
            ("rename", rename),
            ("unlink", unlink),
            ("mkdir", mkdir),
            ("rmdir", rmdir),
            ("fsync", fsync),
        ):
            mp.setattr(os, name, fn)

    def finish(self) -> None:
        self._commit_point("end of run")


@pytest.mark.parametrize(
    ("exdev", "merge"),
    [(False, False), (True, False), (False, True)],
    ids=["rename", "exdev-copy", "images-merged"],
)
def test_r17_fsync_before_rename_and_dirs_after(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, exdev: bool, merge: bool
) -> None:
    tb.build(
        data_dir,
        [tb.User("a", items=5, wal_rows=20, images=3, seed=1), tb.User("b", items=3, images=0)],
    )
    (data_dir / "a" / layout.WORK_DIR).mkdir()  # a leftover to clean up, too
    if merge:  # images already in the new place: moved file by file, then the folder removed
        new_images = data_dir / "a" / "profiles" / "default" / "images"
        new_images.mkdir(parents=True)
        (new_images / "already-moved.png").write_bytes(b"\x89PNG not the same name")
    if exdev:
        real_rename = os.rename

        def cross(src, dst, *a, **k):
            if "profiles" in Path(dst).parts and "profiles" not in Path(src).parts:
                raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
            return real_rename(src, dst, *a, **k)

        monkeypatch.setattr(os, "rename", cross)
    trace = Trace(data_dir.absolute())
    trace.install(monkeypatch)

    server.migrate(data_dir, log=log.Collect())
    trace.finish()

    assert trace.renames >= 2, "the trace must have seen the migration's renames"
    assert trace.violations == []


def test_r17_trace_catches_a_missing_directory_fsync(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker itself: with directory fsyncs removed, it must complain."""
    from migrator import fsops

    tb.build(data_dir, [tb.User("a", items=3, images=1)])
    trace = Trace(data_dir.absolute())
    trace.install(monkeypatch)
    monkeypatch.setattr(fsops, "fsync_dir", lambda path: None)

    server.migrate(data_dir, log=log.Collect())
    trace.finish()

    assert any("not fsynced" in v for v in trace.violations)
