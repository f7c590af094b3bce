"""The commands: bad input (exit 2, one line naming the path, nothing written, no
traceback), ``migrate`` exit codes, ``status`` and ``cleanup-backups``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migrator import cli
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "MIGRATION_DRY_RUN")}
    return subprocess.run(
        [sys.executable, "-m", "migrator", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _bad_input_cases(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    no_system_db = tmp_path / "no-system-db"
    (no_system_db / "alice").mkdir(parents=True)
    tb.make_peek_db(no_system_db / "alice" / "peek.db", items=2)
    bad_system_db = tmp_path / "bad-system-db"
    (bad_system_db / "alice").mkdir(parents=True)
    (bad_system_db / "system.db").write_text("not sqlite")
    return {
        "missing": tmp_path / "missing",
        "file": a_file,
        "no_system_db": no_system_db,
        "bad_system_db": bad_system_db,
    }


@pytest.mark.parametrize("command", ["migrate", "status", "cleanup-backups"])
@pytest.mark.parametrize("case", ["missing", "file", "no_system_db", "bad_system_db"])
def test_bad_input_exits_2_naming_the_path(tmp_path: Path, case: str, command: str) -> None:
    path = _bad_input_cases(tmp_path)[case]
    before = tb.files(tmp_path)

    proc = _run(command, str(path))

    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert tb.files(tmp_path) == before


def test_migrate_without_data_dir_says_how_to_give_one() -> None:
    proc = _run("migrate")
    assert proc.returncode == 2
    assert "DATA_DIR" in proc.stderr and "Traceback" not in proc.stderr


def test_unreadable_dir_exits_2(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Root reads everything, so permission denial is simulated at os.access."""
    tb.build(data_dir, [tb.User("a", items=2)])
    before = tb.files(data_dir)
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m, **k: False if Path(p) == data_dir else real(p, m, **k)
    )
    assert cli.main(["migrate", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert str(data_dir) in err and "permission" in err
    assert tb.files(data_dir) == before


def test_bad_grace_days_env_exits_2(data_dir: Path) -> None:
    tb.build(data_dir, [tb.User("a", items=2)])
    proc = _run("migrate", str(data_dir), env={"MIGRATION_BACKUP_GRACE_DAYS": "soon"})
    assert proc.returncode == 2 and "MIGRATION_BACKUP_GRACE_DAYS" in proc.stderr


def test_migrate_exit_codes_and_data_dir_from_env(data_dir: Path) -> None:
    tb.build(data_dir, [tb.User("a", items=2, images=1), tb.User("ghost", users_row=False)])
    proc = _run("migrate", env={"DATA_DIR": str(data_dir)})
    assert proc.returncode == 1, proc.stderr
    assert "ghost: done: failed (orphan)" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("summary: failed")
    assert UserPaths(data_dir, "a").new_db.is_file()


def test_empty_data_dir_is_fine(tmp_path: Path) -> None:
    proc = _run("migrate", str(tmp_path))
    assert proc.returncode == 0 and "0 users" in proc.stdout


def test_status_reports_each_state_and_changes_nothing(data_dir: Path) -> None:
    tb.build(
        data_dir,
        [
            tb.User("legacy", items=3, wal_rows=4, images=1),
            tb.User("done", items=3, images=1, seed=1),
            tb.User("half", items=3, images=2, seed=2),
            tb.User("ghost", items=2, users_row=False),
            tb.User("broken", items=2),
            tb.User("trap", items=2),
            tb.User("nodb", items=None, images=0),
        ],
    )
    _migrate_some(data_dir)
    (data_dir / "broken" / "peek.db").write_bytes(b"\0" * 5000)
    trap = UserPaths(data_dir, "trap")
    trap.profile_dir.mkdir(parents=True)
    trap.new_db.touch()
    before = tb.files(data_dir)

    proc = _run("status", str(data_dir), "--json")

    assert proc.returncode == 1, proc.stderr
    assert tb.files(data_dir) == before
    doc = json.loads(proc.stdout)
    states = {u["user"]: (u["state"], u["half"]) for u in doc["users"]}
    assert states == {
        "legacy": ("legacy", None),
        "done": ("migrated", None),
        "half": ("half_migrated", "both"),  # stopped before step 8 (no scratch left)
        "ghost": ("orphan", None),
        "broken": ("corrupt", None),
        "trap": ("conflict", None),
        "nodb": ("no_db", None),
    }
    by_user = {u["user"]: u for u in doc["users"]}
    assert by_user["done"]["backup"] and by_user["done"]["backup_age_days"] < 1
    assert not by_user["legacy"]["backup"]
    assert doc["summary"]["needs_person"] == 3

    text = _run("status", str(data_dir))
    assert "NEEDS A PERSON" in text.stdout and "3 need a person" in text.stdout


def _migrate_some(data_dir: Path) -> None:
    """Migrate 'done' fully, and 'half' up to the point where peek.db is still there."""
    from migrator import systemdb
    from migrator.server import _UserRun

    accounts = systemdb.Accounts.read(data_dir)
    done, accounts = _UserRun(UserPaths(data_dir, "done"), accounts, lambda e: None).run()
    run = _UserRun(UserPaths(data_dir, "half"), accounts, lambda e: None)
    run.remove_old = lambda **_: None  # stop before step 8: both DBs present and equal
    half, _ = run.run()
    assert (done.outcome, half.outcome) == ("migrated", "migrated")


def test_status_lists_a_symlinked_user_folder_with_a_users_row(
    data_dir: Path, tmp_path: Path
) -> None:
    """``migrate`` never follows it (R13), so that user is never migrated: a person must
    know. A link with no users row is no user (the server never made it) and stays out."""
    tb.build(data_dir, [tb.User("a", items=2), tb.User("linked", items=2)])
    outside = tmp_path / "outside"
    (data_dir / "linked").rename(outside)
    (data_dir / "linked").symlink_to(outside, target_is_directory=True)
    (data_dir / "nobody").symlink_to(outside, target_is_directory=True)
    before = tb.files(data_dir)

    proc = _run("status", str(data_dir), "--json")

    assert proc.returncode == 1, proc.stderr
    assert tb.files(data_dir) == before
    by_user = {u["user"]: u for u in json.loads(proc.stdout)["users"]}
    assert set(by_user) == {"a", "linked"}
    assert by_user["linked"]["needs_person"] and by_user["linked"]["state"] == "symlink"
    assert str(data_dir / "linked") in by_user["linked"]["message"]
    text = _run("status", str(data_dir)).stdout
    assert "linked: symlink" in text and "1 need a person" in text


def test_a_non_utf8_user_name_prints_as_its_bytes_in_a_strict_locale(data_dir: Path) -> None:
    """In en_US.UTF-8, Python's stdout refuses the surrogate a name like b"caf\\xe9" reads
    as: status and migrate print the name's own bytes (as ls does), no traceback."""
    tb.build(data_dir, [tb.User("a", items=2), tb.User("caf", items=2)])
    os.rename(data_dir / "caf", os.fsencode(data_dir) + b"/caf\xe9")  # now an orphan
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "MIGRATION_DRY_RUN")}
    env["PYTHONIOENCODING"] = "utf-8:strict"
    for command in ("status", "migrate"):
        proc = subprocess.run(
            [sys.executable, "-m", "migrator", command, str(data_dir)],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
        assert proc.returncode == 1 and b"caf\xe9" in proc.stdout, proc.stdout


def test_status_all_migrated_exits_0(data_dir: Path) -> None:
    tb.build(data_dir, [tb.User("a", items=2, images=1)])
    assert _run("migrate", str(data_dir)).returncode == 0
    proc = _run("status", str(data_dir))
    assert proc.returncode == 0
    assert "a: migrated; backup 0.0 days old" in proc.stdout


def test_cleanup_backups_command(data_dir: Path) -> None:
    tb.build(data_dir, [tb.User("a", items=2), tb.User("b", items=2)])
    assert _run("migrate", str(data_dir)).returncode == 0
    then = time.time() - 12 * 86400
    os.utime(UserPaths(data_dir, "a").backup, (then, then))

    dry = _run("cleanup-backups", str(data_dir), "--grace-days", "10", "--dry-run")
    assert dry.returncode == 0 and UserPaths(data_dir, "a").backup.exists()
    assert "[DRY RUN] a: cleanup: would" in dry.stdout

    proc = _run("cleanup-backups", str(data_dir), "--grace-days", "10")
    assert proc.returncode == 0
    assert not UserPaths(data_dir, "a").backup.exists()
    assert UserPaths(data_dir, "b").backup.exists()


def test_io_error_of_the_whole_run_is_one_line_exit_1(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno
    from contextlib import contextmanager

    from migrator import runlock

    tb.build(data_dir, [tb.User("a", items=2)])

    @contextmanager
    def no_lock(path, **kw):
        raise OSError(errno.EIO, "Input/output error", str(path))
        yield

    monkeypatch.setattr(runlock, "holding", no_lock)
    assert cli.main(["migrate", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(data_dir) in err and "re-run" in err


@pytest.mark.parametrize("value", ["1", "yes", " true", "TRUE", "on"])
def test_every_usual_yes_is_a_dry_run(tmp_path: Path, value: str) -> None:
    """An operator who writes MIGRATION_DRY_RUN=1 means a dry run: a real migration there
    would move production data they only meant to look at."""
    data_dir = tmp_path / "data"
    tb.build(data_dir, [tb.User("alice", items=3)])
    before = tb.files(tmp_path)

    proc = _run("migrate", str(data_dir), env={"MIGRATION_DRY_RUN": value})

    assert proc.returncode == 0, proc.stderr
    assert tb.files(tmp_path) == before
    assert "alice" in proc.stdout


@pytest.mark.parametrize("value", ["maybe", "dry", "2"])
def test_a_dry_run_switch_that_means_nothing_is_refused(tmp_path: Path, value: str) -> None:
    """Neither yes nor no: one line naming the variable, exit 2, nothing changed."""
    data_dir = tmp_path / "data"
    tb.build(data_dir, [tb.User("alice", items=3)])
    before = tb.files(tmp_path)

    proc = _run("migrate", str(data_dir), env={"MIGRATION_DRY_RUN": value})

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "MIGRATION_DRY_RUN" in proc.stderr and "Traceback" not in proc.stderr
    assert tb.files(tmp_path) == before
