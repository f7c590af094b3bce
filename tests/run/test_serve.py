"""``serve:`` migrators: the launcher's readiness (a line, a port, the exit), its verdicts, no
process left behind, and the spec's options travelling as one string."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.run import serve
from harness.run.adapters import MigratorSpecError, ServeMigrator, parse_migrator

LAUNCHER = [sys.executable, "-I", "-S", "-B", serve.__file__]

# A server in Python: prints its pid to $PIDFILE, its PORT, then what argv says.
SERVER = r"""
import os, socket, sys, time
open(os.environ["PIDFILE"], "w").write(str(os.getpid()))
mode = sys.argv[1]
if mode == "deaf":  # ignores SIGTERM and never gets ready
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("migrating...", flush=True)
    time.sleep(300)
if mode == "exit":
    print("migrated", flush=True)
    sys.exit(int(sys.argv[2]))
if mode == "complain":
    print("user bob: error: disk full", file=sys.stderr, flush=True)
if mode == "port":
    time.sleep(0.3)  # not ready at once: the launcher must wait for the port
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(os.environ["PORT"])))
    sock.listen()
print(f"listening on {os.environ['PORT']}", flush=True)
time.sleep(300)
"""


def launch(
    tmp_path: Path, *options: str, mode: str = "line", extra: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], int]:
    """The launcher on the Python server above: the finished run and the server's pid."""
    pidfile = tmp_path / "pid"
    argv = [*LAUNCHER, *options, "--", sys.executable, "-c", SERVER, mode, *extra]
    env = {**os.environ, "PIDFILE": str(pidfile)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    return done, int(pidfile.read_text())


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: nothing reaps orphans in some containers)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_ready_by_a_line_of_output(tmp_path: Path) -> None:
    done, pid = launch(tmp_path, "--ready-line", r"^listening on \d+")
    assert done.returncode == serve.EXIT_READY, done.stderr
    assert "listening on" in done.stdout  # relayed
    assert not alive(pid)


def test_ready_by_a_port_that_accepts(tmp_path: Path) -> None:
    started = time.monotonic()
    done, pid = launch(tmp_path, "--ready-port", "auto", mode="port")
    assert done.returncode == serve.EXIT_READY, done.stderr
    assert time.monotonic() - started >= 0.3  # waited for the listen, not the first poll
    assert not alive(pid)


def test_a_port_already_taken_is_refused_before_the_server_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [*LAUNCHER, "--ready-port", str(port), "--", "true"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == serve.EXIT_USAGE
    assert f"port {port} already accepts connections" in done.stderr


@pytest.mark.parametrize(("status", "verdict"), [(0, serve.EXIT_READY), (3, serve.EXIT_FAILED)])
def test_ready_by_its_own_exit(tmp_path: Path, status: int, verdict: int) -> None:
    done, _ = launch(tmp_path, "--ready-line", "never printed", mode="exit", extra=(str(status),))
    assert done.returncode == verdict, done.stderr
    if status:
        assert "exited with status 3 before it was ready" in done.stderr


def test_a_failure_line_fails_the_run(tmp_path: Path) -> None:
    done, _ = launch(tmp_path, "--ready-line", "listening on", mode="complain")
    assert done.returncode == serve.EXIT_FAILED
    assert "user bob: error: disk full" in done.stderr  # relayed, and named in the verdict
    assert done.stderr.strip().splitlines()[-1].startswith("migration-kit serve: a line matched")


def test_the_failure_pattern_is_the_users(tmp_path: Path) -> None:
    options = ("--ready-line", "listening on", "--fail-line", "^FATAL")
    done, _ = launch(tmp_path, *options, mode="complain")
    assert done.returncode == serve.EXIT_READY, done.stderr


def test_never_ready_ends_at_the_timeout_and_leaves_nothing(tmp_path: Path) -> None:
    options = ("--ready-line", "never", "--ready-timeout", "1", "--stop-grace", "0.5")
    started = time.monotonic()
    done, pid = launch(tmp_path, *options, mode="deaf")
    assert done.returncode == serve.EXIT_NOT_READY
    assert time.monotonic() - started < 20
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "migration-kit serve: not ready after 1 s (waited for a line matching 'never' or "
        "its exit); stopped it"
    )
    assert not alive(pid)  # it ignored SIGTERM: the SIGKILL after the grace got it


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_the_launcher_killed_takes_the_server_with_it(tmp_path: Path, signum: int) -> None:
    pidfile = tmp_path / "pid"
    argv = [*LAUNCHER, "--ready-line", "never", "--", sys.executable, "-c", SERVER, "deaf"]
    proc = subprocess.Popen(
        argv, env={**os.environ, "PIDFILE": str(pidfile)}, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline, "the server never started"
        time.sleep(0.05)
    proc.send_signal(signum)
    proc.wait(30)
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


# ---------------------------------------------------------------------------------------------
# The spec.


def test_options_travel_in_the_spec() -> None:
    spec = serve.fold_spec("serve:node server.js", {"ready_line": "ready on", "fail_line": "x"})
    assert spec == "serve:--ready-line 'ready on' --fail-line x -- node server.js"
    migrator = parse_migrator(spec)
    assert isinstance(migrator, ServeMigrator)
    assert migrator.command == "node server.js"
    assert migrator.options == serve.ServeOptions(ready_line="ready on", fail_line="x")
    assert migrator.spec == spec  # what replays and child pytests are given
    assert serve.fold_spec(spec, {"ready_line": "other"}).startswith("serve:--ready-line other")
    assert parse_migrator("serve:node server.js").spec == "serve:node server.js"


@pytest.mark.parametrize(
    ("spec", "given", "message"),
    [
        ("cmd:node migrate.js", {"ready_line": "x"}, "only for a 'serve:<command>' migrator"),
        ("serve:node s.js", {"ready_line": "("}, "not a regex"),
        ("serve:node s.js", {"ready_port": "http"}, "a port number"),
        ("serve:node s.js", {"ready_timeout": "soon"}, "not a number"),
        ("serve:--ready-line x node s.js", {}, "must end with ' -- COMMAND'"),
        ("serve:--colour red -- node s.js", {}, "unrecognized arguments"),
    ],
)
def test_bad_serve_options_are_usage_errors(spec: str, given: dict, message: str) -> None:
    with pytest.raises((serve.ServeSpecError, MigratorSpecError), match=message):
        parse_migrator(serve.fold_spec(spec, given))


def test_a_serve_migrator_runs_and_its_timeout_is_the_launchers(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    code = "import os, time; print('ready', os.environ['DATA_DIR'], flush=True); time.sleep(60)"
    migrator = parse_migrator(f"serve:--ready-line ready -- {sys.executable} -c {code!r}")
    run = migrator.run(tmp_path / "data", timeout=60)
    assert run.ok, run.output
    assert f"ready {tmp_path / 'data'}" in run.output
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)'"
    deaf = parse_migrator(f"serve:--ready-line never -- {sleeper}")
    run = deaf.run(tmp_path / "data", timeout=7)  # 7 s - the grace 5 s - margin 5 s: 1 s
    assert run.exit_status == serve.EXIT_NOT_READY and not run.timed_out
    assert "not ready after 1 s" in run.output


def test_the_cli_refuses_serve_options_without_a_serve_migrator(capsys) -> None:
    from harness.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(["checklist", "--migrator", "cmd:true", "--ready-line", "x"])
    assert stop.value.code == 2
    assert "only for a 'serve:<command>' migrator" in capsys.readouterr().err
