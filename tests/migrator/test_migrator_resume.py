"""Resume from every state the migrator can leave (SPEC R9, R10, R12).

SQLite's anomaly-testing loop, in-process: count the migrator's file operations on a
fault-free run, then for every N fail operation N, either as an I/O error (the migrator
sees it, R9) or as a kill (the process stops dead there, R10). After each faulted run:

- no content is lost: each user's rows are whole in the old DB, the new DB or the backup,
  and each image is in the old or the new folder;
- after an I/O error, no scratch file is left (R8's "no partial files");
- a dry run over the intermediate state changes nothing and does not crash;
- a clean re-run reaches exactly the fault-free final tree.

The kill variant enumerates every intermediate state the protocol has, so these loops are
the "build each state, run again, compare" of issue 2, with the states built by the
migrator itself. The EXDEV variant does the same with ``profiles/`` on "another
filesystem", covering the copy-verify-rename fallback's own intermediate states.

The loops run on a tmpfs when one can be mounted (fsync is free there, and hundreds of
runs' fsyncs on a disk shared by parallel workers dominate the time): they are about the
protocol's logic, not power loss; the fsync discipline is checked on its own
(test_migrator_durability).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from migrator import fsops, log, server, systemdb, verify
from migrator.datadir import DataDirError
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb

FS_OPS = (
    "copy_file",
    "rename",
    "unlink",
    "unlink_if_exists",
    "rmdir",
    "mkdirs",
    "remove_tree",
    "fsync_dir",
    "fsync_file",
    "adopt_and_fsync",
)


class Killed(BaseException):
    """The process stops here: no except clause of the migrator handles it."""


class FaultAt:
    """Fail the n-th operation (1-based); count every operation."""

    def __init__(self, n: int, mode: str) -> None:
        self.n, self.mode, self.count, self.fired = n, mode, 0, None

    def wrap(self, name, fn):
        def op(*args, **kwargs):
            self.count += 1
            if self.count == self.n:
                self.fired = (name, args)
                if self.mode == "kill":
                    raise Killed(name)
                raise OSError(errno.EIO, f"injected EIO at {name}", str(args[0]))
            return fn(*args, **kwargs)

        return op

    def install(self, mp: pytest.MonkeyPatch) -> None:
        for name in FS_OPS:
            mp.setattr(fsops, name, self.wrap(name, getattr(fsops, name)))
        mp.setattr(verify, "seal", self.wrap("seal", verify.seal))
        mp.setattr(
            systemdb.ProfileWriter,
            "ensure",
            self.wrap("profile_row", systemdb.ProfileWriter.ensure),
        )


def _exdev_for_profiles(mp: pytest.MonkeyPatch) -> None:
    """Renames into ``profiles/`` from outside it fail as if it were another filesystem."""
    real = os.rename

    def rename(src, dst, *a, **k):
        if "profiles" in Path(dst).parts and "profiles" not in Path(src).parts:
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
        return real(src, dst, *a, **k)

    mp.setattr(os, "rename", rename)


def _content_everywhere(data_dir: Path, user: str) -> list[dict]:
    p = UserPaths(data_dir, user)
    found = []
    for db in (p.old_db, p.new_db, p.backup):
        if db.is_file():
            # A damaged or partial file does not count as a copy.
            with contextlib.suppress(Exception):
                found.append(tb.rows(db))
    return found


def _images_everywhere(data_dir: Path, user: str) -> dict[str, bytes]:
    p = UserPaths(data_dir, user)
    out: dict[str, bytes] = {}
    for folder in (p.old_images, p.new_images):
        if folder.is_dir():
            for f in folder.iterdir():
                if not f.name.endswith(".migrating"):
                    out.setdefault(f.name + "@" + folder.name, f.read_bytes())
    return {k.split("@")[0]: v for k, v in out.items()}


@pytest.fixture(scope="module")
def expected(legacy_template: Path, tmp_path_factory) -> dict:
    """The fault-free final tree, and what each user owns before the run."""
    ref = shutil.copytree(legacy_template, tmp_path_factory.mktemp("ref") / "data", symlinks=True)
    users = ("alice", "bob")
    before = {
        "rows": {u: tb.rows(UserPaths(ref, u).old_db) for u in users},
        "images": {u: _images_everywhere(ref, u) for u in users},
    }
    server.migrate(ref, log=log.Collect())
    return {"final": tb.final_view(ref), **before}


def _count_ops(template: Path, tmp: Path, exdev: bool) -> int:
    data_dir = shutil.copytree(template, tmp, symlinks=True)
    fault = FaultAt(0, "error")
    with pytest.MonkeyPatch.context() as mp:
        if exdev:
            _exdev_for_profiles(mp)
        fault.install(mp)
        server.migrate(data_dir, log=log.Collect())
    shutil.rmtree(data_dir)
    return fault.count


MODES = ["error", "kill", "exdev-kill", "exdev-error"]
SHARDS = 2  # each mode's fault points split over two tests, so pytest -n spreads them


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("mode", MODES)
def test_every_fault_point_resumes_to_the_fault_free_tree(
    mode: str, shard: int, legacy_template: Path, expected: dict, tmp_path: Path, tmpfs, monkeypatch
) -> None:
    tmp_path = tmpfs(tmp_path / "fast", "256m", required=False)
    scratch = tmp_path / "systemp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    total = _count_ops(legacy_template, tmp_path / "count", mode.startswith("exdev"))
    assert total > 30, "the loop must cover the whole protocol"
    for n in range(1 + shard, total + 2, SHARDS):  # total + 1: a run no fault reaches
        data_dir = shutil.copytree(legacy_template, tmp_path / f"run{n}", symlinks=True)
        fault = FaultAt(n, "kill" if mode.endswith("kill") else "error")
        with pytest.MonkeyPatch.context() as mp:
            if mode.startswith("exdev"):
                _exdev_for_profiles(mp)
            fault.install(mp)
            with contextlib.suppress(Killed, server.MigrationFailed, DataDirError):
                server.migrate(data_dir, log=log.Collect())
        if fault.fired is None:  # ran to the end without reaching op n
            assert n > total
            assert tb.final_view(data_dir) == expected["final"]
            continue
        where = f"{mode}: fault at op {n} ({fault.fired[0]} {fault.fired[1][:1]})"

        for user, rows in expected["rows"].items():
            assert rows in _content_everywhere(data_dir, user), f"{where}: {user} rows lost"
            assert _images_everywhere(data_dir, user) == expected["images"][user], (
                f"{where}: {user} images lost"
            )
        if not mode.endswith("kill"):
            assert tb.scratch_left(data_dir) == [], f"{where}: partial files left"

        if mode.endswith("kill"):  # every intermediate state: a dry run must not touch it
            state = tb.files(data_dir)
            with contextlib.suppress(server.MigrationFailed):
                server.migrate(data_dir, dry_run=True, log=log.Collect())
            assert tb.files(data_dir) == state, f"{where}: the dry run changed the tree"

        server.migrate(data_dir, log=log.Collect())  # must not raise
        assert tb.final_view(data_dir) == expected["final"], where
        shutil.rmtree(data_dir)
