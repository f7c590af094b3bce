"""R18, the app after the move: ``--after-check SPEC`` runs after every successful migration
on a copy of the migrated tree, and its failure, timeout, JSON error event or ``--fail-line``
match is an R18 finding; its chatter (stderr, "0 errors") is not."""

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
from harness.scenario.aftercheck import NO_FAIL_LINE, AfterCheckSpecError, parse_after_check

TREE = TreeSpec(users=(UserSpec("alice", items=20, images=1), UserSpec("bob", items=10)))
# The daily backup of the Peek server after the seed's migration: it still looks for
# <user>/peek.db and says so on stderr; as a check script it exits 1 when a user is missing.
OLD_PATH_BACKUP = (
    'cmd:bad=0; for d in "$DATA_DIR"/*/; do u=$(basename "$d"); [ -f "$d/peek.db" ] || '
    '{ echo "No database found for user $u, skipping backup" >&2; bad=1; }; done; exit $bad'
)
NEW_PATH_BACKUP = (
    'cmd:bad=0; for d in "$DATA_DIR"/*/; do u=$(basename "$d"); '
    '[ -f "$d/profiles/default/datastore.sqlite" ] || '
    '{ echo "No database found for user $u, skipping backup" >&2; bad=1; }; done; exit $bad'
)
# The same backup as a server that warns and serves on (exit 0), as the Peek server does: only
# the user's --fail-line says that warning is a failure.
OLD_PATH_SERVER = (
    'for d in "$DATA_DIR"/*/; do u=$(basename "$d"); [ -f "$d/peek.db" ] || '
    'echo "No database found for user $u, skipping backup" >&2; done; echo serving; exit 0'
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
        (_run("", status=-9), False),  # a crash
        (_run("", timed_out=True), False),
        (_run('{"level": "error", "msg": "no db"}\n'), False),
        (_run('{"levelname": "CRITICAL", "msg": "x"}\n'), False),
        (_run('{"severity": "fatal"}\n', stderr='{"severity": "fatal"}\n'), False),
        # A working app's chatter: not a failure (a false R18 is as bad as a missed one).
        (_run("warn: disk slow\n", stderr="warn: disk slow\n"), True),
        (_run("checked 3 users, 0 errors, no failures\n"), True),
        (_run("Failed to open cache, using memory\n"), True),
        (_run('{"level": "info", "msg": "0 errors"}\n'), True),
        (_run("Error: x\n", stderr="Error: x\n", status=2), False),
    ],
)
def test_what_counts_as_the_app_failing(run: RunResult, ok: bool) -> None:
    (verdict,) = check_r18(run, spec="cmd:app")
    assert verdict.ok is ok
    assert verdict.rule == "R18"


def test_a_json_error_event_is_quoted_as_evidence() -> None:
    event = '{"level": "error", "msg": "no datastore for alice"}'
    (verdict,) = check_r18(_run(f"started\n{event}\nserving\n"), spec="cmd:app")
    assert not verdict.ok and verdict.evidence == (event,)
    assert "1 JSON error event(s)" in verdict.found


def test_a_warning_on_stderr_passes(tmp_path: Path) -> None:
    """A correct app that warns on stderr and exits 0 passes R18."""
    warns = 'cmd:echo "warning: cache is cold" >&2; echo "checked 2 users, 0 errors"; exit 0'
    trial = _trial(tmp_path, warns)
    verdicts = trial.judge(trial.migrate(trial.tree(TREE)))
    assert [(v.rule, v.ok) for v in verdicts] == [("R18", True)]


def test_a_serve_check_fails_on_its_fail_line_only(tmp_path: Path) -> None:
    """A server that warns and serves on: no finding by itself, an R18 finding with the
    user's ``--fail-line``, quoting the line that matched."""
    for fail_line, ok in ((None, True), ("No database found", False)):
        flags = f"--fail-line '{fail_line}' " if fail_line else ""
        check = f"serve:{flags}-- {OLD_PATH_SERVER}"
        trial = _trial(tmp_path / str(ok), check)
        step = trial.migrate(trial.tree(TREE))
        if ok:
            assert [(v.rule, v.ok) for v in trial.judge(step)] == [("R18", True)]
            continue
        with pytest.raises(RuleBroken) as caught:
            trial.judge(step)
        (broken,) = [v for v in caught.value.verdicts if not v.ok]
        assert broken.rule == "R18" and "exit status 1" in broken.found
        assert any("No database found for user" in e for e in broken.evidence)


def test_a_serve_check_takes_the_migrators_readiness(tmp_path: Path) -> None:
    migrator = parse_migrator("serve:--ready-line 'ready on' -- node server.js")
    check = parse_after_check("serve:node server.js", like=migrator)
    assert isinstance(check, ServeMigrator) and check.options.ready_line == "ready on"
    own = parse_after_check("serve:--ready-port 8080 -- node server.js", like=migrator)
    assert isinstance(own, ServeMigrator) and own.options.ready_line is None
    # its own --fail-line stands beside the migrator's readiness; else the migrator's given
    # one; else none at all (the launcher's default words are not the app failing)
    fails = parse_after_check("serve:--fail-line 'No db' -- node server.js", like=migrator)
    assert isinstance(fails, ServeMigrator)
    assert (fails.options.ready_line, fails.options.fail_line) == ("ready on", "No db")
    assert isinstance(check, ServeMigrator) and check.options.fail_line == NO_FAIL_LINE
    given = parse_migrator("serve:--ready-line 'ready on' --fail-line '^FATAL' -- node s.js")
    inherited = parse_after_check("serve:node s.js", like=given)
    assert isinstance(inherited, ServeMigrator) and inherited.options.fail_line == "^FATAL"
    again = parse_after_check(check.spec, like=migrator)
    assert again == check  # the spec a report prints reads back as the same check
    assert parse_after_check(None) is None and parse_after_check("  ") is None


def test_a_bad_check_is_a_usage_error_naming_the_option() -> None:
    with pytest.raises(AfterCheckSpecError, match="--after-check: unknown after-check 'node x'"):
        parse_after_check("node x")
