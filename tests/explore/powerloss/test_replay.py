"""Replaying real traces: a Python child makes every kind of file call the model knows, and
the replay must reproduce the tree the child really left (the volatile image), and keep
exactly what was synced at each crash point."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from harness.explore.powerloss.image import COMMITTED, SYNCED, VOLATILE, CrashImage
from harness.explore.powerloss.materialise import materialise
from harness.explore.powerloss.trace_replay import ReplayError, crash_points, replay_images
from harness.faults.trace import record
from harness.judge.snapshot import Snapshot

# Every call the replayer models, the way Python (and through it, C code) makes them.
EVERY_CALL = textwrap.dedent(
    """
    import os
    fd = os.open("tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"hello ")
    os.writev(fd, [b"wor", b"ld"])
    os.pwrite(fd, b"H", 0)
    os.fchmod(fd, 0o640)
    os.utime(fd, ns=(1_500_000_000_000_000_000, 1_600_000_000_000_000_000))
    os.fsync(fd)
    os.close(fd)
    os.rename("tmp", "sub/final")
    d = os.open("sub", os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(d)
    os.close(d)
    src = os.open("old.txt", os.O_RDONLY)
    dst = os.open("copy.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.copy_file_range(src, dst, 4)
    os.sendfile(dst, src, None, 100)
    os.close(dst)
    os.lseek(src, 0, os.SEEK_SET)
    app = os.open("log.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(app, b"one\\n")
    os.write(app, b"two\\n")
    os.close(app)
    rw = os.open("old.txt", os.O_RDWR)
    os.lseek(rw, 4, os.SEEK_SET)
    os.write(rw, b"BYTES")
    os.ftruncate(rw, 7)
    os.close(rw)
    os.mkdir("gone")
    os.rmdir("gone")
    os.symlink("sub/final", "link")
    os.link("copy.txt", "hard.txt")
    os.unlink("copy.txt")
    with open("text.txt", "w") as f:
        f.write("buffered " * 1000)
    """
)


def tree_of(root: Path) -> dict[str, tuple[str, bytes | str | None]]:
    """kind and bytes (files) or target (symlinks) of every entry under ``root``."""
    out: dict[str, tuple[str, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("symlink", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", None)
            else:
                out[rel] = ("file", path.read_bytes())
    return out


def end_image(trace, root: str, pristine: Path, kind: str) -> CrashImage:
    end = crash_points(trace, root)[-1]
    images = list(replay_images(trace, root, pristine, points=[end], kinds=[kind]))
    assert len(images) == 1
    return images[0][1]


def test_the_replay_reproduces_the_tree_the_run_left(traced, tmp_path: Path) -> None:
    trace, root, pristine = traced(EVERY_CALL)
    replayed = materialise(end_image(trace, root, pristine, VOLATILE), tmp_path / "replayed")
    assert tree_of(replayed) == tree_of(Path(root))
    real = Snapshot.take(Path(root)).entries
    again = Snapshot.take(replayed).entries
    assert again["sub/final"].mode == real["sub/final"].mode == 0o640
    assert again["sub/final"].mtime_ns == real["sub/final"].mtime_ns


def test_at_the_end_only_what_was_synced_is_on_disk(traced, tmp_path: Path) -> None:
    trace, root, pristine = traced(EVERY_CALL)
    synced = tree_of(materialise(end_image(trace, root, pristine, SYNCED), tmp_path / "s"))
    # The fsynced file, renamed into a directory that was fsynced afterwards, survives.
    assert synced["sub/final"] == ("file", b"Hello world")
    # The tree's own directory was never fsynced: nothing created in it is on disk, and
    # old.txt is back to its first bytes (its rewrite was never fsynced either).
    assert synced["old.txt"] == ("file", b"old bytes")
    assert set(synced) == {"sub", "sub/final", "old.txt"}
    committed = tree_of(materialise(end_image(trace, root, pristine, COMMITTED), tmp_path / "c"))
    # Every name is on disk, and only fsynced bytes: the copies are empty.
    assert set(committed) == set(tree_of(Path(root)))
    assert committed["hard.txt"] == ("file", b"")
    assert committed["log.txt"] == ("file", b"")
    assert committed["sub/final"] == ("file", b"Hello world")


def test_crash_points_are_the_calls_that_can_change_the_disk(traced) -> None:
    trace, root, _ = traced(EVERY_CALL)
    points = crash_points(trace, root)
    kinds = [p.op.operation.value if p.op else "end" for p in points]
    assert kinds == [
        "open_write",  # tmp created
        "fsync",
        "rename",
        "fsync",  # sub
        "open_write",  # copy.txt
        "open_write",  # log.txt
        "mkdir",
        "rmdir",
        "symlink",
        "link",
        "unlink",
        "open_write",  # text.txt
        "end",
    ]
    index = points[2].index
    assert points[2].describe(root) == f"just before #{index} rename tmp -> sub/final (rename)"


def test_just_before_the_directory_fsync_the_rename_is_not_on_disk(traced, tmp_path: Path) -> None:
    trace, root, pristine = traced(EVERY_CALL)
    point = crash_points(trace, root)[3]  # the fsync of sub, after the rename
    (_, synced), (_, committed) = replay_images(
        trace, root, pristine, points=[point], kinds=[SYNCED, COMMITTED]
    )
    assert "sub/final" not in synced.paths()
    assert any(line.startswith("sub/final: file not on disk") for line in synced.dropped)
    assert "sub/final" in committed.paths()


def test_a_trace_without_the_written_bytes_is_refused(strace_backend, tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    code = "open('big', 'wb').write(b'x' * 5000)"
    recorded = record(
        [__import__("sys").executable, "-c", code],
        cwd=tmp_path / "t",
        data_limit=100,
        positions=True,
    )
    pristine = tmp_path / "p"
    pristine.mkdir()
    with pytest.raises(ReplayError, match="larger data_limit"):
        end_image(recorded.trace, str(tmp_path / "t"), pristine, VOLATILE)


def test_a_trace_without_file_positions_is_refused(strace_backend, tmp_path: Path) -> None:
    """A recording for fault points does not trace lseek: its plain writes cannot be placed."""
    (tmp_path / "t").mkdir()
    code = "f = open('f', 'wb'); f.write(b'ab'); f.seek(0); f.write(b'X'); f.close()"
    recorded = record(
        [__import__("sys").executable, "-c", code], cwd=tmp_path / "t", data_limit=100
    )
    pristine = tmp_path / "p"
    pristine.mkdir()
    with pytest.raises(ReplayError, match="positions=True"):
        end_image(recorded.trace, str(tmp_path / "t"), pristine, VOLATILE)
