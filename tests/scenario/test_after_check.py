"""R18, the app after the move: ``--after-check SPEC`` runs after every successful migration
on a copy of the migrated tree, and its failure, timeout or error line is an R18 finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.factory import TreeFactory
from fixtures.spec import TreeSpec, UserSpec
from harness.judge.oracles import check_r18
from harness.judge.verdict import Damage, RuleBroken
from harness.report.findings import Observation, Source, fold
from harness.run.adapters import ServeMigrator, parse_migrator
from harness.run.process import RunResult
from harness.scenario import Trial
from harness.scenario.aftercheck import AfterCheckSpecError, parse_after_check

TREE = TreeSpec(users=(UserSpec("alice", items=20, images=1), UserSpec("bob", items=10)))
# The daily backup of the Peek server after the seed's migration: it still looks for
# <user>/peek.db and says so on stderr, then goes on serving (exit 0).
OLD_PATH_BACKUP = (
    'cmd:for d in "$DATA_DIR"/*/; do u=$(basename "$d"); [ -f "$d/peek.db" ] || '
    'echo "No database found for user $u, skipping backup" >&2; done; exit 0'
)
NEW_PATH_BACKUP = (
    'cmd:for d in "$DATA_DIR"/*/; do u=$(basename "$d"); '
    '[ -f "$d/profiles/default/datastore.sqlite" ] || '
    'echo "No database found for user $u, skipping backup" >&2; done; exit 0'
)


def _trial(tmp_path: Path, check: str | None, migrator: str | None = None) -> Trial:
    return Trial(
        parse_migrator(migrator),
        TreeFactory(),
        tmp_path,
        after_check=parse_after_check(check) if check else None,
    )


def test_an_app_that_reads_the_old_path_is_an_r18_finding(tmp_path: Path) -> None:
    trial = _trial(tmp_path, OLD_PATH_BACKUP)
    step = trial.migrate(trial.tree(TREE))
    assert step.checked is not None and step.check == OLD_PATH_BACKUP
    with pytest.raises(RuleBroken) as caught:
        trial.judge(step)
    broken = [v for v in caught.value.verdicts if not v.ok]
    assert [v.rule for v in broken] == ["R18"]
    text = str(caught.value)
    assert "No database found for user alice, skipping backup" in text
    assert OLD_PATH_BACKUP in text  # the check's command
    finding = fold([Observation("scenario x", Source.SCENARIO, tuple(broken))])
    assert len(finding) == 1 and finding[0].key.damage == Damage.APP_FAILS


def test_an_app_that_reads_the_new_path_passes(tmp_path: Path) -> None:
    trial = _trial(tmp_path, NEW_PATH_BACKUP)
    step = trial.migrate(trial.tree(TREE))
    verdicts = trial.judge(step)
    assert [v.rule for v in verdicts] == ["R18"] and verdicts[0].ok


def test_the_check_runs_on_a_copy_after_the_snapshots(tmp_path: Path) -> None:
    """The check is the app and may write: neither the tree nor the verdicts see it."""
    writes = 'cmd:echo app > "$DATA_DIR/app-was-here"; rm -rf "$DATA_DIR/alice"'
    trial = _trial(tmp_path, writes)
    tree = trial.tree(TREE)
    step = trial.migrate(tree)
    assert step.checked is not None and step.checked.ok
    assert (tree.path / "alice").is_dir() and not (tree.path / "app-was-here").exists()
    assert "app-was-here" not in step.after.entries


def test_no_check_after_a_dry_run_or_a_failed_migration(tmp_path: Path) -> None:
    trial = _trial(tmp_path, "cmd:exit 3")
    tree = trial.tree(TREE)
    assert trial.migrate(tree, dry_run=True).checked is None
    failed = trial.migrate(tree, migrator=parse_migrator("cmd:exit 1"))
    assert failed.checked is None


def _run(output: str, *, status: int = 0, stderr: str = "", timed_out: bool = False):
    return RunResult(status, output, 0.1, None, "c", "r", stderr=stderr, timed_out=timed_out)


@pytest.mark.parametrize(
    ("run", "ok"),
    [
        (_run("[backup] alice: backed up\nserving\n"), True),
        (_run("all good\n", status=1), False),
        (_run("", timed_out=True), False),
        (_run("warn: disk slow\n", stderr="warn: disk slow\n"), False),  # a stderr line
        (_run("Failed to open datastore\n"), False),
        (_run('{"level": "error", "msg": "no db"}\n'), False),
    ],
)
def test_what_counts_as_the_app_failing(run: RunResult, ok: bool) -> None:
    (verdict,) = check_r18(run, spec="cmd:app")
    assert verdict.ok is ok
    assert verdict.rule == "R18"


def test_a_serve_check_takes_the_migrators_readiness(tmp_path: Path) -> None:
    migrator = parse_migrator("serve:--ready-line 'ready on' -- node server.js")
    check = parse_after_check("serve:node server.js", like=migrator)
    assert isinstance(check, ServeMigrator) and check.options.ready_line == "ready on"
    own = parse_after_check("serve:--ready-port 8080 -- node server.js", like=migrator)
    assert isinstance(own, ServeMigrator) and own.options.ready_line is None
    assert parse_after_check(None) is None and parse_after_check("  ") is None


def test_a_bad_check_is_a_usage_error_naming_the_option() -> None:
    with pytest.raises(AfterCheckSpecError, match="--after-check: unknown after-check 'node x'"):
        parse_after_check("node x")
