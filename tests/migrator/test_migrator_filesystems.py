"""Real filesystem limits: a nearly full disk (SPEC R8) and profiles/ on another
filesystem (SPEC R12), on real tmpfs mounts (skipped with the reason when mounting is
refused), plus a fast EXDEV variant that needs no mount."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from migrator import log, report, server, space
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb


def _used_bytes(mount: Path) -> int:
    st = os.statvfs(mount)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _resize(mount: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def _big_and_small(data_dir: Path) -> None:
    tb.build(
        data_dir,
        [
            tb.User("big", items=300, wal_rows=100, text_bytes=2000, images=2, seed=1),
            tb.User("small", items=5, images=1, seed=2),
        ],
    )


def test_r8_user_that_does_not_fit_is_untouched_then_migrated(tmp_path: Path, tmpfs) -> None:
    """R8: on a nearly full DATA_DIR the big user is refused up front with the numbers,
    left untouched with no partial file; the small one is migrated; after space is freed
    a re-run migrates the big one."""
    data_dir = tmpfs(tmp_path / "data", "32m")
    _big_and_small(data_dir)
    big = UserPaths(data_dir, "big")
    want = tb.rows(big.old_db)
    db_bytes = sum(f.stat().st_size for f in big.root.iterdir() if f.is_file())
    _resize(data_dir, _used_bytes(data_dir) + 2 * 1024 * 1024 + db_bytes // 2)
    before = tb.user_files(data_dir, "big")

    with pytest.raises(server.MigrationFailed) as failed:
        server.migrate(data_dir, log=log.Collect())

    (result,) = failed.value.report.failed
    assert (result.user, result.problem) == ("big", "no_space")
    assert "bytes" in result.error and "Free some space" in result.error
    assert tb.user_files(data_dir, "big") == before
    assert tb.scratch_left(data_dir) == []
    assert tb.outcome(failed.value.report, "small").outcome == report.MIGRATED

    _resize(data_dir, 64 * 1024 * 1024)
    again = server.migrate(data_dir, log=log.Collect())
    assert tb.outcome(again, "big").outcome == report.MIGRATED
    assert tb.rows(big.new_db) == want


def test_r8_enospc_mid_copy_leaves_no_partial_file(
    tmp_path: Path, tmpfs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the estimate be wrong, the disk filling up during a copy still leaves the
    user untouched (the half-written copy is removed) and is reported as no_space."""
    data_dir = tmpfs(tmp_path / "data", "32m")
    _big_and_small(data_dir)
    db_bytes = UserPaths(data_dir, "big").old_db.stat().st_size
    _resize(data_dir, _used_bytes(data_dir) + db_bytes // 2)
    monkeypatch.setattr(space, "check", lambda paths, tree: "preflight skipped by the test")
    before = tb.user_files(data_dir, "big")

    with pytest.raises(server.MigrationFailed) as failed:
        server.migrate(data_dir, log=log.Collect())

    big = tb.outcome(failed.value.report, "big")
    assert big.problem == "no_space"
    assert tb.user_files(data_dir, "big") == before
    assert tb.scratch_left(data_dir) == []


def test_r12_profiles_on_another_filesystem(data_dir: Path, tmp_path: Path, tmpfs) -> None:
    """R12: profiles/ is a tmpfs mount, so every rename into it is EXDEV: the DB and the
    images are copied, verified, renamed from a temp name; the sources removed after."""
    users = [tb.User("far", items=8, wal_rows=30, images=3, seed=5)]
    reference = tb.build(tmp_path / "ref", users)
    server.migrate(reference, log=log.Collect())
    tb.build(data_dir, users)
    p = UserPaths(data_dir, "far")
    tmpfs(p.profiles_dir, "16m")
    assert os.stat(p.profiles_dir).st_dev != os.stat(p.root).st_dev

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.outcome(result, "far").outcome == report.MIGRATED
    assert os.stat(p.new_db).st_dev == os.stat(p.profiles_dir).st_dev
    assert tb.final_view(data_dir) == tb.final_view(reference)
    again = tb.files(data_dir)
    server.migrate(data_dir, log=log.Collect())
    assert tb.files(data_dir) == again


def test_r12_exdev_without_a_mount(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same through os.rename raising EXDEV for any rename into profiles/."""
    users = [tb.User("far", items=8, wal_rows=30, images=3, seed=5)]
    reference = tb.build(tmp_path / "ref", users)
    server.migrate(reference, log=log.Collect())
    tb.build(data_dir, users)
    real = os.rename
    crossed: list[str] = []

    def rename(src, dst):
        if "profiles" in Path(dst).parts and "profiles" not in Path(src).parts:
            crossed.append(Path(dst).name)
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    sink = log.Collect()
    server.migrate(data_dir, log=sink)

    assert "datastore.sqlite" in crossed and "images" in crossed
    assert tb.final_view(data_dir) == tb.final_view(reference)
    place = [e.detail for e in sink.events if e.step == "place"]
    assert "another filesystem" in place[0]
