"""A run ends on time and leaves nothing running; a migrator runs in its own directory; a
migrator that cannot start is told apart from one that breaks a rule (issue 13)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from harness.run.adapters import MigratorSpecError, parse_migrator
from harness.scenario.preflight import MigratorCannotStart, preflight


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def detach(pid_file: Path) -> str:
    """Shell that starts a grandchild in a session of its own (out of the run's process
    group), holding the run's output pipe, its pid written to ``pid_file``."""
    return f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 300' &"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper that is not ours does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for_pid(pid_file: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = pid_file.read_text().strip() if pid_file.exists() else ""
        if text:
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{pid_file} never written")


def test_a_detached_child_holding_the_pipe_neither_holds_the_run_nor_outlives_it(
    data_dir: Path, tmp_path: Path
) -> None:
    pid_file = data_dir / "grandchild.pid"  # in the tree: the sandbox keeps the rest read-only
    start = time.monotonic()
    result = parse_migrator(f"cmd:{detach(pid_file)} echo started").run(data_dir, timeout=60)
    assert time.monotonic() - start < 10
    assert result.ok and result.output == "started\n"
    assert not alive(wait_for_pid(pid_file))


def test_the_timeout_ends_a_run_whose_detached_child_holds_the_pipe(
    data_dir: Path, tmp_path: Path
) -> None:
    pid_file = data_dir / "grandchild.pid"
    migrator = parse_migrator(f"cmd:{detach(pid_file)} echo waiting; sleep 300", timeout=1)
    start = time.monotonic()
    result = migrator.run(data_dir)
    took = time.monotonic() - start
    assert result.timed_out and not result.ok
    assert 1 <= took < 8, took
    assert result.describe() == "the migrator did not finish in 1 s (killed)"
    assert result.tail() == "waiting"
    assert not alive(wait_for_pid(pid_file))


def test_a_relative_command_runs_in_the_migrators_directory(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "server").mkdir(parents=True)
    (project / "server" / "migrate.sh").write_text('echo "ran in $(pwd)"\n')
    spec = "cmd:sh server/migrate.sh"
    assert parse_migrator(spec, cwd=project).run(data_dir).output == f"ran in {project}\n"
    monkeypatch.chdir(project)  # the default: where the kit was started
    migrator = parse_migrator(spec)
    monkeypatch.chdir(tmp_path)
    result = migrator.run(data_dir)
    assert result.ok and result.output == f"ran in {project}\n"
    assert result.replay.startswith(f"cd {project} && ")


def test_a_py_module_beside_the_project_imports_without_pythonpath(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "projmig_w2.py").write_text(
        "import os\n\ndef migrate(data_dir, *, dry_run=False):\n    print(os.getcwd())\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))  # parse_migrator adds the project
    monkeypatch.delitem(sys.modules, "projmig_w2", raising=False)
    monkeypatch.chdir(project)
    result = parse_migrator("py:projmig_w2:migrate").run(data_dir)
    assert result.ok, result.output
    assert result.output == f"{project}\n"


@pytest.mark.parametrize("spec", ["py:os:getcwd", "py:no_such_module_w2:migrate"])
def test_a_py_target_that_cannot_be_a_migrator_is_refused(spec: str) -> None:
    with pytest.raises(MigratorSpecError, match="the migrator could not start"):
        parse_migrator(spec)


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("cmd:./no-such-migrator.sh", "exit status 127"),
        ("cmd:sh -c 'exit 126'", "exit status 126"),
        (f"cmd:{sys.executable} no_such_file.py", "No such file"),
    ],
)
def test_a_migrator_that_cannot_start_is_said_once_with_its_output(
    spec: str, said: str, tmp_path: Path
) -> None:
    with pytest.raises(MigratorCannotStart) as caught:
        preflight(parse_migrator(spec, cwd=tmp_path))
    message = str(caught.value)
    assert message.startswith("the migrator could not start (")
    assert said in message and f"run in:   {tmp_path}" in message


def test_a_migrator_that_hangs_on_an_empty_tree_is_said_once(tmp_path: Path) -> None:
    with pytest.raises(MigratorCannotStart, match=r"did not finish in 0\.5 s"):
        preflight(parse_migrator("cmd:sleep 300", timeout=0.5))


def test_the_reference_migrator_passes_the_preflight() -> None:
    assert preflight(parse_migrator(None)).ok


def test_the_timeout_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(MigratorSpecError, match="timeout"):
            parse_migrator("cmd:true", timeout=bad)
