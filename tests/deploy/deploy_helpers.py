"""Plain helpers of the deploy tools' tests: the trees they share, and a real CLI.

``run_cli`` runs ``migration-kit`` as a child process of this interpreter; with ``deny=True``
it drops root's power to read anything (CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, via
``setpriv``), so "permission denied" is real even when the suite runs as root, as it does in
CI. The fixtures built on them are in ``conftest.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from fixtures.spec import TreeSpec, UserSpec

REPO = Path(__file__).resolve().parents[2]

# One user in each situation the deploy tools must tell apart. Ids are distinctive so a test
# can prove none of them leaves the machine in a capture.
RICH = TreeSpec(
    users=(
        UserSpec("ann-7q2x", items=30, images=2, wal_share=0.5),
        UserSpec("ben-4k9z", state="migrated", items=20, images=1, backup_age_days=40.0),
        UserSpec("cat-8w1m", state="both_different", items=15, images=1),
        UserSpec("dan-2r6t", items=60, images=0, damage="btree"),
        UserSpec("eve-5p3n", items=10, images=1, quirks=("no_users_row",)),
        UserSpec("fay-9c4v", state="images_half_moved", items=12, images=4),
        UserSpec("gus-1h8d", state="no_db"),
        UserSpec("hal-6j2s", state="new_without_profile", items=8, images=1),
        UserSpec("ida-3m5b", state="both_identical", items=9, images=1),
    ),
    seed=11,
    extras=("server_backups", "dot_entries", "stray_files", "symlinked_user"),
    profiles_table=True,
)
RICH_IDS = tuple(u.user_id for u in RICH.users)

DENY_DAC = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def can_deny() -> bool:
    """Whether a child can be refused a read (not root, or root with setpriv)."""
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def run_cli(
    *args: str, env: dict[str, str] | None = None, deny: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``migration-kit ARGS`` in a child process (``deny``: without root's read override)."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "MIGRATION_DRY_RUN")}
    argv = [sys.executable, "-m", "harness.cli.main", *args]
    if deny and os.geteuid() == 0:
        argv = [*DENY_DAC, *argv]
    return subprocess.run(
        argv,
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert SPEC's bad-input answer: exit 2, one line on stderr naming ``needles``."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def rename_to_non_utf8(tree: Path, uid: str) -> str:
    """Rename user ``uid``'s folder to a name that is not UTF-8 (``uid`` + byte 0xE9, Latin-1's
    "é"), as an old server or a copy from another system can leave; its users row no longer
    matches (an orphan, R14). Returns the new name as Python lists it (surrogate escapes)."""
    new = os.fsencode(uid) + b"\xe9"
    os.rename(os.fsencode(tree / uid), os.fsencode(tree) + b"/" + new)
    return os.fsdecode(new)


def plant_in_wal(db: Path, values: list[str]) -> None:
    """Add items (and tags) holding ``values`` so that they sit only in ``db``'s -wal.

    The rows are written to a staging copy with checkpoints off, and the copy's files are
    put in place while its connection is still open (closing would checkpoint them).
    """
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / db.name
        shutil.copyfile(db, stage)
        wal = db.with_name(db.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, stage.with_name(stage.name + "-wal"))
        conn = sqlite3.connect(stage, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        for value in values:
            conn.execute(
                "INSERT INTO items (id, type, content, metadata, created_at, updated_at) "
                "VALUES (?, 'text', ?, ?, '2026-01-27T21:12:47.876Z', '2026-01-27T21:12:47.876Z')",
                (str(uuid.uuid4()), value, json.dumps({"title": value})),
            )
            conn.execute(
                "INSERT INTO tags (name, last_used, created_at, updated_at) "
                "VALUES (?, '1769559596439.0', '1769559596439.0', '1769559596439.0')",
                (value + "-tag",),
            )
        shutil.copyfile(stage, db)
        shutil.copyfile(stage.with_name(stage.name + "-wal"), wal)
        conn.close()


def strings_in_rows(root: Path) -> set[str]:
    """Every text value of every row of every SQLite file under ``root`` (-wal included)."""
    from harness.contract.content import UnreadableDatabase, open_copy

    found: set[str] = set()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if name.endswith(("-wal", "-shm", "-journal")) or path.is_symlink():
                continue
            try:
                with open_copy(path) as conn:
                    tables = conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                    for (table,) in tables.fetchall():
                        for row in conn.execute(f'SELECT * FROM "{table}"'):
                            found.update(v for v in row if isinstance(v, str))
            except (UnreadableDatabase, sqlite3.DatabaseError):
                continue
    return found
