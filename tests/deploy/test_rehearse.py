"""``migration-kit rehearse``: the migration on a scratch copy, judged by every rule, with
the original proven untouched, even by a migrator that follows symlinks out of the tree."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.contract.layout import UserPaths
from harness.deploy import rehearse
from harness.run import sandbox
from harness.run.adapters import parse_migrator
from harness.run.sandbox import Protection
from tests.deploy.conftest import CLEAN
from tests.deploy.deploy_helpers import REPO, can_deny, one_line_error, rename_to_non_utf8, run_cli

# The migration the seed's server shipped: peek.db moved alone (its -wal left behind), no
# backup, no profile row, every folder taken for a user (backups/ included).
SHIPPED = (
    'cmd:[ "$MIGRATION_DRY_RUN" = true ] && exit 0; for d in "$DATA_DIR"/*/; do '
    '[ -f "$d/peek.db" ] || continue; [ -e "$d/profiles/default/datastore.sqlite" ] && continue; '
    'mkdir -p "$d/profiles/default" && mv "$d/peek.db" "$d/profiles/default/datastore.sqlite"; '
    "done"
)
# A migrator that writes through every symlinked folder it finds (R13's bait).
FOLLOWS_LINKS = (
    'cmd:for d in "$DATA_DIR"/*; do [ -L "$d" ] && echo pwned > "$d/pwned.txt"; done; exit 0'
)


def test_reference_holds_every_rule_and_the_original_is_untouched(
    rich_tree: Path, untouched
) -> None:
    proof = untouched(rich_tree)
    proc = run_cli("rehearse", str(rich_tree))
    proof.assert_untouched()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "result: every applicable rule held" in out
    for rule in ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R11", "R13", "R14", "content"):
        assert f"  {rule} " in out and "BROKEN" not in out


def test_the_shipped_migration_is_caught_losing_wal_rows(cli, clean_tree: Path, untouched) -> None:
    proof = untouched(clean_tree)
    proc = cli("rehearse", str(clean_tree), "--migrator", SHIPPED)
    proof.assert_untouched()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "R1       BROKEN" in out and "content  BROKEN" in out
    # The server's own backups/ holds zips per user, no peek.db: nothing there for the
    # shipped mover's "every folder with a peek.db" to take (R13's bait is a hostile tree's).
    assert "R13      BROKEN" not in out
    assert "kim-1a/profiles/default/datastore.sqlite: rows missing" in out  # the -wal's rows
    assert "replay: migration-kit rehearse" in out


def test_a_link_out_of_the_tree_cannot_reach_production(
    clean_tree: Path, tmp_path: Path, untouched
) -> None:
    """In a verbatim copy the link would still point at the real target; the rehearsal
    points it at a private copy, so the migrator's mistake shows there, and only there."""
    outside = tmp_path / "production-elsewhere"
    (outside / "images").mkdir(parents=True)
    (outside / "images" / "a.png").write_bytes(b"\x89PNG real")
    (clean_tree / "linked").symlink_to(outside)
    proof, outside_proof = untouched(clean_tree), untouched(outside)

    result = rehearse.rehearse(clean_tree, parse_migrator(FOLLOWS_LINKS), scratch=tmp_path)

    proof.assert_untouched()
    outside_proof.assert_untouched()
    assert not (outside / "pwned.txt").exists()
    r13 = [v for v in result.broken if v.rule == "R13"]  # (it migrates nobody: R1, R2 too)
    assert r13 and "what linked points to untouched" in r13[0].expected
    assert any("linked points outside the tree" in n for n in result.notes)


def test_scratch_is_removed_unless_kept(clean_tree: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    migrator = parse_migrator(None)
    rehearse.rehearse(clean_tree, migrator, scratch=scratch)
    assert list(scratch.iterdir()) == []
    kept = rehearse.rehearse(clean_tree, migrator, scratch=scratch, keep=True)
    copy = Path(kept.tree)
    assert copy.parent.parent == scratch and UserPaths(copy, "kim-1a").new_db.is_file()


def test_mtimes_and_symlinks_are_copied_as_they_are(
    make_tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fixtures.variants import hostile

    tree = make_tree(hostile())[0]
    seen = {}

    def capture_copy(tree_path: Path, migrator, **kw):
        for p in [tree_path, *tree_path.rglob("*")]:
            st = os.lstat(p)
            seen[p.relative_to(tree_path).as_posix()] = (stat.S_IFMT(st.st_mode), st.st_mtime_ns)
        raise SystemExit  # stop before anything runs

    monkeypatch.setattr(rehearse, "judge", capture_copy)
    with pytest.raises(SystemExit):
        rehearse.rehearse(tree, parse_migrator(None), scratch=tmp_path)
    original = {
        p.relative_to(tree).as_posix(): (stat.S_IFMT(os.lstat(p).st_mode), os.lstat(p).st_mtime_ns)
        for p in [tree, *tree.rglob("*")]
    }
    assert seen == original


# -- bad input ---------------------------------------------------------------------------


def test_a_user_folder_whose_name_is_not_utf8_is_no_false_r14(
    cli, clean_tree: Path, untouched
) -> None:
    """The reference reports the orphan by its raw name; the kit decodes that output with
    U+FFFD and must still see the user named (it once reported R14 broken)."""
    rename_to_non_utf8(clean_tree, "lou-2b")
    proof = untouched(clean_tree)
    proc = cli("rehearse", str(clean_tree))
    proof.assert_untouched()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "R14      held" in proc.stdout


def test_not_a_data_dir_and_a_bad_migrator(cli, tmp_path: Path, clean_tree: Path) -> None:
    one_line_error(cli("rehearse", str(tmp_path / "nope")), str(tmp_path / "nope"))
    one_line_error(cli("rehearse", str(clean_tree), "--migrator", "py:no.such:thing"))
    one_line_error(
        cli("rehearse", str(clean_tree), "--scratch", str(clean_tree / "x")), "--scratch"
    )
    one_line_error(
        cli("rehearse", str(clean_tree), "--scratch", str(tmp_path / "absent")),
        str(tmp_path / "absent"),
    )


def test_a_non_utf8_user_name_in_a_strict_utf8_locale(clean_tree: Path) -> None:
    """A server's locale is often en_US.UTF-8, where Python's stdout refuses a surrogate:
    the reference's log and the kit's report print the name's own bytes, no traceback."""
    rename_to_non_utf8(clean_tree, "lou-2b")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    env.pop("DATA_DIR", None)
    argv = [sys.executable, "-m", "harness.cli.main", "rehearse", str(clean_tree)]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, timeout=300)
    assert b"Traceback" not in proc.stdout + proc.stderr, proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, proc.stdout.decode(errors="replace")
    assert b"R14      held" in proc.stdout
    argv[3] = "plan"  # the kit's own report names the orphan
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, timeout=300)
    assert b"Traceback" not in proc.stdout + proc.stderr, proc.stderr.decode(errors="replace")
    assert proc.returncode == 1 and b"lou-2b\xe9" in proc.stdout, proc.stdout


def test_a_corrupt_system_db_is_refused_before_any_run(
    cli, clean_tree: Path, tmp_path: Path, untouched
) -> None:
    """As plan and capture refuse it: the run would fail on it, and every user would look
    like a broken rule (it once ran the migrator and reported a false R5)."""
    system = clean_tree / "system.db"
    system.write_bytes(os.urandom(8192))
    proof = untouched(clean_tree)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = cli("rehearse", str(clean_tree), "--scratch", str(scratch))
    one_line_error(proc, str(system))
    assert list(scratch.iterdir()) == []  # nothing copied, no migrator started
    proof.assert_untouched()


def test_too_little_scratch_space_is_said_with_numbers(
    clean_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, untouched
) -> None:
    from harness.cli import main as cli

    proof = untouched(clean_tree)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(rehearse.survey, "free_bytes", lambda path: 4096)
    assert cli.main(["rehearse", str(clean_tree), "--scratch", str(scratch)]) == 2
    err = capsys.readouterr().err
    assert "4096 bytes free" in err and "--scratch" in err
    assert list(scratch.iterdir()) == []  # the scratch folder went again
    proof.assert_untouched()


@pytest.mark.skipif(not can_deny(), reason="cannot refuse a read here (root without setpriv)")
def test_an_unreadable_file_stops_before_copying(clean_tree: Path, untouched) -> None:
    db = UserPaths(clean_tree, "lou-2b").old_db
    os.chmod(db, 0)
    proof = untouched(clean_tree)
    try:
        proc = run_cli("rehearse", str(clean_tree), deny=True)
    finally:
        os.chmod(db, 0o644)
    one_line_error(proc, str(db), "permission denied")
    os.chmod(db, 0)
    proof.assert_untouched()
    os.chmod(db, 0o644)


def test_the_app_after_the_move_is_judged_under_r18(cli, clean_tree: Path) -> None:
    """``--after-check``: the app run on the migrated copy; reading the old path is R18."""
    new = 'cmd:test -f "$DATA_DIR/kim-1a/profiles/default/datastore.sqlite"'
    proc = cli("rehearse", str(clean_tree), "--after-check", new)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  after-check: exit status 0" in proc.stdout and "R18      held" in proc.stdout
    old = 'cmd:test -f "$DATA_DIR/kim-1a/peek.db" || { echo "no db for kim-1a" >&2; exit 1; }'
    proc = cli("rehearse", str(clean_tree), "--after-check", old)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "R18      BROKEN" in proc.stdout and "no db for kim-1a" in proc.stdout
    assert "--after-check" in proc.stdout.rsplit("replay:", 1)[-1]  # the replay repeats it
    bad = cli("rehearse", str(clean_tree), "--after-check", "node app.js")
    assert bad.returncode == 2 and "--after-check" in bad.stderr


# Passes the preflight (an empty tree), then hangs on the real one.
HANGS = 'cmd:ls "$DATA_DIR" | grep -qvx system.db || exit 0; echo hanging; exec sleep 60'


def test_a_hanging_migrator_shows_progress_before_its_timeout(make_tree) -> None:
    tree, _ = make_tree(CLEAN)
    argv = [sys.executable, "-m", "harness.cli.main", "rehearse", str(tree)]
    argv += ["--migrator", HANGS, "--timeout", "4"]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        seen_at = time.monotonic() - start
        still_running = proc.poll() is None
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first.startswith("rehearse: 0/3 runs done") and "running dry run" in first, first
    assert still_running, (seen_at, first)
    assert "rehearse: 3/3 runs done" in err and "3 findings" in err, err
    assert "did not finish in 4 s" in out


@pytest.mark.skipif(
    sandbox.probe() != Protection.NAMESPACE, reason=f"no mount namespace here: {sandbox.probe()}"
)
def test_a_migrator_hard_coding_the_real_data_dir_cannot_change_it(
    cli, clean_tree: Path, untouched
) -> None:
    """It ignores DATA_DIR and migrates the original: in the sandbox the original is
    read-only, so it stays byte-identical (mtimes too) and the report says it tried."""
    proof = untouched(clean_tree)
    hard_coded = f"cmd:{shlex.join([sys.executable, '-m', 'migrator', 'migrate', str(clean_tree)])}"
    proc = cli("rehearse", str(clean_tree), "--migrator", hard_coded)
    proof.assert_untouched()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"sandbox: {Protection.NAMESPACE}" in proc.stdout
    assert f"wrote outside DATA_DIR: {clean_tree}/" in proc.stdout
