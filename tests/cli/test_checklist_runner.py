"""``migration-kit checklist`` with the migrators people have (issue 13): a relative path
run from the project folder, a migrator that cannot start, one that hangs, and a kit stopped
with SIGTERM while a migrator and its detached grandchild run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.run.sandbox import ALSO_WRITABLE_ENV
from tests.support.childrun import checklist_argv, run, signal_when

SMALL = ("-m", "small_db", "-n", "0")

# The reference migrator, started through a script the spec names by a relative path.
SCRIPT = """import os
from pathlib import Path

from migrator.server import migrate

migrate(Path(os.environ["DATA_DIR"]), dry_run=os.environ.get("MIGRATION_DRY_RUN") == "true")
"""

# Passes the preflight (an empty tree), then hangs on any tree with users: it starts a
# grandchild in a session of its own (out of the run's process group) and sleeps.
HANGS = (
    'ls "$DATA_DIR" | grep -qvx system.db || exit 0; '
    "setsid sh -c 'echo $$ >> {pids}; exec sleep 300' & echo $$ >> {pids}; echo hanging; "
    "sleep 300"
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_relative_cmd_path_works_from_the_project_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "server").mkdir(parents=True)
    (project / "server" / "migrate.py").write_text(SCRIPT)
    spec = f"cmd:{sys.executable} server/migrate.py"
    done = run(checklist_argv("--migrator", spec, *SMALL), cwd=project)
    assert done.returncode == 0, done
    assert "[x]  1. Test migration with small database (< 1MB)" in done.stdout
    # Progress, not a tty: plain lines on stderr with the test, the counts, the findings.
    progress = [line for line in done.stderr.splitlines() if line.startswith("checklist: ")]
    assert progress[0].startswith("checklist: 0 tests done") and "collection" in progress[0]
    assert progress[1].startswith("checklist: 0/1 tests done"), done.stderr
    assert "running test_small_users_are_migrated_whole" in progress[1]
    assert progress[-1].startswith("checklist: 1/1 tests done") and "0 findings" in progress[-1]
    assert "\r" not in done.stderr


def test_a_relative_cmd_path_that_is_not_there_is_said_once_exit_2(tmp_path: Path) -> None:
    done = run(checklist_argv("--migrator", "cmd:node server/migrate.js", *SMALL), cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr.count("the migrator could not start") == 1, done
    assert "Cannot find module" in done.stderr
    assert "Traceback" not in done.stderr and "R1" not in done.stdout + done.stderr
    assert "checklist" not in done.stdout  # before any scenario


@pytest.mark.parametrize("spec", ["cmd:./missing.sh", "py:os:getcwd"])
def test_a_migrator_that_cannot_start_exit_2_one_message(spec: str, tmp_path: Path) -> None:
    done = run(checklist_argv("--migrator", spec, *SMALL), cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr.count("the migrator could not start") == 1, done
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_hanging_migrator_is_a_verdict_at_the_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.touch()  # outside every tree: the sandbox leaves it open (ALSO_WRITABLE_ENV)
    spec = "cmd:" + HANGS.format(pids=pids)
    argv = checklist_argv("--migrator", spec, "--timeout", "2", *SMALL)
    done = run(argv, cwd=tmp_path, env={ALSO_WRITABLE_ENV: str(pids)})
    assert done.returncode == 1, done
    assert "the migrator did not finish in 2 s" in done.stdout, done
    assert "hanging" in done.stdout  # its last lines of output
    for pid in map(int, pids.read_text().split()):
        assert not alive(pid), pid


@pytest.mark.parametrize("option", ["-k", "-m"])
def test_a_selection_without_explorations_records_nothing(option: str, tmp_path: Path) -> None:
    """``-k``/``-m`` on one scenario: the explorer's fault-free recordings, which only its
    cases need, are not made at collection (a slow migrator made them cost minutes)."""
    marker, cache = tmp_path / "recorded", tmp_path / "cache"
    repo = Path(__file__).resolve().parents[2]
    spec = (
        f'cmd:case "$DATA_DIR" in *mk-explore-record-*) echo x >> {marker}; sleep 30;; esac; '
        f"cd {repo} && exec {sys.executable} -m migrator migrate"
    )
    done = run(
        checklist_argv("--migrator", spec, option, "small_db", "-n", "0"),
        cwd=tmp_path,
        env={"MIGRATION_KIT_CACHE": str(cache)},
    )
    assert done.returncode == 0, done
    assert "[x]  1. Test migration with small database (< 1MB)" in done.stdout
    assert not marker.exists(), marker.read_text()
    assert not [p for p in (cache / "explore").glob("*") if p.name != "locks"]


@pytest.mark.parametrize(
    ("command", "sig", "status", "said"),
    [
        ("checklist", signal.SIGTERM, 143, "terminated"),
        ("checklist", signal.SIGINT, 130, "interrupted"),
        ("explore", signal.SIGTERM, 143, "terminated"),  # while it records (under strace)
        ("rehearse", signal.SIGTERM, 143, "terminated"),
        ("rehearse", signal.SIGINT, 130, "interrupted"),
    ],
)
def test_a_stopped_kit_ends_every_process_and_scratch_folder(
    command: str, sig: int, status: int, said: str, tmp_path: Path, make_tree
) -> None:
    pids, scratch = tmp_path / "pids", tmp_path / "scratch"
    scratch.mkdir()
    spec = "cmd:" + HANGS.format(pids=pids)
    kit = [sys.executable, "-m", "harness.cli.main"]
    if command == "checklist":
        argv = [*kit, "checklist", "--migrator", spec, *SMALL]
    elif command == "explore":
        argv = [*kit, "explore", "--migrator", spec, "--effects", "kill"]
    else:
        from fixtures.spec import TreeSpec, UserSpec

        tree, _ = make_tree(TreeSpec(users=(UserSpec("u1", items=3, images=1),)))
        argv = [*kit, "rehearse", str(tree), "--migrator", spec, "--scratch", str(scratch)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["TMPDIR"] = str(scratch)  # every scratch folder the kit and its children make
    pids.touch()
    env[ALSO_WRITABLE_ENV] = str(pids)  # outside every tree: the sandbox leaves it open
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = signal_when(proc, lambda: len(pids.read_text().split()) == 2, sig, what="migrator")
    assert proc.returncode == status, (out, err)
    assert f"migration-kit: {said}" in err and "Traceback" not in err
    started = [int(p) for p in pids.read_text().split()]
    time.sleep(0.2)
    assert [p for p in started if alive(p)] == []
    leftovers = [p for p in scratch.iterdir() if not p.name.startswith("pytest-of-")]
    assert leftovers == []
