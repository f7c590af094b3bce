"""Adapters follow SPEC's external contract and record what a run did."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run.adapters import (
    CommandMigrator,
    MigratorSpecError,
    PythonMigrator,
    parse_migrator,
    run_together,
)

# Prints the contract's variables as the child sees them, one per line.
SHOW_ENV = (
    'echo "DATA_DIR=$DATA_DIR"; '
    'echo "DRY=${MIGRATION_DRY_RUN-unset}"; '
    'echo "GRACE=${MIGRATION_BACKUP_GRACE_DAYS-unset}"'
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data dir"  # a space: {data_dir} must arrive as one argument
    d.mkdir()
    return d


def test_command_gets_the_contract_environment(data_dir, monkeypatch):
    # Left in a developer's shell, these must not leak into a real run.
    monkeypatch.setenv("MIGRATION_DRY_RUN", "true")
    monkeypatch.setenv("MIGRATION_BACKUP_GRACE_DAYS", "1")
    monkeypatch.chdir(data_dir.parent)
    result = parse_migrator(f"cmd:{SHOW_ENV}").run(Path(data_dir.name))
    assert result.output.splitlines() == [f"DATA_DIR={data_dir}", "DRY=unset", "GRACE=unset"]
    assert result.ok


def test_dry_run_and_grace_days_are_set_only_when_asked(data_dir):
    result = parse_migrator(f"cmd:{SHOW_ENV}").run(data_dir, dry_run=True, grace_days=0.5)
    assert result.output.splitlines()[1:] == ["DRY=true", "GRACE=0.5"]
    assert result.dry_run


def test_data_dir_placeholder_is_replaced_shell_quoted(data_dir):
    result = parse_migrator('cmd:touch {data_dir}/marker && printf "%s\\n" {data_dir}').run(
        data_dir
    )
    assert (data_dir / "marker").exists()
    assert result.output == f"{data_dir}\n"


def test_exit_status_and_interleaved_output(data_dir):
    result = parse_migrator("cmd:echo one; echo two >&2; echo three; exit 3").run(data_dir)
    assert result.exit_status == 3
    assert not result.ok
    assert result.output == "one\ntwo\nthree\n"


def test_a_hanging_migrator_is_killed_at_the_timeout(data_dir):
    result = parse_migrator("cmd:sleep 60").run(data_dir, timeout=0.3)
    assert result.timed_out
    assert result.exit_status < 0
    assert not result.ok


def test_peak_rss_is_the_migrators_not_the_harnesss(data_dir):
    """The child's ru_maxrss starts at its forker's RSS: a launcher keeps it honest."""
    ballast = bytearray(160 << 20)
    ballast[:: 1 << 12] = b"x" * len(ballast[:: 1 << 12])  # touch every page
    small = parse_migrator("cmd:true").run(data_dir)
    grow = f"{sys.executable} -c 'b = bytearray(96 << 20); b[::4096] = b\"x\" * len(b[::4096])'"
    big = parse_migrator(f"cmd:{grow}").run(data_dir)
    del ballast
    assert small.peak_rss_bytes is not None and small.peak_rss_bytes < 64 << 20
    assert big.peak_rss_bytes is not None and big.peak_rss_bytes >= 96 << 20


def test_python_callable_runs_in_a_child_with_the_contract(data_dir):
    migrator = parse_migrator("py:tests.run.toy_migrator_probe:record")
    assert isinstance(migrator, PythonMigrator) and not migrator.inprocess
    result = migrator.run(data_dir, dry_run=True, grace_days=2)
    assert result.ok, result.output
    assert f"data_dir={data_dir} dry_run=True grace_days=2.0\n" in result.output
    assert f"pid={os.getpid()}\n" not in result.output
    assert "INFO toy_migrator_probe: logged" in result.output  # log records are output
    assert result.peak_rss_bytes is not None


def test_python_callable_that_raises_exits_1_with_the_error(data_dir):
    result = parse_migrator("py:tests.run.toy_migrator_probe:fail").run(data_dir)
    assert result.exit_status == 1
    assert "RuntimeError: no space left for alice" in result.output


def test_in_process_run_captures_output_and_failure(data_dir):
    ok = parse_migrator("py:tests.run.toy_migrator_probe:record", inprocess=True).run(
        data_dir, dry_run=True, grace_days=2
    )
    assert ok.ok and ok.peak_rss_bytes is None
    assert f"data_dir={data_dir} dry_run=True grace_days=2.0\npid={os.getpid()}\n" in ok.output
    assert "INFO toy_migrator_probe: logged" in ok.output
    failed = parse_migrator("py:tests.run.toy_migrator_probe:fail", inprocess=True).run(data_dir)
    assert failed.exit_status == 1
    assert "no space left for alice" in failed.output


@pytest.mark.parametrize(
    "spec",
    ['cmd:touch "$DATA_DIR/marker-$MIGRATION_DRY_RUN"', "py:tests.run.toy_migrator_probe:touch"],
)
def test_replay_line_repeats_the_run(data_dir, spec):
    result = parse_migrator(spec).run(data_dir, dry_run=True)
    (marker,) = data_dir.iterdir()
    marker.unlink()
    subprocess.run(result.replay, shell=True, check=True, cwd="/")
    assert [p.name for p in data_dir.iterdir()] == [marker.name]
    assert "\n" not in result.replay


@pytest.mark.parametrize(
    "spec",
    ["", "foo", "python:x:y", "cmd:", "py:", "py:no_colon", "py:no_such_module_xyz:f"],
)
def test_a_bad_spec_names_what_is_accepted(spec):
    with pytest.raises(MigratorSpecError, match=re.escape("py:package.module:function")):
        parse_migrator(spec)


def test_missing_function_is_a_spec_error():
    with pytest.raises(MigratorSpecError, match="has no attribute 'nope'"):
        parse_migrator("py:tests.run.toy_migrator_probe:nope")


def test_default_is_the_reference_migrator():
    pytest.importorskip("migrator.server")
    assert parse_migrator(None).spec == "py:migrator.server:migrate"


def test_contract_variables_cannot_sneak_in_through_env(data_dir):
    with pytest.raises(ValueError, match="dry_run="):
        CommandMigrator("true").run(data_dir, env={"MIGRATION_DRY_RUN": "true"})


def test_extra_env_reaches_the_child(data_dir):
    result = CommandMigrator('echo "$FAULT_PLAN"').run(data_dir, env={"FAULT_PLAN": "eio@3"})
    assert result.output == "eio@3\n"


def test_run_together_overlaps_the_processes(data_dir):
    """Each run waits until the other has started: only true overlap lets both finish."""
    handshake = (
        "touch {data_dir}/$0-started; "
        "while [ $(ls {data_dir} | grep -c started) -lt 2 ]; do sleep 0.01; done; echo $0"
    )
    pair = [CommandMigrator(handshake.replace("$0", name)) for name in "ab"]
    first, second = run_together(pair, data_dir, timeout=30)
    assert (first.output, second.output) == ("a\n", "b\n")
    assert first.ok and second.ok
