"""Whole processes: two migrators at once (SPEC R15), memory on a large user (SPEC R16).

Child processes are started with ``sys.executable`` so they run the interpreter (and the
installed kit) that runs the tests.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from migrator import log, runlock, server
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb

REPO = Path(__file__).resolve().parents[2]


def _migrator(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "migrator", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_r15_two_processes_started_together(data_dir: Path, tmp_path: Path) -> None:
    """Each user migrated exactly once, nothing lost, both exit 0."""
    users = [tb.User(f"u{i}", items=20, wal_rows=40, images=2, seed=i) for i in range(6)]
    reference = tb.build(tmp_path / "ref", users)
    server.migrate(reference, log=log.Collect())
    tb.build(data_dir, users)

    procs = [_migrator("migrate", str(data_dir), "--log-format", "json") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    done = [
        e
        for out, _ in outs
        for e in map(json.loads, out.splitlines())
        if e["step"] == "done" and e["detail"] == "migrated"
    ]
    assert sorted(e["user"] for e in done) == [f"u{i}" for i in range(6)]
    assert tb.final_view(data_dir) == tb.final_view(reference)


def test_r15_second_process_waits_for_the_lock(data_dir: Path) -> None:
    """While the data dir is locked the second migrator waits (says so), then finds its
    work done and changes nothing."""
    tb.build(data_dir, [tb.User("a", items=3, images=1)])
    with runlock.holding(data_dir):
        server_side = _migrator("migrate", str(data_dir), "--log-format", "json")
        first = json.loads(server_side.stdout.readline())
        assert (first["step"], first["outcome"]) == ("lock", "waiting")
        # The lock is ours: migrate in this process under it, as the first migrator would.
        _migrate_holding_lock(data_dir)
    rest, err = server_side.communicate(timeout=60)
    assert server_side.returncode == 0, err
    events = [json.loads(line) for line in rest.splitlines()]
    assert {e["detail"] for e in events if e["step"] == "done"} == {"already_migrated"}


def _migrate_holding_lock(data_dir: Path) -> None:
    """Run the per-user protocol directly (the run lock is already held by the caller)."""
    from migrator import systemdb
    from migrator.server import _UserRun

    accounts = systemdb.Accounts.read(data_dir)
    result, _ = _UserRun(UserPaths(data_dir, "a"), accounts, log.Collect()).run()
    assert result.outcome == "migrated"


def _large_peek_db(path: Path, rows: int, wal_rows: int) -> None:
    """A ~1.7 KB-per-row peek.db built in SQL (fast), the last rows only in its -wal."""
    staging = path.with_name("staging.db")
    conn = sqlite3.connect(staging, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(tb.PEEK_SCHEMA)

    def fill(lo: int, hi: int) -> None:
        conn.execute(
            "WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i+1 FROM c WHERE i < ?) "
            "INSERT INTO items (id, type, content, metadata, created_at, updated_at) "
            "SELECT printf('%08d-item', i), 'text', hex(randomblob(400)), '{}', "
            "'2026-01-27T21:12:47.876Z', '2026-01-27T21:12:47.876Z' FROM c",
            (lo, hi),
        )

    fill(1, rows - wal_rows)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    fill(rows - wal_rows + 1, rows)
    shutil.copyfile(staging, path)
    shutil.copyfile(staging.with_name("staging.db-wal"), path.with_name("peek.db-wal"))
    conn.close()
    for f in staging.parent.glob("staging.db*"):
        f.unlink()


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest),
# which would hide the child's own peak; VmHWM belongs to the exec'd address space.
_MEASURE = """
import sys
from migrator import log, server
server.migrate(sys.argv[1], log=log.Collect())
with open("/proc/self/status") as f:
    print(next(line.split()[1] for line in f if line.startswith("VmHWM:")))
"""


def _peak_rss_kib(data_dir: Path) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.mark.skipif(shutil.disk_usage("/tmp").free < 2 << 30, reason="needs ~1 GB of /tmp")
def test_r16_large_user_all_rows_memory_flat(tmp_path: Path) -> None:
    """R16: a >100 MB user (part in -wal) arrives whole, and the migrator's peak memory is
    about the same as for a tiny user: nothing held in proportion to the DB size."""
    small = tb.build(tmp_path / "small", [tb.User("s", items=10, images=0)])
    large = tb.build(tmp_path / "large", [tb.User("big", items=None, images=0)])
    big = UserPaths(large, "big")
    _large_peek_db(big.old_db, rows=66_000, wal_rows=6_000)
    size = big.old_db.stat().st_size + big.old_sidecars()[0].stat().st_size
    assert size > 100e6, f"precondition: a large user ({size} bytes)"

    try:
        small_rss = _peak_rss_kib(small)
        large_rss = _peak_rss_kib(large)
        conn = sqlite3.connect(f"file:{big.new_db}?mode=ro&immutable=1", uri=True)
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 66_000
        conn.close()
    finally:
        shutil.rmtree(large)  # ~250 MB: not kept among pytest's retained temp dirs
    growth_mib = (large_rss - small_rss) / 1024
    print(f"peak RSS small {small_rss} KiB, large {large_rss} KiB")
    assert growth_mib < 40, f"peak memory grew {growth_mib:.0f} MiB for a {size / 1e6:.0f} MB DB"
