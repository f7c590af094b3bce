"""One ``migration-kit`` command: everything it starts ends with it, even when it is stopped.

A migrator may leave processes behind (a server's worker, a ``setsid`` helper), and a
command stopped with SIGINT or SIGTERM would otherwise leave them running, writing to trees,
with its scratch folders on disk. So a command runs inside :func:`kit_session`:

- every process it starts, directly or through a child pytest and its workers, inherits
  :data:`SESSION_VAR`, which a new session or a double fork does not shed; when the command
  ends, for whatever reason, every process still carrying it is killed
  (:func:`harness.run.process.kill_tagged`);
- SIGTERM ends it as SIGINT does: an exception that unwinds every ``with`` and ``finally``
  (each run kills its own processes, each scratch folder is removed) instead of an exit
  that skips them;
- :data:`SCRATCH_VAR` names a folder of the session's own, removed at the end, for scratch
  space that processes it cannot unwind (a killed worker's) would leave behind
  (:func:`scratch_root`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from harness.run.process import kill_tagged

SESSION_VAR = "MIGRATION_KIT_SESSION"
SCRATCH_VAR = "MIGRATION_KIT_SCRATCH"
EXIT_TERMINATED = 128 + signal.SIGTERM
# Where a session's scratch folder goes when it can: a RAM disk, as the explorer prefers.
RAM_DISK = Path("/dev/shm")


class Terminated(BaseException):
    """SIGTERM arrived: unwind like KeyboardInterrupt (not an ``Exception``, so that no
    ``except Exception`` of a run swallows it)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def scratch_root() -> Path | None:
    """The session's scratch folder, when this process runs inside one."""
    value = os.environ.get(SCRATCH_VAR)
    return Path(value) if value and Path(value).is_dir() else None


@contextlib.contextmanager
def kit_session() -> Iterator[None]:
    """Run a command so that nothing it started outlives it (see the module's docstring).

    The signal handler is only installed in the main thread (Python allows no other); a
    session opened elsewhere still kills its processes and removes its folder at the end.
    """
    token = f"{os.getpid()}-{time.time_ns()}"
    base = RAM_DISK if RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK) else None
    scratch = Path(tempfile.mkdtemp(prefix="mk-session-", dir=base))
    saved = {name: os.environ.get(name) for name in (SESSION_VAR, SCRATCH_VAR)}
    os.environ[SESSION_VAR] = token
    os.environ[SCRATCH_VAR] = str(scratch)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main else None
    try:
        yield
    finally:
        if main:  # a second signal must not cut the clean-up short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            kill_tagged(SESSION_VAR, token)
            _remove(scratch)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if main:
                signal.signal(signal.SIGTERM, previous)
                signal.signal(signal.SIGINT, interrupt)


def _remove(path: Path) -> None:
    """Remove ``path``, folders a migrator (or a tree's ``readonly_dir`` quirk) left without
    write permission included; never following a symlink out of it."""
    for dirpath, dirnames, _files in os.walk(path):
        for name in dirnames:
            folder = os.path.join(dirpath, name)
            if not os.path.islink(folder):
                with contextlib.suppress(OSError):
                    os.chmod(folder, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)
