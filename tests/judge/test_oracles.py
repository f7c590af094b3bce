"""Each oracle passes a correct outcome and fails a deliberately broken one.

The correct outcomes come from ``toy_migrator`` (small, SPEC-following); broken ones from
its defect switches or from editing the tree after a correct run, so each test names the
defect it proves the oracle catches.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from fixtures.spec import UserSpec
from harness.judge import oracles
from harness.judge.snapshot import Snapshot
from harness.judge.verdict import RuleBroken, Verdict
from harness.run.adapters import CommandMigrator, parse_migrator
from harness.run.process import RunResult
from harness.run.sandbox import also_writable
from migrator.layout import UserPaths


def run_toy(root: Path, variant: str = "migrate", *, child: bool = False, **kw):
    """(before, after, run) around one run of a toy migrator variant."""
    before = Snapshot.take(root)
    run = parse_migrator(f"py:tests.judge.toy_migrator:{variant}", inprocess=not child).run(
        root, **kw
    )
    return before, Snapshot.take(root), run


def run_cmd(root: Path, command: str, **kw):
    before = Snapshot.take(root)
    run = CommandMigrator(command).run(root, **kw)
    return before, Snapshot.take(root), run


def broken(verdicts: list[Verdict]) -> dict[str | None, list[str]]:
    """Failed verdicts as {user: [what was found]}."""
    out: dict[str | None, list[str]] = {}
    for v in verdicts:
        if not v.ok:
            out.setdefault(v.user, []).append(v.found)
    return out


def holds(verdicts: list[Verdict]) -> bool:
    assert verdicts, "an oracle that judged nothing proves nothing"
    return not broken(verdicts)


def drop_profile_row(root: Path, uid: str) -> None:
    conn = sqlite3.connect(root / "system.db")
    conn.execute("DELETE FROM profiles WHERE user_id = ?", (uid,))
    conn.commit()
    conn.close()


WAL_HEAVY = UserSpec("alice", items=20, images=2, wal_share=0.8)


# --- R1 -----------------------------------------------------------------------------------


def test_r1_holds_for_a_correct_migration(make_tree):
    root, _ = make_tree(WAL_HEAVY, "bob")
    verdicts = oracles.check_r1(*run_toy(root))
    assert holds(verdicts)
    assert {v.user for v in verdicts} == {"alice", "bob"}


def test_r1_catches_wal_rows_lost_in_the_move(make_tree):
    root, _ = make_tree(WAL_HEAVY, "bob")
    failures = broken(oracles.check_r1(*run_toy(root, "wal_lost")))
    assert list(failures) == ["alice"]  # bob had nothing in his -wal
    assert any("rows missing:" in f and " items " in f for f in failures["alice"])


def test_r1_catches_a_missing_profile_row(make_tree):
    root, _ = make_tree("alice")
    assert broken(oracles.check_r1(*run_toy(root, "no_profile"))) == {"alice": ["no such row"]}


def test_r1_catches_an_image_left_behind_and_a_sidecar_left(make_tree):
    root, _ = make_tree("alice")
    before, _, run = run_toy(root)
    paths = UserPaths(root, "alice")
    image = next(paths.new_images.iterdir())
    paths.old_images.mkdir()
    image.rename(paths.old_images / image.name)
    paths.old_db.with_name("peek.db-wal").write_bytes(b"")
    failures = broken(oracles.check_r1(before, Snapshot.take(root), run))["alice"]
    assert any("still in the old folder" in f for f in failures)
    assert "left: peek.db-wal" in failures


# --- R2 -----------------------------------------------------------------------------------


def test_r2_holds_for_a_dry_run_that_names_each_user(make_tree):
    root, _ = make_tree(WAL_HEAVY, "bob", extras=("server_backups", "dot_entries"))
    assert holds(oracles.check_r2(*run_toy(root, dry_run=True)))


def test_r2_catches_the_dry_run_that_creates_an_empty_db(make_tree):
    root, _ = make_tree("alice")
    failures = broken(oracles.check_r2(*run_toy(root, "dry_run_touches", dry_run=True)))
    assert list(failures) == [None]
    assert "changed" in failures[None][0]


def test_r2_catches_a_touched_mtime_and_a_silent_dry_run(make_tree):
    root, _ = make_tree("alice", "bob")
    before, _, run = run_cmd(root, "touch -m -d '2001-01-01' {data_dir}/alice/peek.db")
    failures = broken(oracles.check_r2(before, Snapshot.take(root), run))
    assert set(failures) == {None, "alice", "bob"}  # touched, and nobody named


# --- R3 -----------------------------------------------------------------------------------


def test_r3_holds_when_the_second_run_changes_nothing(make_tree):
    root, _ = make_tree(WAL_HEAVY, "bob", UserSpec("carol", damage="truncated"))
    run_toy(root)
    assert holds(oracles.check_r3(*run_toy(root)))


def test_r3_catches_a_backup_recreated_on_the_second_run(make_tree):
    root, _ = make_tree("alice")
    run_toy(root, "fresh_backup")
    failures = broken(oracles.check_r3(*run_toy(root, "fresh_backup")))
    assert list(failures) == ["alice"]


# --- R4 -----------------------------------------------------------------------------------


def test_r4_holds_for_migrated_users_and_ensures_the_profile(make_tree):
    root, _ = make_tree(
        UserSpec("bob", state="migrated", wal_share=0.5), UserSpec("erin", state="migrated")
    )
    drop_profile_row(root, "erin")
    assert holds(oracles.check_r4(*run_toy(root), users=["bob", "erin"]))


def test_r4_catches_a_missing_profile_and_a_new_backup(make_tree):
    root, _ = make_tree(UserSpec("bob", state="migrated"), UserSpec("erin", state="migrated"))
    drop_profile_row(root, "erin")
    before, _, run = run_toy(root, "no_profile")
    paths = UserPaths(root, "bob")
    shutil.copyfile(paths.new_db, paths.backup)
    failures = broken(oracles.check_r4(before, Snapshot.take(root), run))
    assert failures == {"bob": ["1 entry changed"], "erin": ["no such row"]}


# --- R5 -----------------------------------------------------------------------------------


def test_r5_finishes_a_verified_copy_and_refuses_a_different_one(make_tree):
    root, _ = make_tree(
        UserSpec("dave", state="both_different"), UserSpec("eve", state="both_identical")
    )
    assert holds(oracles.check_r5(*run_toy(root)))


def test_r5_catches_a_migrator_that_ignores_both_present(make_tree):
    root, _ = make_tree(
        UserSpec("dave", state="both_different"), UserSpec("eve", state="both_identical")
    )
    failures = broken(oracles.check_r5(*run_cmd(root, "true")))
    assert "exit status 0; the output never names dave" in failures["dave"]
    assert "no backup" in failures["eve"]


def test_r5_catches_the_empty_new_db_taken_for_the_data(make_tree):
    root, _ = make_tree(UserSpec("dave", state="both_different"))
    cmd = "rm {data_dir}/dave/peek.db; echo 'dave: already migrated' >&2; exit 1"
    failures = broken(oracles.check_r5(*run_cmd(root, cmd)))
    assert failures == {"dave": ["1 entry changed"]}


# --- R6 -----------------------------------------------------------------------------------


def test_r6_holds_when_nothing_is_created(make_tree):
    root, _ = make_tree(UserSpec("gina", state="no_db"), "alice")
    assert holds(oracles.check_r6(*run_toy(root)))


def test_r6_catches_a_backup_of_nothing(make_tree):
    root, _ = make_tree(UserSpec("gina", state="no_db"))
    cmd = "touch {data_dir}/gina/peek.db.pre-migration-backup"
    assert broken(oracles.check_r6(*run_cmd(root, cmd))) == {
        "gina": ["created: gina/peek.db.pre-migration-backup"]
    }


# --- R7 -----------------------------------------------------------------------------------


def test_r7_holds_when_the_corrupt_user_is_reported_and_others_migrate(make_tree):
    root, _ = make_tree(UserSpec("carol", damage="btree"), WAL_HEAVY)
    assert holds(oracles.check_r7(*run_toy(root, child=True)))


def test_r7_catches_a_silent_skip_and_others_left_behind(make_tree):
    root, _ = make_tree(UserSpec("carol", damage="zeroed_header"), "alice")
    failures = broken(oracles.check_r7(*run_cmd(root, "echo nothing to do")))
    assert failures["carol"] == ["exit status 0; the output never names carol"]
    assert "no new DB" in failures["alice"]


# --- R8 -----------------------------------------------------------------------------------


def test_r8_holds_for_untouched_reported_users_or_complete_ones(make_tree):
    root, _ = make_tree("alice", "bob")
    assert holds(oracles.check_r8(*run_cmd(root, "echo 'no space for alice, bob' >&2; exit 1")))
    assert holds(oracles.check_r8(*run_toy(root)))


def test_r8_catches_a_half_migration_and_partial_files(make_tree):
    root, _ = make_tree("alice", "bob")
    before, _, run = run_toy(root)
    paths = UserPaths(root, "alice")
    (root / ".migration-copy.tmp").write_bytes(paths.backup.read_bytes()[:8192])
    paths.backup.unlink()
    failures = broken(oracles.check_r8(before, Snapshot.take(root), run))
    assert set(failures) == {None, "alice"}
    assert failures["alice"][0].startswith("half migrated: no backup")


def test_r8_catches_an_untouched_user_not_reported(make_tree):
    root, _ = make_tree("alice", "bob")
    failures = broken(oracles.check_r8(*run_cmd(root, "echo 'no space for alice' >&2; exit 1")))
    assert failures == {"bob": ["the output never names bob"]}


def test_r8_lets_a_migrator_keep_a_lock_file_and_a_log_of_its_own(make_tree):
    """A lock file or a log outside user folders holds no user content (SPEC): no finding."""
    root, _ = make_tree("alice", "bob")
    cmd = "touch {data_dir}/.migration.lock && echo 'alice: ok' > {data_dir}/migration.log"
    before, _, _ = run_cmd(root, cmd)
    _, after, run = run_toy(root)
    verdicts = oracles.check_r8(before, after, run)
    assert holds(verdicts)
    assert "migrator's own files (.migration.lock, migration.log" in verdicts[0].found


@pytest.mark.parametrize(
    ("leftover", "why"),
    [
        ("cp {data_dir}/alice/peek.db {data_dir}/.tmp-copy", "a copy of alice/peek.db"),
        ("head -c 6000 {data_dir}/alice/peek.db > {data_dir}/.part", "does not open cleanly"),
        (
            "sqlite3 {data_dir}/alice/peek.db '.backup {data_dir}/.tmp.sqlite'",
            "a SQLite file holding rows of alice/peek.db",
        ),
        ("for f in {data_dir}/alice/images/*; do head -c 100 $f; done > {data_dir}/.img", "image"),
    ],
    ids=["whole copy", "partial DB", "DB with the rows", "partial image"],
)
def test_r8_catches_user_content_added_outside_user_folders(make_tree, leftover, why):
    """A file outside user folders holding user content, whole or partial, is a finding."""
    if "sqlite3" in leftover and shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 command")
    root, _ = make_tree(UserSpec("alice", items=30, images=2), "bob")
    before, _, _ = run_cmd(root, "true")
    run_cmd(root, leftover)
    verdicts = oracles.check_r8(before, *run_toy(root)[1:])
    assert set(broken(verdicts)) == {None}
    assert why in verdicts[0].details


# --- error reported (R5, R7, R8, R14) ----------------------------------------------------


def _run(output: str, *, stderr: str = "", status: int = 1) -> RunResult:
    return RunResult(status, output, 0.1, None, "cmd", "replay", stderr=stderr)


@pytest.mark.parametrize(
    ("output", "stderr"),
    [
        ("alice: copy: failed: disk full\n", ""),
        ("ERROR migrate: alice could not be migrated\n", ""),
        ("CRITICAL: rollback failed for alice\n", ""),
        ('{"level": "error", "user": "alice", "msg": "no space"}\n', ""),
        ('{"levelname": "CRITICAL", "message": "alice stranded"}\n', ""),
        ("alice: no space left\n", "alice: no space left\n"),
    ],
    ids=["fail word", "error word", "critical word", "json level", "json levelname", "stderr"],
)
def test_error_reported_by_an_error_line_naming_the_user(output, stderr):
    from harness.judge.oracles import judgments

    assert judgments.error_reported("R7", _run(output, stderr=stderr), "alice").ok


@pytest.mark.parametrize(
    "output",
    [
        "Migrated alice data to profiles/default/datastore.sqlite\nsomething failed\n",
        '{"level": "info", "user": "alice", "msg": "migrated"}\n{"level": "error"}\n',
        "error: alice-2 failed\n",
    ],
    ids=["success line names the user", "json info event", "another user's error"],
)
def test_error_not_reported_by_a_name_on_a_success_line(output):
    """Peek names every user on success: a non-zero exit and the name somewhere is luck."""
    from harness.judge.oracles import judgments

    verdict = judgments.error_reported("R7", _run(output), "alice")
    assert not verdict.ok


@pytest.mark.parametrize(
    "output",
    [
        b"caf\xe9: done: failed (orphan)\n".decode("utf-8", errors="replace"),
        "error: no users row for 'caf\\udce9' in system.db\n",
    ],
    ids=["raw bytes, decoded as the kit decodes output", "escaped, as Python's repr writes"],
)
def test_a_user_whose_name_is_not_utf8_is_found_in_the_output(output):
    """The folder b"caf\\xe9" is "caf\\udce9" to the snapshot; the output names it with
    U+FFFD or an escape. Matching the surrogate itself found nothing: a false R14."""
    from harness.judge.oracles import judgments

    assert judgments.error_reported("R14", _run(output), os.fsdecode(b"caf\xe9")).ok
    assert not judgments.error_reported("R14", _run(output), "cafe").ok


# --- R11 ----------------------------------------------------------------------------------

R11_TREE = (
    UserSpec("old", state="migrated", backup_age_days=40),
    UserSpec("young", state="migrated", backup_age_days=5),
    UserSpec("risky", state="backup_only", backup_age_days=40),
    UserSpec("half", state="images_half_moved", backup_age_days=40),
)


def test_r11_deletes_aged_backups_of_migrated_users_only(make_tree):
    root, _ = make_tree(*R11_TREE)
    verdicts = oracles.check_r11(*run_toy(root))
    assert holds(verdicts)
    assert {v.user for v in verdicts} == {"old", "young", "risky", "half"}


def test_r11_honours_the_grace_period_given(make_tree):
    root, _ = make_tree(*R11_TREE)
    before, after, run = run_toy(root, grace_days=3)
    assert holds(oracles.check_r11(before, after, run, grace_days=3))
    assert not UserPaths(root, "young").backup.exists()


def test_r11_catches_a_clean_up_that_never_deletes(make_tree):
    root, _ = make_tree(*R11_TREE)
    assert broken(oracles.check_r11(*run_toy(root, "no_cleanup"))) == {"old": ["still there"]}


def test_r11_catches_deleting_the_backup_of_a_user_at_risk(make_tree):
    root, _ = make_tree(*R11_TREE)
    failures = broken(oracles.check_r11(*run_toy(root, "cleanup_all")))
    assert failures == {"risky": ["deleted"], "half": ["deleted"]}


# --- R13 ----------------------------------------------------------------------------------

HOSTILE = ("server_backups", "dot_entries", "stray_files", "symlinked_user")


def test_r13_holds_when_non_users_are_left_alone(make_tree, tmp_path):
    root, _ = make_tree("alice", extras=HOSTILE)
    outside = tmp_path / "elsewhere"
    (outside / "images").mkdir(parents=True)
    shutil.copyfile(UserPaths(root, "alice").old_db, outside / "peek.db")
    (root / "mallory").symlink_to(outside)
    verdicts = oracles.check_r13(*run_toy(root))
    assert holds(verdicts)
    assert any("mallory points to" in v.expected for v in verdicts)


def test_r13_catches_a_followed_symlink_and_a_touched_backup(make_tree, tmp_path):
    root, _ = make_tree("alice", extras=HOSTILE)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copyfile(UserPaths(root, "alice").old_db, outside / "peek.db")
    (root / "mallory").symlink_to(outside)
    cmd = "mkdir {data_dir}/mallory/profiles && touch -m -d 2001-01-01 {data_dir}/backups/*/*"
    with also_writable(outside):  # the sandbox would stop the write R13 must see
        failures = broken(oracles.check_r13(*run_cmd(root, cmd)))
    assert len(failures[None]) == 2


def test_r13_names_the_bait_a_migrator_took_for_a_user(make_tree):
    """The bait (a peek.db where no user lives) is named in the finding, so a person reads
    "it took backups/peek.db for a user", not just "backups/ changed"."""
    root, _ = make_tree("alice", extras=("server_backups", "bait_dbs"))
    cmd = "mkdir -p {data_dir}/backups/profiles && mv {data_dir}/backups/peek.db {data_dir}/x"
    verdicts = oracles.check_r13(*run_cmd(root, cmd))
    [finding] = [v for v in verdicts if not v.ok]
    assert finding.expected.startswith("backups/ and everything in it untouched")
    assert "bait: backups/peek-2026-01-27T21-00-00.000Z.db, backups/peek.db" in finding.expected
    assert "backups/peek.db: removed" in finding.details


def test_default_extras_hold_no_bait_only_the_servers_own_backups(make_tree):
    """The real server's backups/ holds a zip per user and time; no DB a migrator could
    take for a user's (the bait is an extra of its own, for R13's hostile scenario)."""
    root, _ = make_tree("alice", "bob", extras=("server_backups", "dot_entries"))
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    outside = [n for n in names if n.split("/")[0] in ("backups", ".cache")]
    assert "backups/alice/peek-backup-alice-2026-01-27T03-00-00-000Z.zip" in outside
    assert not [n for n in outside if n.endswith(".db")]


# --- R14 ----------------------------------------------------------------------------------

ORPHAN = UserSpec("frank", items=12, images=2, quirks=("no_users_row",))


def test_r14_holds_for_an_orphan_left_untouched_and_reported(make_tree):
    root, _ = make_tree(ORPHAN, "alice")
    assert holds(oracles.check_r14(*run_toy(root)))


def test_r14_catches_the_fields_half_migrated_orphan(make_tree):
    root, _ = make_tree(ORPHAN)
    cmd = (
        "cd {data_dir}/frank && mkdir -p profiles/default && "
        "mv peek.db profiles/default/datastore.sqlite && rm -f peek.db-wal peek.db-shm"
    )
    failures = broken(oracles.check_r14(*run_cmd(root, cmd)))["frank"]
    assert failures[0].startswith("half migrated")
    assert "exit status 0" in failures[-1]


# --- R15 ----------------------------------------------------------------------------------


def test_r15_holds_for_one_migration_per_user(make_tree):
    root, _ = make_tree("alice", "bob")
    before, _, first = run_toy(root)
    _, after, second = run_toy(root)
    assert holds(oracles.check_r15(before, after, [first, second]))


def test_r15_catches_the_traces_of_a_second_migration(make_tree):
    root, _ = make_tree("alice", "bob")
    before, _, run = run_toy(root)
    paths = UserPaths(root, "alice")
    shutil.copyfile(paths.new_db, paths.new_db.with_name("datastore.sqlite.migrating"))
    failures = broken(oracles.check_r15(before, Snapshot.take(root), [run]))
    assert failures == {"alice": ["also: alice/profiles/default/datastore.sqlite.migrating"]}


def _images_backup(root: Path) -> None:
    """What a migrator of another style may leave by design: a backup of the images."""
    for uid in ("alice", "bob"):
        (root / uid / "images.pre-migration-backup").mkdir()


def test_r15_judges_against_the_same_migrators_single_run(make_tree):
    """A file the migrator also makes when it runs alone is one migration's file."""
    alone_root, _ = make_tree("alice", "bob", name="alone")
    run_toy(alone_root)
    _images_backup(alone_root)
    alone = Snapshot.take(alone_root)
    root, _ = make_tree("alice", "bob")
    before, _, run = run_toy(root)
    _images_backup(root)
    after = Snapshot.take(root)
    assert broken(oracles.check_r15(before, after, [run]))  # not SPEC's layout
    assert holds(oracles.check_r15(before, after, [run], alone=alone))


def test_r15_catches_what_the_single_run_does_not_make(make_tree):
    alone_root, _ = make_tree("alice", "bob", name="alone")
    run_toy(alone_root)
    alone = Snapshot.take(alone_root)
    root, _ = make_tree("alice", "bob")
    before, _, run = run_toy(root)
    _images_backup(root)
    failures = broken(oracles.check_r15(before, Snapshot.take(root), [run], alone=alone))
    assert failures == {
        "alice": ["also: alice/images.pre-migration-backup"],
        "bob": ["also: bob/images.pre-migration-backup"],
    }


# --- R16 ----------------------------------------------------------------------------------


def test_r16_judges_content_and_peak_memory(make_tree):
    root, _ = make_tree(WAL_HEAVY)
    before, after, run = run_toy(root, child=True)
    assert holds(oracles.check_r16(before, after, run, max_rss_bytes=1 << 30))
    assert list(broken(oracles.check_r16(before, after, run, max_rss_bytes=1 << 20))) == [None]


def test_r16_cannot_pass_without_a_measurement(make_tree):
    root, _ = make_tree("alice")
    failures = broken(oracles.check_r16(*run_toy(root), max_rss_bytes=1 << 30))
    assert failures == {None: ["not measured (in-process run)"]}


# --- invariants ---------------------------------------------------------------------------


def test_no_content_lost_holds_before_during_and_after(make_tree):
    root, _ = make_tree(WAL_HEAVY, UserSpec("carol", damage="truncated"), "bob")
    before = Snapshot.take(root)
    assert holds(oracles.check_no_content_lost(before, before))
    paths = UserPaths(root, "bob")  # a moment mid-way: new DB written, old still there
    paths.profile_dir.mkdir(parents=True)
    shutil.copyfile(paths.old_db, paths.new_db)
    assert holds(oracles.check_no_content_lost(before, Snapshot.take(root)))
    _, after, _ = run_toy(root)
    assert holds(oracles.check_no_content_lost(before, after))


def test_no_content_lost_catches_lost_wal_rows_and_images(make_tree):
    root, _ = make_tree(WAL_HEAVY, "bob")
    before, _, _ = run_toy(root, "wal_lost")
    paths = UserPaths(root, "bob")
    next(paths.new_images.iterdir()).unlink()
    failures = broken(oracles.check_no_content_lost(before, Snapshot.take(root)))
    assert any("rows missing:" in f and " items " in f for f in failures["alice"])
    assert any(f.startswith("lost: ") for f in failures["bob"])


def test_no_content_lost_keeps_the_bytes_of_a_damaged_db(make_tree):
    root, _ = make_tree(UserSpec("carol", damage="garbage_header"))
    before, _, _ = run_cmd(root, "rm {data_dir}/carol/peek.db")
    assert broken(oracles.check_no_content_lost(before, Snapshot.take(root))) == {"carol": ["gone"]}


def converged_pair(make_tree, variant: str):
    users = (WAL_HEAVY, "bob", UserSpec("carol", damage="btree"))
    result, _ = make_tree(*users, name="result")
    reference, _ = make_tree(*users, name="reference")
    run_toy(reference)
    run_toy(result, variant)
    return Snapshot.take(result), Snapshot.take(reference)


def test_converged_ignores_mtimes_and_profile_ids(make_tree):
    assert holds(oracles.check_converged(*converged_pair(make_tree, "migrate")))


def test_converged_catches_different_content_and_extra_files(make_tree):
    result, reference = converged_pair(make_tree, "wal_lost")
    (result.root / "bob" / "stray.tmp").write_bytes(b"")
    failures = broken(oracles.check_converged(Snapshot.take(result.root), reference))
    assert set(failures) == {"alice", "bob"}


def test_converged_sees_a_wal_left_without_its_db(make_tree):
    """A -wal beside its DB is part of the DB; one whose DB is gone is a leftover that may
    hold rows, and a run that leaves it behind has not converged."""
    result, reference = converged_pair(make_tree, "migrate")
    stray = result.root / "bob" / "peek.db-wal"
    stray.write_bytes(b"frames")
    failures = broken(oracles.check_converged(Snapshot.take(result.root), reference))
    assert set(failures) == {"bob"}


@pytest.mark.parametrize(
    ("status", "failed", "ok"),
    [(0, (), True), (1, (), False), (0, ("x",), False), (2, ("x",), True)],
)
def test_exit_status_follows_the_contract(status, failed, ok):
    run = RunResult(status, "", 0.1, None, "m", "m")
    assert oracles.check_exit_status(run, failed_users=failed).ok is ok


def test_snapshots_of_the_tests_are_independent_of_cwd(make_tree, monkeypatch, tmp_path):
    """A relative data dir is judged like an absolute one (paths are tree-relative)."""
    root, _ = make_tree("alice")
    monkeypatch.chdir(root.parent)
    before, after, run = run_toy(Path(root.name))
    assert holds(oracles.check_r1(before, after, run))
    assert os.path.isabs(run.replay.split("DATA_DIR=")[1].split()[0])


def test_assert_verdicts_raises_a_readable_report(make_tree):
    root, _ = make_tree(WAL_HEAVY)
    before, after, run = run_toy(root, "wal_lost")
    with pytest.raises(RuleBroken) as caught:
        oracles.assert_verdicts(
            oracles.check_r1(before, after, run), before=before, after=after, run=run, seed=7
        )
    text = str(caught.value)
    for expected in ("R1, user alice", "rows missing", "What changed on disk", "migrated alice"):
        assert expected in text
    assert f"replay: {run.replay}" in text
    oracles.assert_verdicts(oracles.check_r6(before, after, run), before=before, after=after)
