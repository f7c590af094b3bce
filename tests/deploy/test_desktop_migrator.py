"""The desktop migrator (``migrator.desktop``, ``migration-kit migrate-desktop``): rows for
existing profile folders only, nothing else touched, a second run a true no-op, and clear
refusals. The scenarios (``scenarios/test_desktop.py``) must catch each broken variant in
``broken_desktop``."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from fixtures.desktop import build_desktop
from fixtures.spec import DesktopSpec
from harness.contract.content import open_copy
from harness.run.adapters import parse_migrator
from migrator import desktop
from scenarios import test_desktop as scenario
from tests.deploy.deploy_helpers import can_deny, one_line_error, run_cli


def _rows(root: Path) -> dict[str, tuple]:
    with open_copy(root / desktop.PROFILES_DB) as conn:
        rows = conn.execute("SELECT slug, name, is_default, sync_enabled FROM profiles")
        return {r[0]: r[1:] for r in rows}


def _active(root: Path) -> str | None:
    with open_copy(root / desktop.PROFILES_DB) as conn:
        row = conn.execute("SELECT profile_slug FROM active_profile WHERE id = 1").fetchone()
    return row[0] if row else None


def test_fresh_user_data_gets_both_rows_and_the_active_profile(tmp_path: Path) -> None:
    build_desktop(DesktopSpec(), tmp_path / "ud")
    proc = run_cli("migrate-desktop", str(tmp_path / "ud"))
    assert proc.returncode == 0, proc.stderr
    assert _rows(tmp_path / "ud") == {"default": ("Default", 1, 0), "dev": ("Development", 0, 0)}
    assert _active(tmp_path / "ud") == "default"
    assert "default: add profile row 'Default' (default)" in proc.stdout
    header = (tmp_path / "ud" / desktop.PROFILES_DB).read_bytes()[18:20]
    assert header == b"\x02\x02"  # WAL mode, as the app creates it
    assert not list((tmp_path / "ud").glob("profiles.db-*"))  # no sidecar left behind


def test_only_missing_rows_are_added_and_a_chosen_default_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "ud"
    build_desktop(DesktopSpec(profiles_db=True, profile_rows=("dev",)), root)
    conn = sqlite3.connect(root / desktop.PROFILES_DB, isolation_level=None)
    conn.execute("UPDATE profiles SET is_default = 1, sync_enabled = 1 WHERE slug = 'dev'")
    conn.close()
    result = desktop.migrate_desktop(root, log=lambda line: None)
    assert result.added == ("default",) and result.present == ("dev",)
    rows = _rows(root)
    assert rows["dev"] == ("Development", 1, 1)  # untouched
    assert rows["default"] == ("Default", 0, 0)  # one default profile: the app's choice stays
    assert _active(root) == "dev"  # already set by the app, kept


def test_only_dev_makes_dev_active(tmp_path: Path) -> None:
    build_desktop(DesktopSpec(folders=("dev",)), tmp_path / "ud")
    desktop.migrate_desktop(tmp_path / "ud", log=lambda line: None)
    assert set(_rows(tmp_path / "ud")) == {"dev"} and _active(tmp_path / "ud") == "dev"


def test_no_folders_no_profiles_db(tmp_path: Path) -> None:
    (tmp_path / "ud").mkdir()
    (tmp_path / "ud" / "other-profile").mkdir()  # not a folder this migration knows
    result = desktop.migrate_desktop(tmp_path / "ud", log=lambda line: None)
    assert not result.changed and not (tmp_path / "ud" / desktop.PROFILES_DB).exists()


def test_second_run_does_not_even_open_profiles_db(cli, tmp_path: Path, untouched) -> None:
    root = tmp_path / "ud"
    build_desktop(DesktopSpec(), root)
    desktop.migrate_desktop(root, log=lambda line: None)
    proof = untouched(root)
    proc = cli("migrate-desktop", str(root))
    assert proc.returncode == 0 and "nothing to add" in proc.stdout
    proof.assert_untouched()


def test_dry_run_writes_nothing(cli, tmp_path: Path, untouched) -> None:
    root = tmp_path / "ud"
    build_desktop(DesktopSpec(), root)
    proof = untouched(root)
    proc = cli("migrate-desktop", str(root), "--dry-run")
    assert proc.returncode == 0 and "[DRY RUN] would add profile row 'Development'" in proc.stdout
    proof.assert_untouched()


def test_a_name_taken_by_another_profile_needs_a_person(cli, tmp_path: Path, untouched) -> None:
    root = tmp_path / "ud"
    build_desktop(DesktopSpec(profiles_db=True, profile_rows=("dev",)), root)
    conn = sqlite3.connect(root / desktop.PROFILES_DB, isolation_level=None)
    conn.execute("UPDATE profiles SET name = 'Default' WHERE slug = 'dev'")
    conn.close()
    proof = untouched(root)
    proc = cli("migrate-desktop", str(root))
    assert proc.returncode == 1 and "'Default' is already used by profile 'dev'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    proof.assert_untouched()


def test_a_damaged_profiles_db_needs_a_person(cli, tmp_path: Path, untouched) -> None:
    root = tmp_path / "ud"
    build_desktop(DesktopSpec(), root)
    (root / desktop.PROFILES_DB).write_text("not a database")
    proof = untouched(root)
    proc = cli("migrate-desktop", str(root))
    assert proc.returncode == 1 and str(root / desktop.PROFILES_DB) in proc.stderr
    assert "move profiles.db aside" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proof.assert_untouched()


@pytest.mark.parametrize("case", ["missing", "file"])
def test_not_a_user_data_dir(cli, tmp_path: Path, case: str) -> None:
    path = tmp_path / "nope"
    if case == "file":
        path.write_text("x")
    one_line_error(cli("migrate-desktop", str(path)), str(path), "userData")


@pytest.mark.skipif(not can_deny(), reason="cannot refuse a read here (root without setpriv)")
def test_permission_denied(tmp_path: Path, untouched) -> None:
    root = tmp_path / "ud"
    build_desktop(DesktopSpec(profiles_db=True), root)
    db = root / desktop.PROFILES_DB
    os.chmod(db, 0)
    try:
        proc = run_cli("migrate-desktop", str(root), deny=True)
        os.chmod(db, 0o644)
        os.chmod(root, 0)
        denied_dir = run_cli("migrate-desktop", str(root), deny=True)
    finally:
        os.chmod(root, 0o755)
        os.chmod(db, 0o644)
    one_line_error(proc, str(db), "permission")
    one_line_error(denied_dir, str(root), "permission")


@pytest.mark.parametrize(
    ("broken", "caught_by"),
    [
        ("vacuums_datastores", "test_every_pre_existing_file_is_byte_identical"),
        ("recreates_profiles_db", "test_rows_already_in_profiles_db_stay_as_they_were"),
        ("touches_profiles_db_every_run", "test_a_second_run_adds_nothing"),
        ("renames_dev_folder", "test_every_pre_existing_file_is_byte_identical"),
    ],
)
def test_the_scenarios_catch_each_broken_desktop_migrator(
    broken: str, caught_by: str, tmp_path: Path
) -> None:
    """Each broken variant fails the scenario meant for it, and the reference passes it."""
    spec = scenario.TREES["dev_added_later"]
    check = getattr(scenario, caught_by)
    for name, must_fail in (
        (f"py:tests.deploy.broken_desktop:{broken}", True),
        (scenario.REFERENCE, False),
    ):
        root = tmp_path / name.rsplit(":", 1)[-1]
        build_desktop(spec, root)
        migrator = parse_migrator(name, inprocess=True)
        if must_fail:
            with pytest.raises(AssertionError):
                check((root, spec), migrator)
        else:
            check((root, spec), migrator)
