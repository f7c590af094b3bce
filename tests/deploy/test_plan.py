"""``migration-kit plan``: the warnings a person must see first, per user what would happen,
the free space as numbers, and proof that planning changes nothing at all."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from harness.contract import layout
from harness.contract.layout import UserPaths
from harness.deploy import plan, survey
from harness.faults import mounts
from tests.deploy.deploy_helpers import RICH_IDS, can_deny, one_line_error, run_cli


def _warnings(found: plan.Plan) -> dict[tuple[str, str | None], plan.PlanWarning]:
    return {(w.kind, w.user): w for w in found.warnings}


def test_every_kind_of_warning_comes_first_with_its_numbers(rich_tree: Path) -> None:
    found = plan.collect(rich_tree)
    warned = _warnings(found)

    wal = warned[("wal", "ann-7q2x")]
    size = (rich_tree / "ann-7q2x" / "peek.db-wal").stat().st_size
    assert not wal.needs_person and plan.mb(size) in wal.message and "pages" in wal.message
    assert warned[("corrupt", "dan-2r6t")].needs_person
    assert warned[("orphan", "eve-5p3n")].needs_person
    assert warned[("conflict", "cat-8w1m")].needs_person
    half = warned[("half_migrated", "fay-9c4v")]
    assert not half.needs_person and "images/" in half.message
    assert ("half_migrated", "hal-6j2s") in warned  # no profile row yet
    link = warned[("symlink", None)]
    assert "linked-user" in link.message and "not a user folder" in link.message
    # ida-3m5b still has peek.db, the others migrated earlier keep a backup
    assert ("no_backup", None) not in warned

    # a person reads the top first: everything that needs them comes before the rest
    flags = [w.needs_person for w in found.warnings]
    assert flags == sorted(flags, reverse=True)


def test_per_user_outcomes_match_the_migrators_classification(rich_tree: Path) -> None:
    outcomes = {u.user: u.outcome for u in plan.collect(rich_tree).users}
    assert outcomes == {
        "ann-7q2x": plan.WOULD_MIGRATE,
        "ben-4k9z": plan.ALREADY_MIGRATED,
        "cat-8w1m": plan.WOULD_FAIL,
        "dan-2r6t": plan.WOULD_FAIL,
        "eve-5p3n": plan.WOULD_FAIL,
        "fay-9c4v": plan.WOULD_TIDY,
        "gus-1h8d": plan.NO_DB,
        "hal-6j2s": plan.WOULD_TIDY,
        "ida-3m5b": plan.WOULD_FINISH,
    }
    assert set(outcomes) == set(RICH_IDS)


def test_planning_changes_no_byte_and_no_mtime(cli, rich_tree: Path, untouched) -> None:
    """Folder mtimes included: a scratch file made and removed in a user folder would show."""
    proof = untouched(rich_tree)
    plan.collect(rich_tree)
    proc = cli("plan", str(rich_tree), "--json")
    assert proc.returncode == 1, proc.stderr  # warnings that need a person
    proof.assert_untouched()


def test_worker_processes_give_the_same_plan(rich_tree: Path) -> None:
    def steady(found: plan.Plan) -> plan.Plan:  # free space moves with everything else
        return replace(found, space=tuple(replace(s, free=0) for s in found.space))

    assert steady(plan.collect(rich_tree, workers=2)) == steady(plan.collect(rich_tree, workers=1))


def test_the_whole_run_short_of_space_is_told_with_numbers(clean_tree: Path) -> None:
    """Each user fits alone, but not every backup plus the largest user's working copies:
    only the planner, which adds them up, can see that before the run. On a real full
    filesystem (a tmpfs with a filler), not a patched statvfs."""
    available = mounts.backend_available()
    if not available:
        pytest.skip(available.reason)
    roomy = plan.collect(clean_tree).space[0]
    leave = roomy.peak + roomy.kept // 2
    with mounts.nearly_full(clean_tree, leave):
        found = plan.collect(clean_tree)
    need = found.space[0]
    assert need.peak <= need.free < need.needed, need
    warning = _warnings(found)[("run_space", None)]
    assert warning.needs_person
    assert str(need.needed) in warning.message and str(need.free) in warning.message
    assert all(u.outcome != plan.WOULD_FAIL for u in found.users)  # each user fits alone


def test_a_user_that_does_not_fit_alone_would_fail(
    clean_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(survey, "free_bytes", lambda path: 1000)
    found = plan.collect(clean_tree)
    short = [w for w in found.warnings if w.kind == "no_space"]
    assert {w.user for w in short} == {"kim-1a", "lou-2b"}
    assert all("1000 bytes" in w.message and w.needs_person for w in short)
    assert not [w for w in found.warnings if w.kind == "run_space"]  # said per user already


def test_symlinks_where_data_should_be_need_a_person(clean_tree: Path, tmp_path: Path) -> None:
    paths = UserPaths(clean_tree, "lou-2b")
    elsewhere = tmp_path / "elsewhere-images"
    shutil.move(paths.old_images, elsewhere)
    paths.old_images.symlink_to(elsewhere)
    warned = _warnings(plan.collect(clean_tree))[("symlink", "lou-2b")]
    assert warned.needs_person and str(paths.old_images) in warned.message


def test_text_report_reads_warnings_then_users_then_summary(rich_tree: Path) -> None:
    proc = run_cli("plan", str(rich_tree))
    out = proc.stdout
    assert proc.returncode == 1, proc.stderr
    assert out.index("WARNINGS") < out.index("PER USER") < out.index("SUMMARY")
    assert "ann-7q2x: legacy -> would migrate" in out
    assert "cat-8w1m: conflict -> WOULD FAIL" in out
    assert "space on" in out and "free: fits" in out


def test_json_report(cli, rich_tree: Path) -> None:
    doc = json.loads(cli("plan", str(rich_tree), "--json").stdout)
    assert {u["user"] for u in doc["users"]} == set(RICH_IDS)
    assert doc["summary"]["needs_person"] == len([w for w in doc["warnings"] if w["needs_person"]])
    assert doc["space"][0]["fits"] is True and doc["space"][0]["needed"] > 0


def test_a_clean_tree_needs_nobody(cli, clean_tree: Path) -> None:
    proc = cli("plan", str(clean_tree))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing needs a person" in proc.stdout


def test_users_migrated_earlier_without_a_backup_are_named(clean_tree: Path) -> None:
    """The seed's Immediate Action: "if any users have been migrated, create manual backups
    immediately": their peek.db is gone and nothing else holds their data."""
    warned = _warnings(plan.collect(clean_tree))[("no_backup", None)]
    assert "1 user(s)" in warned.message and "max-3c" in warned.message


# -- bad input ---------------------------------------------------------------------------


def _bad_data_dirs(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    no_system = tmp_path / "no-system-db"
    (no_system / "alice").mkdir(parents=True)
    bad_system = tmp_path / "bad-system-db"
    (bad_system / "alice").mkdir(parents=True)
    (bad_system / layout.SYSTEM_DB).write_text("not sqlite")
    # No user folder yet, but a system.db the run would read (and fail on) all the same.
    only_bad_system = tmp_path / "only-bad-system-db"
    only_bad_system.mkdir()
    (only_bad_system / layout.SYSTEM_DB).write_text("not sqlite")
    return {
        "missing": tmp_path / "missing",
        "file": a_file,
        "no_system_db": no_system,
        "bad_system_db": bad_system,
        "only_bad_system_db": only_bad_system,
    }


@pytest.mark.parametrize(
    "case", ["missing", "file", "no_system_db", "bad_system_db", "only_bad_system_db"]
)
def test_not_a_data_dir_is_one_line_and_exit_2(cli, tmp_path: Path, case: str, untouched) -> None:
    path = _bad_data_dirs(tmp_path)[case]
    proof = untouched(tmp_path)
    one_line_error(cli("plan", str(path)), str(path))
    proof.assert_untouched()


@pytest.mark.skipif(not can_deny(), reason="cannot refuse a read here (root without setpriv)")
def test_permission_denied(clean_tree: Path, untouched) -> None:
    proof = untouched(clean_tree)
    system_db = clean_tree / layout.SYSTEM_DB
    os.chmod(system_db, 0)
    try:
        one_line_error(run_cli("plan", str(clean_tree), deny=True), str(system_db))
        os.chmod(system_db, 0o644)
        os.chmod(clean_tree, 0)
        one_line_error(run_cli("plan", str(clean_tree), deny=True), str(clean_tree), "permission")
    finally:
        os.chmod(clean_tree, 0o755)
        os.chmod(system_db, 0o644)
    proof.assert_untouched()


@pytest.mark.skipif(not can_deny(), reason="cannot refuse a read here (root without setpriv)")
def test_an_unreadable_users_db_is_a_warning_naming_it(clean_tree: Path) -> None:
    """One unreadable user is a finding about that user (the run would fail it too), not a
    reason to plan nothing for the others."""
    db = UserPaths(clean_tree, "lou-2b").old_db
    os.chmod(db, 0)
    try:
        proc = run_cli("plan", str(clean_tree), deny=True)
    finally:
        os.chmod(db, 0o644)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert f"lou-2b: could not inspect {db.parent}" in proc.stdout and "Permission" in proc.stdout
    assert "kim-1a: legacy -> would migrate" in proc.stdout


def test_bad_workers(cli, clean_tree: Path) -> None:
    one_line_error(cli("plan", str(clean_tree), "--workers", "0"), "--workers")
