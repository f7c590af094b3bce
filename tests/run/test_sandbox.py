"""The sandbox: a migrator process can change its tree and its own TMPDIR, nothing else.

A write anywhere else fails (EROFS) inside a private mount namespace, is named in the run's
result and becomes a contract verdict "wrote outside DATA_DIR"; where the namespace is
switched off the write happens but is still named (detection only). Correct migrators, the
reference and the corpus's ``tempfile`` one, raise no such verdict: a false alarm would get
the check switched off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fixtures.spec import TreeSpec, UserSpec
from harness.judge.oracles import check_stayed_inside
from harness.judge.verdict import Damage, RuleBroken
from harness.run import sandbox
from harness.run.adapters import DEFAULT_MIGRATOR, parse_migrator
from harness.run.sandbox import Protection, outside_paths
from harness.scenario.trial import Trial

TREE = TreeSpec(
    users=(UserSpec("kim-1a", items=12, images=2, wal_share=0.4), UserSpec("ned-4d", items=3)),
    seed=3,
    extras=("server_backups", "dot_entries"),
)
CORPUS = "py:tests.corpus.python_tempfile.migrate:migrate"

needs_namespace = pytest.mark.skipif(
    sandbox.probe() != Protection.NAMESPACE, reason=f"no mount namespace here: {sandbox.probe()}"
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    tree = tmp_path / "data"
    tree.mkdir()
    return tree


@needs_namespace
def test_a_write_outside_data_dir_is_named_and_did_not_happen(
    data_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "outside"
    outside.parent.mkdir()
    command = f"cmd:touch {outside}; touch {{data_dir}}/inside; echo done"
    result = parse_migrator(command).run(data_dir)

    assert not outside.exists()  # it did not happen
    assert (data_dir / "inside").exists()  # the tree is the migrator's to change
    assert result.ok and result.protection == Protection.NAMESPACE
    assert result.outside == (str(outside),)
    [verdict] = check_stayed_inside([result])
    assert not verdict.ok and verdict.rule == "contract" and verdict.damage == Damage.OUTSIDE
    assert f"wrote outside DATA_DIR: {outside}" in verdict.found


@needs_namespace
def test_renames_and_deletes_outside_are_refused_too(data_dir: Path, tmp_path: Path) -> None:
    """Not only new files: what exists outside can be neither moved nor removed."""
    kept = tmp_path / "kept.txt"
    kept.write_text("mine")
    command = f"cmd:mv {kept} {{data_dir}}/stolen; rm -f {kept}; true"
    result = parse_migrator(command).run(data_dir)
    assert kept.read_text() == "mine"  # (mv copied it into the tree, then could not remove it)
    assert str(kept) in result.outside


@needs_namespace
def test_a_python_migrator_writing_outside_is_named_from_its_error(
    data_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "lock"
    migrator = parse_migrator("py:tests.run.sandbox_migrators:writes_outside")
    result = migrator.run(data_dir, env={"OUTSIDE": str(outside)})
    assert not outside.exists()
    assert result.exit_status != 0 and result.outside == (str(outside),)


def test_a_private_tmpdir_is_writable_and_gone_afterwards(data_dir: Path) -> None:
    command = 'cmd:echo scratch > "$TMPDIR/f" && cat "$TMPDIR/f" && echo "$TMPDIR"'
    result = parse_migrator(command).run(data_dir)
    assert result.ok and not result.outside, result.output
    scratch, tmpdir = result.output.split()
    assert scratch == "scratch"
    assert tmpdir != os.environ.get("TMPDIR") and not Path(tmpdir).exists()


def test_detection_only_when_switched_off_names_what_really_happened(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the namespace the write happens: a listing beside the tree still names it."""
    monkeypatch.setenv(sandbox.SANDBOX_ENV, "off")
    beside = tmp_path / "beside.txt"
    result = parse_migrator(f"cmd:echo x > {beside}").run(data_dir)
    assert beside.exists()
    assert result.protection.startswith(Protection.DETECTION)
    assert str(beside) in result.outside


def test_detection_ignores_the_caches_runtimes_write(tmp_path: Path) -> None:
    before = sandbox.Listing.of([tmp_path], skip=[])
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"")
    (tmp_path / "real").write_text("x")
    assert before.changed(sandbox.Listing.of([tmp_path], skip=[])) == [str(tmp_path / "real")]


def test_detection_never_watches_a_folder_the_machine_shares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$HOME, /, /tmp and the temp dir are written in by everything else on the machine:
    listing one would name those writes as the migrator's."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    temp = Path(tempfile.gettempdir())
    assert sandbox.candidate_places(temp / "tree", str(home)) == []
    assert sandbox.candidate_places(Path("/tree"), "/") == []
    assert sandbox.candidate_places(Path("/tmp/tree"), "/tmp") == []
    mine = tmp_path / "work"
    assert sandbox.candidate_places(mine / "tree", str(home)) == [mine]


def test_detection_in_home_names_no_write_of_anything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from $HOME (cwd), detection only: a file that appears in $HOME meanwhile (here
    made by the command, standing in for any other program) is no "wrote outside DATA_DIR";
    the run's protection says what was watched instead."""
    monkeypatch.setenv(sandbox.SANDBOX_ENV, "off")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    data_dir = tmp_path / "trees" / "data"
    data_dir.mkdir(parents=True)
    result = parse_migrator("cmd:touch other-program.log", cwd=home).run(data_dir)
    assert result.ok and (home / "other-program.log").exists()
    assert result.outside == (), result.protection
    assert f"watched {tmp_path / 'trees'} (2 levels deep)" in result.protection
    assert str(home) not in result.protection


def test_detection_lists_a_bounded_number_of_entries(tmp_path: Path) -> None:
    """A place over the limit is not listed (said so); one that grows past it is named."""
    big, small = tmp_path / "big", tmp_path / "small"
    for folder, count in ((big, 9), (small, 3)):
        folder.mkdir()
        for n in range(count):
            (folder / f"f{n}").write_text("x")
    before = sandbox.Listing.of([big, small], skip=[], limit=5)
    assert before.places == (str(small),) and before.overfull == (str(big),)
    assert before.describe() == f"watched {small} (2 levels deep); not {big} (over 5 entries)"
    (big / "new").write_text("x")  # not watched: not named
    assert before.changed(sandbox.Listing.of(before.places, skip=[], limit=5)) == []
    for n in range(3):
        (small / f"g{n}").write_text("x")
    after = sandbox.Listing.of(before.places, skip=[], limit=5)
    assert before.changed(after) == [str(small)]


def test_an_injected_erofs_inside_the_tree_is_not_a_write_outside(data_dir: Path) -> None:
    output = f"OSError: [Errno 30] Read-only file system: '{data_dir}/kim/peek.db'\n"
    assert outside_paths(output, [str(data_dir)], None) == ()
    assert outside_paths("touch: cannot touch '/etc/x': Read-only file system", [], None) == (
        "/etc/x",
    )
    assert outside_paths("EROFS: read-only file system, open '/srv/a'", [], None) == ("/srv/a",)
    said = "kim: failed (io_error): OSError: Read-only file system (/srv/kim/x.migrating); retry"
    assert outside_paths(said, [], None) == ("/srv/kim/x.migrating",)
    assert outside_paths("sh: 1: cannot create /srv/b: Read-only file system", [], None) == (
        "/srv/b",
    )


@needs_namespace
def test_a_trial_reports_the_write_outside_as_its_finding(tree_factory, tmp_path: Path) -> None:
    outside = tmp_path / "x"
    trial = Trial(parse_migrator(f"cmd:touch {outside}"), tree_factory, tmp_path / "work")
    step = trial.migrate(trial.tree(TREE))
    with pytest.raises(RuleBroken) as caught:
        trial.judge(step, [])
    text = str(caught.value)
    assert f"wrote outside DATA_DIR: {outside}" in text
    assert "Sandbox" in text and Protection.NAMESPACE in text
    assert not outside.exists()


@needs_namespace
@pytest.mark.parametrize("spec", [DEFAULT_MIGRATOR, CORPUS], ids=["reference", "corpus"])
def test_correct_migrators_raise_no_false_alarm(make_tree, spec: str) -> None:
    """The reference and the corpus's migrator (tempfile, a lock file in DATA_DIR): whatever
    Python itself tries to write (bytecode caches) is not theirs to answer for."""
    tree, _ = make_tree(TREE)
    migrator = parse_migrator(spec)
    for dry_run in (True, False, False):
        result = migrator.run(tree, dry_run=dry_run)
        assert result.ok, result.output
        assert result.outside == () and result.protection == Protection.NAMESPACE


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
def test_node_writes_nothing_of_its_own_outside(data_dir: Path) -> None:
    script = "require('fs').writeFileSync(process.env.DATA_DIR + '/n', 'x')"
    result = parse_migrator(f'cmd:node -e "{script}"').run(data_dir)
    assert result.ok and result.outside == (), result.output
    assert (data_dir / "n").read_text() == "x"
