"""pyfakefs helpers: a fake full disk gives ENOSPC, a fake mount point gives EXDEV."""

from __future__ import annotations

import errno
import os
import shutil

import pytest

from harness.faults.fake import fake_disk, fill


def test_a_fake_disk_fills_up_and_frees_space() -> None:
    with fake_disk(100_000) as fs:
        fs.create_dir("/data/u1")
        filler = fill(fs, "/data", leave_free=1_000)
        assert fs.get_disk_usage("/data").free == 1_000
        with open("/data/u1/fits", "wb") as f:
            f.write(b"x" * 1_000)
        with pytest.raises(OSError) as exc, open("/data/u1/no", "wb") as f:
            f.write(b"x")
        assert exc.value.errno == errno.ENOSPC
        os.unlink(filler)
        with open("/data/u1/now-it-fits", "wb") as f:
            f.write(b"x" * 1_000)


def test_a_fake_mount_point_makes_renames_into_it_exdev() -> None:
    with fake_disk(mounts={"/data/u1/profiles": None}) as fs:
        fs.create_file("/data/u1/peek.db", contents=b"db")
        with pytest.raises(OSError) as exc:
            os.rename("/data/u1/peek.db", "/data/u1/profiles/datastore.sqlite")
        assert exc.value.errno == errno.EXDEV
        shutil.move("/data/u1/peek.db", "/data/u1/profiles/datastore.sqlite")  # copies
        assert not os.path.exists("/data/u1/peek.db")
    assert not os.path.exists("/data/u1/profiles")  # nothing reached the real disk


def test_fill_refuses_to_free_space() -> None:
    with fake_disk(1_000) as fs, pytest.raises(ValueError):
        fill(fs, "/", leave_free=2_000)
