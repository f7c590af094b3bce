"""Run a server whose start-up is the migration, as a migrator: ``serve:<command>``.

A real server (the Peek server, ``node index.js``) migrates its data dir at start-up, then
listens and never exits, and it exits 0 whatever happened to a user. To judge it, the kit
starts it through this launcher::

    python -m harness.run.serve [--ready-line REGEX | --ready-port PORT] [--fail-line REGEX]
                                [--ready-timeout S] [--stop-grace S] -- COMMAND [ARG...]

which starts COMMAND in a process group of its own, relays its stdout and stderr as they
come, and decides that the migration is over at the first of: a line of output matching
``--ready-line``, the port ``--ready-port`` accepting a connection on the loopback, or the
server's own exit. It then stops the group (SIGTERM, ``--stop-grace`` seconds, SIGKILL) and
exits with the migration's verdict:

- 0: ready (or exited 0 by itself) and no line of output matched ``--fail-line``;
- 1: a line matched ``--fail-line`` (the server's way of saying a user failed), or the
  server exited non-zero before it was ready;
- the signal, re-raised: the server was killed (``kill -9``, a fault injector) before ready;
- 2: it could not start (bad option, the port already taken by another process);
- 124 (as ``timeout(1)``): it never became ready within ``--ready-timeout`` seconds.

Every verdict but 0 ends with one line on stderr starting ``migration-kit serve:``.

``PORT`` is set for the server: the ``--ready-port`` number, or a free loopback port
(``--ready-port auto``, and when no port is asked for), so that servers run side by side
(xdist workers, SPEC R15's two processes) do not fight over one port. Everything else,
``DATA_DIR`` and the dry-run switch included, is inherited.

No process is left behind: on SIGTERM, SIGINT or SIGHUP the launcher stops the group before
it exits, and a watchdog in the server's group kills the group if the launcher itself dies
(SIGKILL at a timeout), since that group is not the launcher's and would outlive it.

This module is also the spec's parser (:class:`ServeOptions`, :func:`split_spec`,
:func:`fold_spec`) and holds the options' one definition (:data:`OPTIONS`, used by the
``migration-kit`` commands and the pytest plugin). It imports nothing but the standard
library: the launcher runs as a script (``python -I -S path/serve.py``), and the commands'
parsers import it at start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PREFIX = "serve:"
# The default failure pattern: a line saying error, fail(ed|ure) or critical, as SPEC's
# external contract counts a user "reported". A server's per-user error lines say that.
DEFAULT_FAIL_LINE = r"(?i)\b(error|fail(ed|ure)?|critical)\b"
DEFAULT_READY_TIMEOUT = 100.0  # below the explorer's 120 s per run, so the verdict is ours
DEFAULT_STOP_GRACE = 5.0
AUTO_PORT = "auto"

EXIT_READY, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_READY = 0, 1, 2, 124
_POLL_SECONDS = 0.05
_DRAIN_SECONDS = 2.0  # how long to wait for output once the group is gone
_MAX_LINE = 1 << 20
# How each of the launcher's own lines starts (its verdict but 0; R18 quotes it).
SERVE_SAYS = "migration-kit serve:"
_SAY = SERVE_SAYS


class ServeSpecError(ValueError):
    """A ``serve:`` spec or option that names no runnable server."""


@dataclass(frozen=True)
class ServeOptions:
    """How to tell that a server's start-up migration is over, and whether it failed."""

    ready_line: str | None = None
    ready_port: str | None = None  # a port number, or "auto"
    fail_line: str = DEFAULT_FAIL_LINE
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    stop_grace: float = DEFAULT_STOP_GRACE

    def __post_init__(self) -> None:
        for name in ("ready_line", "fail_line"):
            pattern = getattr(self, name)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ServeSpecError(f"--{_flag(name)} {pattern!r}: not a regex ({exc})") from None
        port = self.ready_port
        if port not in (None, AUTO_PORT) and not (port.isdigit() and 0 < int(port) < 65536):
            raise ServeSpecError(f"--ready-port {port!r}: a port number (1-65535) or '{AUTO_PORT}'")
        for name in ("ready_timeout", "stop_grace"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ServeSpecError(f"--{_flag(name)} {value!r}: a number of seconds above 0")

    def argv(self) -> list[str]:
        """The launcher options that differ from the defaults, in a fixed order."""
        out: list[str] = []
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value != item.default:
                text = f"{value:g}" if isinstance(value, float) else str(value)
                out += [f"--{_flag(item.name)}", text]
        return out

    def describe_ready(self) -> str:
        """What readiness is waited for, in words."""
        waits = []
        if self.ready_line is not None:
            waits.append(f"a line matching {self.ready_line!r}")
        if self.ready_port is not None:
            waits.append(f"port {self.ready_port} accepting connections")
        return " or ".join([*waits, "its exit"])


def _flag(name: str) -> str:
    return name.replace("_", "-")


# The options' one definition: (name, metavar, type, help). The migration-kit commands and
# the pytest plugin add them as --ready-line etc., with dest "mk_<name>" and default None
# (None: not given, so a value written in the spec itself stands).
OPTIONS: tuple[tuple[str, str, type, str], ...] = (
    (
        "ready_line",
        "REGEX",
        str,
        "serve: migrators: the migration is over at the first line of output matching REGEX "
        "(e.g. 'Server running on')",
    ),
    (
        "ready_port",
        "PORT",
        str,
        "serve: migrators: the migration is over when PORT accepts a connection on the "
        f"loopback; PORT is also set in the server's environment ('{AUTO_PORT}': a free port)",
    ),
    (
        "fail_line",
        "REGEX",
        str,
        "serve: migrators: a line of output matching REGEX means a user failed (the run "
        f"counts as exit status 1); default {DEFAULT_FAIL_LINE!r}",
    ),
    (
        "ready_timeout",
        "SECONDS",
        float,
        "serve: migrators: give up (exit 124, 'not ready') after SECONDS; default "
        f"{DEFAULT_READY_TIMEOUT:g}",
    ),
    (
        "stop_grace",
        "SECONDS",
        float,
        "serve: migrators: after SIGTERM, wait SECONDS before SIGKILL; default "
        f"{DEFAULT_STOP_GRACE:g}",
    ),
)
NAMES = tuple(name for name, *_ in OPTIONS)


def add_options(add: Any) -> None:
    """Add the serve options through ``add`` (``ArgumentParser.add_argument`` or a pytest
    option group's ``addoption``): one definition for every command and the plugin."""
    for name, metavar, kind, text in OPTIONS:
        add(
            f"--{_flag(name)}",
            dest=f"mk_{name}",
            metavar=metavar,
            type=kind,
            default=None,
            help=text,
        )


def split_spec(rest: str) -> tuple[ServeOptions, str]:
    """The text after ``serve:``: ``[OPTIONS --] COMMAND`` -> (options, command).

    OPTIONS are the launcher's own, in shell syntax; the command after ``--`` is kept as
    written (it is shell text, run by ``/bin/sh -c``). This is the form a replay line
    carries, so the options travel with the spec through every command and child pytest.
    """
    text = rest.strip()
    if not text.startswith("-"):
        if not text:
            raise ServeSpecError("serve: needs a command, e.g. 'serve:node server.js'")
        return ServeOptions(), text
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    words: list[str] = []
    try:
        while (word := lexer.get_token()) not in (None, "--"):
            words.append(word)
    except ValueError as exc:
        raise ServeSpecError(f"serve: options {text!r}: {exc}") from None
    command = lexer.instream.read().strip()
    if word is None or not command:
        raise ServeSpecError(f"serve: options must end with ' -- COMMAND': {text!r}")
    return options_from_argv(words), command


def options_from_argv(words: Sequence[str]) -> ServeOptions:
    parser = _option_parser()
    try:
        values = vars(parser.parse_args(list(words)))
    except _ParseError as exc:
        raise ServeSpecError(f"serve: {exc}") from None
    return ServeOptions(**{n: v for n, v in values.items() if v is not None})


def join_spec(options: ServeOptions, command: str) -> str:
    """The canonical ``serve:`` spec (what :func:`split_spec` reads back)."""
    flags = options.argv()
    return f"{PREFIX}{shlex.join(flags)} -- {command}" if flags else f"{PREFIX}{command}"


def fold_spec(spec: str | None, given: Mapping[str, Any]) -> str | None:
    """``spec`` with the serve options ``given`` (name -> value, None: not given) written
    into it: how ``--migrator 'serve:CMD' --ready-line R`` becomes one spec string that every
    later step (child pytests, replays, explorations) carries as it is.

    Options given to a spec that is not ``serve:`` are an error: they would be ignored.
    Values may be text (an ini file's): each is converted to its option's type.
    """
    kinds = {name: kind for name, _, kind, _ in OPTIONS}
    chosen = {}
    for name, value in given.items():
        if value is None or name not in kinds:
            continue
        try:
            chosen[name] = kinds[name](value)
        except ValueError:
            raise ServeSpecError(f"--{_flag(name)} {value!r}: not a number") from None
    if not chosen:
        return spec
    if spec is None or not spec.strip().startswith(PREFIX):
        flags = ", ".join(f"--{_flag(n)}" for n in chosen)
        raise ServeSpecError(f"{flags}: only for a 'serve:<command>' migrator, not {spec!r}")
    options, command = split_spec(spec.strip()[len(PREFIX) :])
    try:
        return join_spec(dataclasses.replace(options, **chosen), command)
    except TypeError as exc:
        raise ServeSpecError(str(exc)) from None


def fold_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fold a parsed command's serve options into its ``args.migrator`` (see
    :func:`fold_spec`), or stop with ``parser``'s usage error; a command without
    ``--migrator`` is left alone."""
    if not hasattr(args, "migrator"):
        return
    try:
        args.migrator = fold_spec(args.migrator, {n: getattr(args, f"mk_{n}", None) for n in NAMES})
    except ServeSpecError as exc:
        parser.error(str(exc))


# ---------------------------------------------------------------------------------------------
# The launcher.


class _ParseError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # no exit from inside split_spec
        raise _ParseError(message)


def _option_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m harness.run.serve", add_help=False)
    for name, metavar, kind, _ in OPTIONS:
        parser.add_argument(f"--{_flag(name)}", dest=name, metavar=metavar, type=kind)
    return parser


class _Stopped(Exception):
    """The launcher itself was asked to stop (SIGTERM, SIGINT, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class _Watch:
    """What the output readers saw: readiness, the first failure line, the stream ends."""

    ready_line: re.Pattern[str] | None
    fail_line: re.Pattern[str]
    ready: threading.Event = dataclasses.field(default_factory=threading.Event)
    failure: str | None = None

    def see(self, line: str) -> None:
        if self.ready_line is not None and self.ready_line.search(line):
            self.ready.set()
        if self.failure is None and self.fail_line.search(line):
            self.failure = line.rstrip("\n")


def _relay(stream: Any, out_fd: int, watch: _Watch) -> None:
    """Copy the server's lines to ``out_fd`` as they come, showing each to ``watch``."""
    try:
        while line := stream.readline(_MAX_LINE):
            _write_all(out_fd, line)
            watch.see(line.decode("utf-8", errors="replace"))
    except (OSError, ValueError):
        pass


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # our reader gone: keep watching all the same
        while data:
            data = data[os.write(fd, data) :]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts(port: int) -> bool:
    """Whether something accepts a TCP connection on the loopback at ``port``."""
    for host in ("127.0.0.1", "::1"):
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
    return False


def _watchdog() -> tuple[int, int]:
    """Fork a watchdog that leads a new process group (the server's) and SIGKILLs it when
    this process dies: (its pid, the write end of the pipe whose EOF it waits for)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the watchdog: no threads exist yet
        try:
            os.setpgid(0, 0)
            os.close(write_end)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # do not hold the kit's output pipe open
                os.dup2(devnull, fd)
            for signum in (signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)  # a terminal's ^C is the launcher's job
            while True:
                try:
                    if not os.read(read_end, 1):
                        break
                except InterruptedError:
                    continue
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(0)
    os.close(read_end)
    with contextlib.suppress(OSError):  # the child did it too: whichever runs first
        os.setpgid(pid, pid)
    return pid, write_end


def _stop_group(pgid: int, proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group, wait ``grace`` seconds for the server, then SIGKILL the group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _say(message: str) -> None:
    _write_all(2, f"{_SAY} {message}\n".encode())


def launch(options: ServeOptions, command: Sequence[str]) -> int:
    """Run ``command`` as a server until its migration is over; the verdict's exit status."""
    ready_pattern = re.compile(options.ready_line) if options.ready_line is not None else None
    watch = _Watch(ready_pattern, re.compile(options.fail_line))
    port: int | None = None
    if options.ready_port is not None and options.ready_port != AUTO_PORT:
        port = int(options.ready_port)
        if _accepts(port):
            _say(
                f"port {port} already accepts connections before the server started "
                "(another server?): use another --ready-port, or 'auto'"
            )
            return EXIT_USAGE
    env_port = port if port is not None else _free_port()
    wait_port = port if port is not None else env_port if options.ready_port else None
    env = {**os.environ, "PORT": str(env_port)}

    def stop(signum: int, _frame: Any) -> None:
        raise _Stopped(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    pgid, lifeline = _watchdog()
    proc: subprocess.Popen[bytes] | None = None
    readers: list[threading.Thread] = []
    verdict: int | None = None
    started = time.monotonic()
    try:
        try:
            proc = subprocess.Popen(
                list(command),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                process_group=pgid,
            )
        except OSError as exc:
            _say(f"cannot start {command[0]}: {exc}")
            return EXIT_USAGE
        for stream, fd in ((proc.stdout, 1), (proc.stderr, 2)):
            reader = threading.Thread(target=_relay, args=(stream, fd, watch), daemon=True)
            reader.start()
            readers.append(reader)
        deadline = started + options.ready_timeout
        while True:
            if watch.ready.is_set() or (wait_port is not None and _accepts(wait_port)):
                break
            if proc.poll() is not None:
                verdict = _early_exit(proc.returncode, readers)
                break
            if time.monotonic() > deadline:
                _say(
                    f"not ready after {options.ready_timeout:g} s (waited for "
                    f"{options.describe_ready()}); stopped it"
                )
                verdict = EXIT_NOT_READY
                break
            watch.ready.wait(_POLL_SECONDS)
    except _Stopped as exc:
        _say(f"stopped by signal {exc.signum} before the server was ready")
        verdict = 128 + exc.signum
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # already stopping: see it through
        if proc is not None:
            _stop_group(pgid, proc, options.stop_grace)
            proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)  # the watchdog, whatever is left
        os.close(lifeline)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pgid, 0)
        for reader in readers:
            reader.join(_DRAIN_SECONDS)
    if verdict is not None and verdict < 0:
        with contextlib.suppress(OSError, ValueError):  # SIGKILL's cannot be set
            signal.signal(-verdict, signal.SIG_DFL)
        os.kill(os.getpid(), -verdict)  # die as the server died: "killed by signal N"
    if verdict is not None:
        return verdict
    if watch.failure is not None:
        _say(f"a line matched --fail-line {options.fail_line!r}: {watch.failure[:300]}")
        return EXIT_FAILED
    return EXIT_READY


def _early_exit(returncode: int, readers: list[threading.Thread]) -> int | None:
    """The verdict of a server that ended before it was ready: None (its exit 0 is the end
    of the migration), its signal (negative), or failure."""
    for reader in readers:  # its last lines may still say it failed
        reader.join(_DRAIN_SECONDS)
    if returncode == 0:
        return None
    if returncode < 0:
        _say(f"the server was killed by signal {-returncode} before it was ready")
        return returncode
    _say(f"the server exited with status {returncode} before it was ready")
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if "--" not in words or words.index("--") == len(words) - 1:
        _say("usage: python -m harness.run.serve [OPTIONS] -- COMMAND [ARG...]")
        return EXIT_USAGE
    cut = words.index("--")
    try:
        options = options_from_argv(words[:cut])
    except ServeSpecError as exc:
        _say(str(exc))
        return EXIT_USAGE
    return launch(options, words[cut + 1 :])


if __name__ == "__main__":
    sys.exit(main())
