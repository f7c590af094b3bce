"""Run one migrator process and record what a person needs to judge it.

A migration under test may crash, hang, spawn helpers or print megabytes; none of that may
leak into the harness. So each run is its own process group: the harness waits for the
leader without reaping it (``waitid(WNOWAIT)``), kills whatever the migrator left running in
its group (a leftover writer would change the tree while it is being judged), then reaps the
leader with ``wait4``.

Peak RSS cannot be read off the leader directly: on Linux a child's ``ru_maxrss`` starts at
the RSS of the process that forked it, so a run started from a harness holding 500 MB would
"use" 500 MB. The leader is therefore a tiny launcher (``python -S -I``, ~5 MB) that forks the
migrator, reaps it with ``wait4`` and reports its wait status and peak RSS on a private pipe.
That figure covers the children the migrator waited for (a shell wrapper's node, say).

The launcher is also where the sandbox starts (:mod:`harness.run.sandbox`): given the places
the run may write, it enters a private mount namespace in which everything else is
read-only before it forks the migrator, and says on the same pipe whether that worked.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.run import sandbox
from harness.run.sandbox import LAUNCHER_SETUP, Listing, Protection, outside_paths
from harness.store.tagged import RUN_VAR, kill_tagged

# How long to read the output pipe once the run's processes are killed: only a process that
# escaped both the group and the kill can hold it open, and its output is not worth hanging for.
_DRAIN_SECONDS = 1.0
_POLL_SECONDS = 0.05  # how often the reader looks whether the leader exited
_RUN_NUMBERS = itertools.count(1)
# Why the mount namespace was refused, once a run found out: later runs list the candidate
# places before they start, so that what they write outside is still named.
_REFUSED: str | None = None


@dataclass(frozen=True)
class RunResult:
    """What one run of a migrator did, as seen from outside."""

    exit_status: int  # 0 success; >0 the migrator's failure; <0 killed by that signal
    output: str  # stdout and stderr interleaved in the order read
    duration_s: float
    peak_rss_bytes: int | None  # None when not measurable (in-process runs)
    command: str  # the command line that was run
    replay: str  # one shell line that repeats this run exactly
    dry_run: bool = False
    started_at: float = 0.0  # wall-clock time.time() at the start (R11 ages backups by it)
    timed_out: bool = False
    timeout_s: float | None = None  # the time it was given
    stderr: str = ""  # stderr alone: a line there reports an error (SPEC's "reported")
    protection: str = Protection.NONE  # what kept it inside its tree (a Protection, + why)
    outside: tuple[str, ...] = ()  # paths it wrote, or tried to, outside DATA_DIR and TMPDIR

    @property
    def ok(self) -> bool:
        """Whether the migrator reported success (exit status 0, finished in time)."""
        return self.exit_status == 0 and not self.timed_out

    def tail(self, lines: int = 10) -> str:
        """The last ``lines`` lines of the output (what a person reads first)."""
        return "\n".join(self.output.rstrip().splitlines()[-lines:])

    def describe(self) -> str:
        """One line for a person: how the run ended."""
        if self.timed_out:
            given = "the timeout" if self.timeout_s is None else f"{self.timeout_s:g} s"
            return f"the migrator did not finish in {given} (killed)"
        if self.exit_status < 0:
            end = f"killed by signal {-self.exit_status}"
        else:
            end = f"exit status {self.exit_status}"
        rss = "" if self.peak_rss_bytes is None else f", peak RSS {self.peak_rss_bytes >> 20} MiB"
        return f"{end} after {self.duration_s:.2f} s{rss}"


def replay_line(
    argv: Sequence[str], *, env: Mapping[str, str], unset: Sequence[str], cwd: Path | None
) -> str:
    """A shell line that reruns ``argv`` with exactly these variables set and unset."""
    parts = ["env"]
    for name in unset:
        parts += ["-u", name]
    parts += [f"{k}={v}" for k, v in env.items()]
    line = shlex.join([*parts, *argv])
    return f"cd {shlex.quote(str(cwd or Path.cwd()))} && {line}"


# The launcher: "<fd> <n> <n writable paths> argv": sandbox unless n is "-" (report
# "S <why not>"), fork, exec the migrator, reap it, report "<wait status> <ru_maxrss>" on fd.
_LAUNCHER = r"""
import os, sys
fd = int(sys.argv[1])
args = sys.argv[3:]
if sys.argv[2] != "-":
    writable, args = args[: int(sys.argv[2])], args[int(sys.argv[2]) :]
    try:
        why_not = _sandbox(writable)
    except Exception as exc:
        why_not = str(exc) or type(exc).__name__
    os.write(fd, ("S " + why_not.replace(chr(10), " ") + chr(10)).encode())
pid = os.fork()
if pid == 0:
    os.close(fd)
    try:
        os.execvp(args[0], args)
    except OSError as exc:
        os.write(2, f"cannot run {args[0]}: {exc}\n".encode())
        os._exit(127)
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        pass
os.write(fd, f"{status} {usage.ru_maxrss}\n".encode())
"""


def _maxrss_bytes(ru_maxrss: int) -> int:
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is empty
        os.killpg(pgid, signal.SIGKILL)


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    command: str,
    replay: str,
    dry_run: bool = False,
    cwd: Path | str | None = None,
    writable: Sequence[str] | None = None,
    watch: Sequence[Path] = (),
) -> RunResult:
    """Run ``argv`` in a new process group with exactly ``env``; never raises for its failure.

    ``writable`` (a migrator's tree and scratch) puts the run in the sandbox: nothing else can
    be written (:mod:`harness.run.sandbox`); where that is refused or switched off, the
    ``watch`` places are listed before and after instead, and what changed there is named.

    The run ends at the leader's exit or at ``timeout``, whichever comes first; then every
    process it left behind is killed, its group and any it detached (:func:`kill_tagged`),
    and its output is read for at most :data:`_DRAIN_SECONDS` more: a detached child that
    holds the pipe open cannot keep the harness waiting.
    """
    started_at = time.time()
    start = time.monotonic()
    token = f"{os.getpid()}-{next(_RUN_NUMBERS)}-{started_at:.6f}"
    sandboxed = writable is not None and sandbox.wanted()
    listed = None
    if writable is not None and (not sandboxed or _REFUSED):
        listed = Listing.of(watch, skip=[os.path.abspath(p) for p in writable])
    report_r, report_w = os.pipe()
    if sandboxed:
        assert writable is not None
        launcher = [LAUNCHER_SETUP + _LAUNCHER, str(report_w), str(len(writable)), *writable]
    else:
        launcher = [_LAUNCHER, str(report_w), "-"]
    try:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-I", "-c", *launcher, *argv],
            env={**env, RUN_VAR: token},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=(report_w,),
        )
    except BaseException:
        os.close(report_r)
        raise
    finally:
        os.close(report_w)
    assert proc.stdout is not None and proc.stderr is not None
    # Each pipe's descriptor, and whether it is stderr: output keeps both in the order read.
    pipes = {proc.stdout.fileno(): False, proc.stderr.fileno(): True}
    exited = threading.Event()
    waiter = threading.Thread(target=_await_exit, args=(proc.pid, exited), daemon=True)
    waiter.start()
    chunks: list[tuple[bool, bytes]] = []
    timed_out = False
    try:
        timed_out = _read_until_exit(pipes, chunks, exited, start + timeout)
        duration = time.monotonic() - start
    finally:
        # The leader is a zombie (or about to be): its pid, hence the group id, cannot be
        # reused yet, so killing the group only reaches what this run started.
        _end_run(proc.pid, token)
        exited.wait()
        _, status, _ = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        _drain(pipes, chunks, time.monotonic() + _DRAIN_SECONDS)
        proc.stdout.close()
        proc.stderr.close()
    exit_status, peak_rss, why_not = _read_report(report_r, launcher_status=proc.returncode)
    output = b"".join(c for _, c in chunks).decode("utf-8", errors="replace")
    protection, outside = _protection(
        output, writable, cwd=cwd, sandboxed=sandboxed, why_not=why_not, listed=listed
    )
    return RunResult(
        exit_status=exit_status,
        output=output,
        stderr=b"".join(c for err, c in chunks if err).decode("utf-8", errors="replace"),
        duration_s=duration,
        peak_rss_bytes=peak_rss,
        command=command,
        replay=replay,
        dry_run=dry_run,
        started_at=started_at,
        timed_out=timed_out,
        timeout_s=timeout,
        protection=protection,
        outside=outside,
    )


def _protection(
    output: str,
    writable: Sequence[str] | None,
    *,
    cwd: Path | str | None,
    sandboxed: bool,
    why_not: str | None,
    listed: Listing | None,
) -> tuple[str, tuple[str, ...]]:
    """What protected the run, and the paths outside its places it wrote or tried to."""
    global _REFUSED
    if writable is None:
        return Protection.NONE, ()
    where = None if cwd is None else str(cwd)
    named = list(outside_paths(output, writable, where))
    watched = ""
    if listed is not None:
        skip = [os.path.abspath(p) for p in writable]
        named += listed.changed(Listing.of(listed.places, skip=skip, limit=listed.limit))
        watched = f"; {listed.describe()}"
    outside = tuple(dict.fromkeys(named))
    if not sandboxed:
        return f"{Protection.DETECTION} (${sandbox.SANDBOX_ENV} is off{watched})", outside
    if not why_not or why_not.startswith("still writable"):
        note = "" if not why_not else f" ({why_not})"
        return f"{Protection.NAMESPACE}{note}", outside
    _REFUSED = why_not
    checked = watched or "; this run not checked"
    return f"{Protection.DETECTION} (mount namespace refused: {why_not}{checked})", outside


def _end_run(pgid: int, token: str) -> None:
    """Kill what one run started: its process group, then whatever left the group."""
    _kill_group(pgid)
    kill_tagged(RUN_VAR, token)


def _read_until_exit(
    pipes: dict[int, bool],
    chunks: list[tuple[bool, bytes]],
    exited: threading.Event,
    deadline: float,
) -> bool:
    """Collect output until the leader exits; True if ``deadline`` came first.

    Output is read here, not in a thread: a reader blocked on a pipe that a detached child
    holds open would outlive the run.
    """
    while not exited.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        wait = min(left, _POLL_SECONDS)
        if not _read_some(pipes, chunks, wait):  # end of both: only the exit is left to see
            exited.wait(wait)
    return False


def _read_some(pipes: dict[int, bool], chunks: list[tuple[bool, bytes]], wait: float) -> bool:
    """Read what the ``pipes`` have within ``wait`` seconds, keeping (from stderr, bytes);
    a pipe at end of file (or closed) leaves ``pipes``. False when none is left."""
    if not pipes:
        return False
    try:
        ready, _, _ = select.select(list(pipes), [], [], wait)
    except (OSError, ValueError):
        pipes.clear()
        return False
    for fd in ready:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            chunk = b""
        if chunk:
            chunks.append((pipes[fd], chunk))
        else:
            del pipes[fd]
    return bool(pipes)


def _drain(pipes: dict[int, bool], chunks: list[tuple[bool, bytes]], until: float) -> None:
    """The output still in the pipes, until end of file or ``until``."""
    while (left := until - time.monotonic()) > 0 and _read_some(pipes, chunks, left):
        pass


def _read_report(fd: int, *, launcher_status: int) -> tuple[int, int | None, str | None]:
    """The migrator's exit status and peak RSS as the launcher saw them, and why the sandbox
    is not in force ("" when it is; None when no sandbox was asked for or no word came).

    No status means the launcher itself was killed (a timeout): its status stands and the
    peak RSS is unknown.
    """
    with os.fdopen(fd, "rb") as report:
        lines = report.read().decode("utf-8", errors="replace").splitlines()
    why_not = None
    if lines and lines[0].startswith("S"):
        why_not = lines.pop(0)[2:].strip()
    fields = lines[0].split() if lines else []
    if len(fields) != 2:
        return launcher_status, None, why_not
    return os.waitstatus_to_exitcode(int(fields[0])), _maxrss_bytes(int(fields[1])), why_not


def _await_exit(pid: int, exited: threading.Event) -> None:
    """Block until ``pid`` exits, leaving it unreaped so its rusage can still be read."""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            break
        except InterruptedError:
            continue
    exited.set()
