"""One ``migration-kit`` command: everything it starts ends with it, even when it is stopped.

A migrator may leave processes behind (a server's worker, a ``setsid`` helper), and a
command stopped with SIGINT or SIGTERM would otherwise leave them running, writing to trees,
with its scratch folders on disk. So a command runs inside :func:`kit_session`:

- every process it starts, directly or through a child pytest and its workers, inherits
  :data:`SESSION_VAR`, which a new session or a double fork does not shed; when the command
  ends, for whatever reason, every process still carrying it is killed
  (:func:`harness.store.tagged.kill_tagged`);
- SIGTERM ends it as SIGINT does: an exception that unwinds every ``with`` and ``finally``
  (each run kills its own processes, each scratch folder is removed) instead of an exit
  that skips them;
- the processes it starts get ``TMPDIR`` set to a folder of the session's own, removed at
  the end, so the scratch space of a process that cannot unwind (a killed pytest worker's, a
  migrator's) goes with it; a RAM-disk folder likewise (:data:`RAM_SCRATCH_VAR`, which
  :func:`harness.store.scratch.ram_scratch` gives the explorer for its trees). The command
  itself keeps the system's temporary directory (``rehearse --keep`` keeps its tree there),
  and so do pytest's retained ``tmp_path`` folders (``PYTEST_DEBUG_TEMPROOT``), which a
  person may want to look at after a failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from harness.contract.settings import SESSION_ENV
from harness.store.scratch import RAM_DISK, SESSION_RAM_SCRATCH_ENV, remove_tree
from harness.store.tagged import kill_tagged

SESSION_VAR = SESSION_ENV
RAM_SCRATCH_VAR = SESSION_RAM_SCRATCH_ENV
PYTEST_TEMPROOT_VAR = "PYTEST_DEBUG_TEMPROOT"


class Terminated(BaseException):
    """SIGTERM arrived: unwind like KeyboardInterrupt (not an ``Exception``, so that no
    ``except Exception`` of a run swallows it)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def kit_session() -> Iterator[None]:
    """Run a command so that nothing it started outlives it (see the module's docstring).

    The signal handler is only installed in the main thread (Python allows no other); a
    session opened elsewhere still kills its processes and removes its folder at the end.
    """
    token = f"{os.getpid()}-{time.time_ns()}"
    system_tmp = tempfile.gettempdir()
    folders = [Path(tempfile.mkdtemp(prefix="mk-session-", dir=system_tmp))]
    chosen = {SESSION_VAR: token, "TMPDIR": str(folders[0])}
    chosen[PYTEST_TEMPROOT_VAR] = os.environ.get(PYTEST_TEMPROOT_VAR, system_tmp)
    if RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK):
        folders.append(Path(tempfile.mkdtemp(prefix="mk-session-", dir=RAM_DISK)))
        chosen[RAM_SCRATCH_VAR] = str(folders[1])
    saved = {name: os.environ.get(name) for name in chosen}
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, system_tmp  # this process keeps it
    os.environ.update(chosen)
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
            for folder in folders:
                with contextlib.suppress(OSError):
                    remove_tree(folder)
        finally:
            tempfile.tempdir = saved_tempdir
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if main:
                signal.signal(signal.SIGTERM, previous)
                signal.signal(signal.SIGINT, interrupt)
