"""Placing a fault in one child process of many: an exec shim that makes the target unique.

strace counts ``inject=...:when=N`` per thread. A shell migrator runs one ``sqlite3``,
``cp`` or ``sync`` child per step, and the children make the same calls on the same files
(every ``sync FILE`` makes one ``fsync``; every ``sqlite3`` that writes system.db makes the
same ``fdatasync`` of ``system.db-wal``): each child reaches ``when``, and strace fails the
first one's call, not the recorded one's. No strace option narrows an injection to one
process, and a process has only one tracer.

What does single out a child is its place among the children that exec the same program:
a migrator that repeats its calls also starts its helpers in the same order. So the target is
"the k-th process that exec'd PROGRAM (found on PATH), its n-th call of the syscall", and the
injected run gets a directory in front of PATH holding a shim named like the program:

- the shim (``/bin/sh``) takes a ticket (noclobber files in its own directory, so two
  children never get the same one; taken in a subshell, so that the queue's length does
  not change the count of the shim's own process) and, for every ticket but the k-th,
  ``exec``s the real program: the child then makes the calls it always makes;
- the k-th child instead ``exec``s a small Python step that makes ``D`` harmless calls of
  the syscall (every argument -1: EBADF or EFAULT, nothing is touched) and then ``exec``s the
  real program. In that thread alone the count runs ``D`` ahead, and ``when`` = n + the
  calls the shim chain made (measured once per syscall, :func:`calibrate`) is reached by that
  thread only, since ``D`` is more than any other thread's count in the recording plus what
  a shim adds to it.

A kill is aimed the same way: strace holds that thread's call ``when`` at its entry and the
watch kills the group there. (Without the shim a kill waits for its turn among the children
that reach ``when``, a second held per earlier one.)

The shim changes nothing in the tree and nothing a child sees but its ``argv[0]`` (the real
program's path) and ``PATH``. A child started by its full path, or by a script that sets a
``PATH`` of its own, never meets the shim (:meth:`Shim.met` tells): an errno then does not
land, and the case is "not judged", never a failure; a kill runs again on the rebuilt tree
and waits for its turn (see :mod:`harness.faults.injection`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.faults.straceout import SyscallEvent, decode_string, parse_events
from harness.store.confine import ALSO_WRITABLE_ENV

# Calls of the syscall the k-th child makes beyond any other thread's count (and beyond
# what a shim's own start-up adds to a child: the dynamic loader, the ticket files).
_MARGIN = 64

# The k-th child: D calls of the syscall through libc, every argument -1 (an fd -1 is EBADF,
# a pointer -1 is EFAULT), then the real program with the argv[0] the migrator gave it.
_STEP = (
    "import ctypes, os, sys\n"
    "call = getattr(ctypes.CDLL(None), sys.argv[1])\n"
    "bad = ctypes.c_long(-1)\n"
    "for _ in range(int(sys.argv[2])):\n"
    "    call(bad, bad, bad, bad, bad, bad)\n"
    "os.execv(sys.argv[3], sys.argv[4:])\n"
)


@dataclass(frozen=True)
class ExecTarget:
    """The child a target call is made in: the ``occurrence``-th exec of ``program``."""

    program: str  # the path the recorded run exec'd
    occurrence: int  # 1-based, among the run's successful execs of ``program``
    calls: int  # the target is this thread's ``calls``-th call of the syscall (no -P)
    dummies: int  # harmless calls the shim makes first in that child

    @property
    def name(self) -> str:
        return os.path.basename(self.program)


def exec_target(events: Sequence[SyscallEvent], event: SyscallEvent) -> ExecTarget | None:
    """Where ``event`` was made, when that is a child that exec'd a program; else None.

    Needs the recording's ``execve`` events (traced as bookkeeping).
    """
    execs = [e for e in events if e.name == "execve" and e.retval == 0 and e.seq < event.seq]
    mine = [e for e in execs if e.tid == event.tid]
    if not mine or mine[-1] is execs[0]:
        return None  # the command itself (strace's own exec): nothing exec's it by name
    program = decode_string(mine[-1].args[0]) if mine[-1].args else None
    if not program:
        return None
    occurrence = sum(1 for e in execs if e.args and decode_string(e.args[0]) == program)
    same = [e for e in events if e.name == event.name]
    calls = sum(1 for e in same if e.tid == event.tid and e.seq <= event.seq)
    most = max(Counter(e.tid for e in same).values(), default=0)
    launches = sum(1 for e in events if e.name == "execve" and e.retval == 0)
    return ExecTarget(program, occurrence, calls, most + launches + _MARGIN)


def _shim_text(target: ExecTarget, syscall: str, tickets: Path, real: str) -> str:
    step = shlex.quote(_STEP)
    python = shlex.quote(sys.executable)
    queue = shlex.quote(str(tickets))
    last = shlex.quote(str(_last_ticket(tickets)))
    return (
        "#!/bin/sh\n"
        "# migration-kit exec shim: see harness/faults/exec_shim.py\n"
        # The ticket is taken in a subshell, a process of its own: however long the queue,
        # the calls it takes are not counted in this one, whose count must not vary. It
        # starts at the last ticket taken (every lower one is taken), so a queue of n
        # children costs O(n) calls, not O(n^2). A ticket that exists is another child's;
        # one that cannot be made at all (the directory gone or read-only) ends the queue:
        # 0, run the real program, no fault.
        "i=$(set -C\n"
        f"    read i 2>/dev/null <{last} || i=1\n"
        '    case "$i" in ""|0|*[!0-9]*) i=1 ;; esac\n'
        f"    while ! true 2>/dev/null >{queue}/$i; do\n"
        f"        [ -e {queue}/$i ] || {{ echo 0; exit; }}\n"
        "        i=$((i + 1))\n"
        "    done\n"
        f"    echo $i 2>/dev/null >|{last}\n"
        "    echo $i)\n"
        f'if [ "$i" = {target.occurrence} ]; then\n'
        f"    exec {python} -I -S -c {step} {shlex.quote(syscall)} {target.dummies} "
        f'{shlex.quote(real)} {shlex.quote(target.name)} "$@"\n'
        "fi\n"
        f'exec {shlex.quote(real)} "$@"\n'
    )


@dataclass(frozen=True)
class Shim:
    """A shim directory ready for one injected run."""

    directory: Path
    overhead: int  # calls of the syscall the k-th child's shim chain makes before the program

    def met(self, occurrence: int) -> bool:
        """Whether the ``occurrence``-th child took its ticket: went through the shim. A
        script that runs the program by its full path, or sets a ``PATH`` of its own,
        bypasses it, and no child runs ahead."""
        return (self.directory.parent / "tickets" / str(occurrence)).exists()

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` with the shim first on PATH, and its directory writable in the sandbox
        (its tickets are files it creates there: read-only, no child could take one)."""
        path = env.get("PATH", os.defpath)
        writable = [p for p in env.get(ALSO_WRITABLE_ENV, "").split(os.pathsep) if p]
        return {
            **env,
            "PATH": f"{self.directory}{os.pathsep}{path}",
            # the folder that holds bin/ and tickets/
            ALSO_WRITABLE_ENV: os.pathsep.join([*writable, str(self.directory.parent)]),
        }


class ShimUnavailable(Exception):
    """The target's child cannot be singled out this way (reason in the message)."""


def make_shim(target: ExecTarget, syscall: str, env: Mapping[str, str], directory: Path) -> Shim:
    """Write the shim for ``target`` into ``directory`` and measure its overhead.

    Raises :class:`ShimUnavailable` when the program is not what PATH finds, or when the
    dummy calls do not make the syscall (a libc without a function of that name).
    """
    found = shutil.which(target.name, path=env.get("PATH", os.defpath))
    if found is None or os.path.realpath(found) != os.path.realpath(target.program):
        raise ShimUnavailable(f"{target.program} is not found on PATH as {target.name}")
    bindir = directory / "bin"
    bindir.mkdir(parents=True)
    (directory / "tickets").mkdir()
    shim = bindir / target.name
    shim.write_text(_shim_text(target, syscall, directory / "tickets", target.program))
    shim.chmod(0o755)
    overhead = calibrate(target, syscall, directory / "calibration")
    if overhead < target.dummies:
        raise ShimUnavailable(f"the shim's dummy calls do not make {syscall}")
    return Shim(bindir, overhead)


# calibrate's answers: they depend on the syscall and the dummy calls, never on the migrator
# or on the place in the queue (taken in a subshell), so one traced run per kind serves
# every later case.
_CALIBRATED: dict[tuple[str, str, int], int] = {}


def _last_ticket(tickets: Path) -> Path:
    """Where the shims note the last ticket taken (beside the queue, not in it)."""
    return tickets.with_name(tickets.name + ".last")


def calibrate(target: ExecTarget, syscall: str, directory: Path) -> int:
    """How many calls of ``syscall`` the k-th child makes between exec'ing the shim and
    exec'ing the program: the same shim, with ``true`` for the program, traced once (per
    process, for each syscall and number of dummy calls)."""
    key = (syscall, target.name, target.dummies)
    if key not in _CALIBRATED:
        calls = _calibrate(target, syscall, directory)
        if not calls:  # the traced run failed: not an answer to keep
            return calls
        _CALIBRATED[key] = calls
    return _CALIBRATED[key]


def _calibrate(target: ExecTarget, syscall: str, directory: Path) -> int:
    true = shutil.which("true") or "/bin/true"
    tickets = directory / "tickets"
    tickets.mkdir(parents=True)
    for i in range(1, target.occurrence):
        (tickets / str(i)).touch()
    if target.occurrence > 1:
        _last_ticket(tickets).write_text(f"{target.occurrence - 1}\n")
    shim = directory / target.name
    shim.write_text(_shim_text(target, syscall, tickets, true))
    shim.chmod(0o755)
    out = directory / "trace"
    strace = shutil.which("strace") or "strace"
    subprocess.run(
        [strace, "-f", "-qq", "-s", "0", "-o", str(out), "-e", f"trace=?{syscall},execve",
         "--", str(shim)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=60, check=False,
    )  # fmt: skip
    events = parse_events(out.read_text(errors="surrogateescape")).events if out.exists() else ()
    execs = [e for e in events if e.name == "execve" and e.retval == 0]
    if len(execs) < 2:
        return 0
    first, last = execs[0], execs[-1]
    return sum(
        1
        for e in events
        if e.name == syscall and e.tid == first.tid and first.seq < e.seq < last.seq
    )


def new_directory() -> Path:
    """A fresh directory for a shim (outside every tree)."""
    return Path(tempfile.mkdtemp(prefix="mk-exec-shim-"))
