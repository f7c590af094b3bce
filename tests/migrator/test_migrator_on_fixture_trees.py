"""The reference migrator on the fixture kit's trees (``fixtures.build``), judged by the
kit's own content reader (``harness.contract.content``): a cross-check between three parts
written independently. Every user state the fixtures know, beside a plain legacy user."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator import log, report, server
from migrator.layout import UserPaths
from tests.migrator import treebuilder as tb

build = pytest.importorskip("fixtures.build", reason="the fixture kit is not importable")
spec_mod = pytest.importorskip("fixtures.spec")
dbcontent = pytest.importorskip("harness.contract.content")

# state -> the problem kind a correct migrator reports, or None when it must migrate.
EXPECTED = {
    "legacy": None,
    "migrated": None,
    "no_db": None,
    "both_identical": None,
    "both_different": "conflict",
    "backup_only": "backup_only",
    "partial_backup": None,
    "new_without_profile": None,
    "images_half_moved": None,
    "leftover_temp": None,
    "profile_without_db": None,
}


def test_every_fixture_state_is_known_here() -> None:
    assert set(spec_mod.USER_STATES) == set(EXPECTED)


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_fixture_state(state: str, tmp_path: Path) -> None:
    spec = spec_mod.TreeSpec(
        users=(
            spec_mod.UserSpec(
                "subject",
                state=state,
                items=25,
                images=3,
                wal_share=0.0 if state in ("no_db", "backup_only") else 0.5,
            ),
            spec_mod.UserSpec("plain", items=10, images=1),
        ),
        seed=7,
    )
    data_dir = tmp_path / "data"
    manifest = build.build(spec, data_dir)
    subject = manifest.user("subject")
    before = tb.user_files(data_dir, "subject")

    try:
        result = server.migrate(data_dir, log=log.Collect())
    except server.MigrationFailed as exc:
        result = exc.report

    outcome = tb.outcome(result, "subject")
    assert outcome.problem == EXPECTED[state], outcome.error
    assert tb.outcome(result, "plain").outcome == report.MIGRATED
    p = UserPaths(data_dir, "subject")
    if EXPECTED[state] is not None:
        assert tb.user_files(data_dir, "subject") == before
        return
    if subject.digest is None:  # no data (no_db): nothing created
        assert tb.user_files(data_dir, "subject") == before
        return
    assert dbcontent.read_content(p.new_db).digest == subject.digest
    if state != "migrated":  # a user already migrated before keeps having no backup
        assert dbcontent.read_content(p.backup).digest == subject.digest
    got = {f.name: f.read_bytes() for f in p.new_images.iterdir()} if subject.images else {}
    assert set(got) == set(subject.images)
    assert not p.old_db.exists() and not p.old_images.exists()
    assert tb.scratch_left(data_dir) == []
    settled = tb.files(data_dir)
    server.migrate(data_dir, log=log.Collect())
    assert tb.files(data_dir) == settled


@pytest.mark.parametrize(
    ("damage", "quirk", "problem"),
    [(d, None, "corrupt") for d in spec_mod.DAMAGE_KINDS]
    + [
        (None, "no_users_row", "orphan"),
        (None, "readonly_db", None),
        (None, "readonly_dir", None),
    ],
)
def test_fixture_damage_and_quirks(damage, quirk, problem, tmp_path: Path) -> None:
    spec = spec_mod.TreeSpec(
        users=(
            spec_mod.UserSpec(
                "subject", items=300, images=2, damage=damage, quirks=(quirk,) if quirk else ()
            ),
            spec_mod.UserSpec("plain", items=10, images=1),
        ),
        seed=3,
    )
    data_dir = tmp_path / "data"
    manifest = build.build(spec, data_dir)
    before = tb.user_files(data_dir, "subject")

    try:
        result = server.migrate(data_dir, log=log.Collect())
    except server.MigrationFailed as exc:
        result = exc.report

    assert tb.outcome(result, "subject").problem == problem
    assert tb.outcome(result, "plain").outcome == report.MIGRATED
    if problem is not None:
        assert tb.user_files(data_dir, "subject") == before
    else:
        new_db = UserPaths(data_dir, "subject").new_db
        assert dbcontent.read_content(new_db).digest == manifest.user("subject").digest


def test_crash_between_the_old_unlinks_when_the_new_db_has_its_own_wal(tmp_path: Path) -> None:
    """Found by the fault explorer: both DBs present and identical, the new one with a live
    ``-wal`` of its own; the run is killed after ``peek.db`` is unlinked but before its
    ``-wal``. The stray ``peek.db-wal`` adds nothing to the new DB, so the next run must
    remove it and finish, not refuse the user for good as a stray WAL."""
    spec = spec_mod.TreeSpec(
        users=(spec_mod.UserSpec("gus", state="both_identical", items=25, wal_share=0.5),),
        seed=3,
    )
    data_dir = tmp_path / "data"
    manifest = build.build(spec, data_dir)
    p = UserPaths(data_dir, "gus")
    assert p.new_db.with_name(p.new_db.name + "-wal").stat().st_size > 0
    p.old_db.unlink()  # the state the kill leaves: peek.db gone, peek.db-wal still there
    assert p.old_db.with_name(p.old_db.name + "-wal").exists()

    result = server.migrate(data_dir, log=log.Collect())

    assert tb.outcome(result, "gus").problem is None
    assert not p.old_db.with_name(p.old_db.name + "-wal").exists()
    assert dbcontent.read_content(p.new_db).digest == manifest.user("gus").digest
