"""Processes found by a variable in their environment, and ended together.

A process group does not hold what a migrator detaches (``setsid``, a double fork, a server
that leads a group of its own), but every process inherits its parent's environment. So
the kit tags what it starts with a variable naming one run (:data:`RUN_VAR`) or one command
(the session's), and ends a run by killing every carrier of its tag, whatever group it is in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

# Every process of one run carries RUN_VAR in its environment: a detached grandchild too.
RUN_VAR = "MIGRATION_KIT_RUN"
_KILL_ROUNDS = 50


def tagged_pids(name: str, value: str) -> list[int]:
    """The processes (other than this one) whose environment has ``name=value``.

    A run's and a session's processes are found by a variable they inherit, which a
    ``setsid`` or a double fork does not shed, unlike a process group. A zombie's
    environment reads empty, so only live processes are listed.
    """
    needle = f"{name}={value}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours to read
    return found


def kill_tagged(name: str, value: str) -> None:
    """SIGKILL every process :func:`tagged_pids` finds, again until none is left (one may
    fork while the others die)."""
    for _ in range(_KILL_ROUNDS):
        pids = tagged_pids(name, value)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
