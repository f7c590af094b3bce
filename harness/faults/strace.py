"""Running a command under ``strace``: the process side of the syscall backend.

One function, :func:`run_traced`, starts ``strace -f --seccomp-bpf -qq -y -o FIFO ... --
COMMAND`` in a new session and, when asked to ``stop`` at some call, reads strace's output
live from the FIFO while the command runs. Reading it live is what lets a kill be exact: the
caller's ``stop`` callback sees each syscall the moment strace prints its entry and can have
the whole process group SIGKILLed while the thread that made the call is still held inside
strace (see :mod:`harness.faults.injection`).

Why these options:

- ``-f``: migrators spawn helpers (a shell runs ``mv``, node runs a worker); all are traced.
- ``--seccomp-bpf``: only the traced syscalls stop the tracee, so a run costs about 1x
  instead of about 10x (``bench/bench_strace.py`` prints the figures). It implies
  ``--kill-on-exit``: if strace dies, every tracee dies with it, so nothing outlives a kill.
- ``-y``: descriptors are printed with their paths (``3</data/u/peek.db>``,
  ``AT_FDCWD</data>``), which is how a trace names the file a ``write``/``fsync`` hits.
- ``-qq``: no attach/exit chatter; ``+++ killed by SIGKILL +++`` is still printed.
- a FIFO, not a pipe inherited through ``pass_fds``: strace closes its log in the child it
  starts, so the command sees exactly the descriptors it would see without strace.
- a plain file instead of the FIFO when no one watches the calls live (a recording, an
  errno injection): strace then buffers its output instead of waking a reader for every
  line, which on a recording of a few hundred calls saved about a fifth of tracing's CPU.
  The file is read once strace has exited.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import itertools
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness.faults.availability import Availability
from harness.store.confine import ALSO_WRITABLE_ENV, confined
from harness.store.tagged import RUN_VAR, kill_tagged

# strace 5.3 brought --seccomp-bpf; inject=...:when= and delay_enter= are older.
MIN_VERSION = (5, 3)

# Environment that makes a run repeat its file operations exactly, which the syscall backend
# relies on (the Nth operation of a recorded run must be the Nth of the injected run):
# - Python must not write __pycache__ on the first run only;
# - libuv (Node) must run its file operations on a single pool thread, because strace counts
#   calls per thread and a pool of 4 hands operations to whichever thread is free.
DETERMINISM_ENV: Mapping[str, str] = {"PYTHONDONTWRITEBYTECODE": "1", "UV_THREADPOOL_SIZE": "1"}

_POLL_SECONDS = 0.05
_RUN_NUMBERS = itertools.count(1)  # tells this process's traced runs apart


def strace_executable() -> str | None:
    """The ``strace`` binary on PATH, or None."""
    return shutil.which("strace")


def strace_version(executable: str) -> tuple[int, int] | None:
    """(major, minor) from ``strace -V``, or None when it cannot be read."""
    try:
        out = subprocess.run(
            [executable, "-V"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"version (\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else None


@functools.cache
def backend_available() -> Availability:
    """Whether the syscall backend works here: strace >= 5.3 present and ptrace permitted.

    The probe injects a real fault (ENOSPC into a ``mkdir``) into a real Python child, so
    it fails for every reason an actual run would: no strace, no ptrace (container policy,
    ``kernel.yama.ptrace_scope``), no seccomp filter support.
    """
    name = "syscall (strace)"
    executable = strace_executable()
    if executable is None:
        return Availability(name, False, "strace is not installed (apt-get install strace)")
    version = strace_version(executable)
    if version is None or version < MIN_VERSION:
        return Availability(name, False, f"strace {version} found, {MIN_VERSION} or newer needed")
    with tempfile.TemporaryDirectory(prefix="mk-strace-probe-") as tmp:
        target = os.path.join(tmp, "probe")
        code = f"import os\ntry:\n os.mkdir({target!r})\nexcept OSError as e:\n print(e.errno)"
        try:
            done = subprocess.run(
                [
                    *(executable, "-f", "--seccomp-bpf", "-qq", "-o", os.devnull),
                    *("-e", "trace=mkdir", "-e", "inject=mkdir:error=ENOSPC:when=1"),
                    *("--", sys.executable, "-c", code),
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return Availability(name, False, f"strace could not run: {exc}")
    if done.stdout.strip() != str(errno.ENOSPC):
        detail = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        return Availability(name, False, f"strace cannot inject faults here: {detail}")
    return Availability(name, True)


@dataclass(frozen=True)
class TracedRun:
    """What a command did under strace: its exit, its output and strace's output."""

    returncode: int  # the command's exit status; negative: killed by that signal
    stdout: str
    stderr: str  # the command's stderr, and strace's own complaints if any
    trace: str  # everything strace printed (one syscall per line, see trace.py)
    stopped: bool  # the ``stop`` callback asked for the process group to be killed
    timed_out: bool

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def strace_command(
    command: Sequence[str], options: Sequence[str], output: str, *, seccomp: bool = True
) -> list[str]:
    """The full argv: strace, the kit's standard options, ``options``, then the command."""
    executable = strace_executable()
    if executable is None:
        backend_available().require()
        raise AssertionError("unreachable: strace missing but the probe passed")
    standard = ["-f", "-qq", "-y", "-o", output]
    if seccomp:
        standard.insert(1, "--seccomp-bpf")
    return [executable, *standard, *options, "--", *command]


def run_traced(
    command: Sequence[str],
    options: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600.0,
    stop: Callable[[str], bool] | None = None,
    seccomp: bool = True,
) -> TracedRun:
    """Run ``command`` under strace with ``options`` (``-e trace=...`` etc.).

    ``env`` is the command's full environment (default: this process's) and is extended
    with :data:`DETERMINISM_ENV` unless it sets those variables itself. ``stop`` is called
    with each new piece of strace's output (not necessarily whole lines); when it returns
    True the whole process group (strace and every tracee) is SIGKILLed at once. A
    migrator's run (``env`` has DATA_DIR) starts confined, strace and all: nothing but its
    tree, its TMPDIR and strace's output is writable (``harness.store.confine``).
    """
    # Every process of the run carries a tag of its own: a kill of strace's group does not
    # reach a tracee that leads a group of its own (a server started by the serve:
    # launcher), so the run ends by killing every carrier of the tag as well.
    token = f"strace-{os.getpid()}-{next(_RUN_NUMBERS)}-{time.time():.6f}"
    full_env = {**DETERMINISM_ENV, **(os.environ if env is None else env), RUN_VAR: token}
    with tempfile.TemporaryDirectory(prefix="mk-strace-") as tmp:
        output = os.path.join(tmp, "trace")
        reader = None
        if stop is not None:
            os.mkfifo(output, 0o600)
            # O_RDWR: the open does not wait for strace, and EOF never comes early; the end
            # of the output is the end of the strace process.
            reader = os.open(output, os.O_RDWR | os.O_NONBLOCK)
        try:
            # Pipes, not files, for the command's output: a write to a file would be a file
            # operation of the run, and the trace must hold only the command's own.
            proc = subprocess.Popen(
                confined(
                    strace_command(command, options, output, seccomp=seccomp),
                    _writable(full_env, tmp),
                )
                if "DATA_DIR" in full_env
                else strace_command(command, options, output, seccomp=seccomp),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            run = _pump(proc, reader, stop, timeout)
        finally:
            kill_tagged(RUN_VAR, token)
            if reader is not None:
                os.close(reader)
        if reader is None:
            # (no file: strace could not even start)
            with contextlib.suppress(FileNotFoundError), open(output, "rb") as written:
                run = dataclasses.replace(run, trace=_text(written.read()))
        return run


def _writable(env: Mapping[str, str], output_dir: str) -> list[str]:
    """What a traced migrator may write (``harness.store.confine``): its tree, its temporary
    folder (the command's own, kept: recorded paths must replay), strace's output, and what
    the run's own environment names (an exec shim's tickets: ``Shim.env``)."""
    named = [p for p in env.get(ALSO_WRITABLE_ENV, "").split(os.pathsep) if p]
    return [env["DATA_DIR"], env.get("TMPDIR") or tempfile.gettempdir(), output_dir, *named]


def _pump(
    proc: subprocess.Popen[bytes],
    trace_fd: int | None,
    stop: Callable[[str], bool] | None,
    timeout: float | None,
) -> TracedRun:
    """Collect all output until strace exits; kill the group on ``stop`` or timeout.

    ``trace_fd`` is the FIFO strace writes to, read live for ``stop``; None when strace
    writes a file (the returned run's ``trace`` is then empty).
    """
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    streams = {out_fd: bytearray(), err_fd: bytearray()}
    if trace_fd is not None:
        streams[trace_fd] = bytearray()
    for fd in streams:
        os.set_blocking(fd, False)
    stopped = timed_out = False
    deadline = None if timeout is None else time.monotonic() + timeout
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    try:
        while True:
            exited = proc.poll() is not None
            ready = [fd for fd, _ in poller.poll(0 if exited else _POLL_SECONDS * 1000)]
            got = {fd: _read_available(fd) for fd in ready}
            for fd, data in got.items():
                streams[fd] += data
            fresh = got.get(trace_fd, b"")
            if fresh and stop is not None and not stopped and stop(_text(fresh)):
                stopped = True
                _kill_group(proc)
            if any(got.values()):
                continue
            if exited:
                break
            if deadline is not None and time.monotonic() > deadline:
                timed_out = True
                _kill_group(proc)
                deadline = None
    finally:
        if proc.poll() is None:
            _kill_group(proc)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return TracedRun(
        returncode=proc.returncode,
        stdout=bytes(streams[out_fd]).decode(errors="replace"),
        stderr=bytes(streams[err_fd]).decode(errors="replace"),
        trace=_text(streams.get(trace_fd, b"")),
        stopped=stopped,
        timed_out=timed_out,
    )


def _read_available(fd: int) -> bytes:
    data = bytearray()
    with contextlib.suppress(BlockingIOError):
        while block := os.read(fd, 1 << 16):
            data += block
    return bytes(data)


def _text(data: bytes | bytearray) -> str:
    # strace escapes every non-ASCII byte, so this decode is lossless.
    return bytes(data).decode("ascii", errors="surrogateescape")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL strace and every tracee; --kill-on-exit also gets any that left the group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
