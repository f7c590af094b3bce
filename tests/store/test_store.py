"""store: a value made once for every process, whole or not at all; scratch on the RAM disk
only when it has room."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import scratch
from harness.store.once import once


def test_once_makes_an_entry_whole_and_only_once(tmp_path: Path) -> None:
    entry, lock = tmp_path / "entry", tmp_path / "locks" / "entry.lock"
    made: list[Path] = []

    def make(staging: Path) -> None:
        made.append(staging)
        staging.mkdir()
        (staging / "value").write_text("42")

    assert once(entry, make, lock=lock) is True
    assert once(entry, make, lock=lock) is False
    assert len(made) == 1 and made[0] != entry  # written beside, then renamed into place
    assert (entry / "value").read_text() == "42"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry", "locks"]


def test_a_failed_make_leaves_nothing_behind(tmp_path: Path) -> None:
    def make(staging: Path) -> None:
        (staging / "sub").mkdir(parents=True)
        (staging / "sub").chmod(0o555)  # read-only folders (a fixture quirk) included
        raise OSError("disk full")

    with pytest.raises(OSError):
        once(tmp_path / "entry.json", make, lock=tmp_path / "entry.lock")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.lock"]


def test_processes_asking_at_once_make_it_once(tmp_path: Path) -> None:
    code = (
        "import os, sys, time; from pathlib import Path; from harness.store.once import once\n"
        "def make(staging):\n"
        "    time.sleep(0.3); staging.write_text(str(os.getpid()))\n"
        "    with open(sys.argv[2], 'a') as log: log.write('made\\n')\n"
        "once(Path(sys.argv[1]), make, lock=Path(sys.argv[1] + '.lock'))\n"
        "print(Path(sys.argv[1]).read_text())"
    )
    argv = [sys.executable, "-c", code, str(tmp_path / "value"), str(tmp_path / "log")]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    seen = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(seen) == 1  # every process read the one value
    assert (tmp_path / "log").read_text() == "made\n"


def test_a_killed_makers_staging_is_removed_by_the_next_maker(tmp_path: Path) -> None:
    """SIGKILL runs no ``finally``: the next process to make the entry removes what it left,
    and leaves a live process's staging alone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"entry.tmp-{dead.pid}"
    (stale / "half").mkdir(parents=True)
    live = tmp_path / "entry.tmp-1"  # pid 1 is always alive
    live.mkdir()
    assert once(tmp_path / "entry", lambda staging: staging.mkdir(), lock=tmp_path / "e.lock")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.lock", "entry", "entry.tmp-1"]


def test_sigterm_while_making_removes_the_staging(tmp_path: Path) -> None:
    """A process with no SIGTERM handler of its own (a script, a pytest worker) unwinds:
    the staging goes, and the process still ends with SIGTERM's status."""
    code = (
        "import sys, time; from pathlib import Path; from harness.store.once import once\n"
        "def make(staging):\n"
        "    staging.mkdir(); (staging / 'big').write_bytes(b'x' * 4096)\n"
        "    print('making', flush=True); time.sleep(60)\n"
        "once(Path(sys.argv[1]), make, lock=Path(sys.argv[1] + '.lock'))\n"
    )
    entry = tmp_path / "entry"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(entry)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "making\n"
    proc.terminate()
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.lock"]


def test_ram_scratch_only_with_room(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(scratch, "RAM_DISK", tmp_path)
    assert scratch.ram_scratch(0) == str(tmp_path)
    assert scratch.ram_scratch(1 << 62) is None  # more than any disk has free
    monkeypatch.setattr(scratch, "RAM_DISK", tmp_path / "absent")
    assert scratch.ram_scratch(0) is None
