"""Placing an errno in one thread of many: an ``LD_PRELOAD`` shim runs the target's thread ahead.

strace counts ``inject=...:when=N`` per thread. A migrator with a worker pool (Python's
``ThreadPoolExecutor`` copying images into a ``mkdtemp`` folder, libuv's four threads under
Node) makes the same calls in every worker: each copied file's first ``fsync`` is call 1 of
its worker, and which worker copies which file is up to the scheduler. With a random folder
name there is no ``-P`` path to narrow the count, so every worker reaches ``when`` and strace
fails the first one's call, not the recorded one's. No strace option narrows an injection to
one thread, and the exec shim (:mod:`harness.faults.exec_shim`) singles out processes only.

What does single out the call is its position among the calls that name the same files (up
to the random parts of their names), all threads together: a pool works on each file in one
worker, so that position does not depend on the scheduling. A small C library, built once
with the system's C compiler and loaded into the run with ``LD_PRELOAD``
(``thread_shim.c``), wraps libc's file functions and counts those calls. At the target it
makes that thread's count run ahead: harmless calls of the syscall (every argument -1: EBADF
or EFAULT, nothing is touched) until strace fails one with the injected errno, which happens
at ``AHEAD`` calls; then the real call, which strace fails too (``when=AHEAD..AHEAD+1``).
``AHEAD`` is more than any thread's count of that syscall in the recording, so no other
thread gets there. The fault is strace's, in the kernel's syscall path, as for every other
case; the shim only decides which thread reaches the count.

Limits, all of which leave a case "not judged" (never a failure): a program that makes the
call without libc's exported function (a static binary, a raw ``syscall``, stdio's internal
writes) is not counted; no C compiler, no shim. The landing check reads strace's output as
for every other injection; the harmless calls name no file and are not hits.
"""

from __future__ import annotations

import errno as errno_names
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.faults.exec_shim import ShimUnavailable, exec_target
from harness.faults.masking import MASK, mask_name, rebase
from harness.faults.straceout import SyscallEvent, decode_fd, decode_string
from harness.faults.syscalls import SYSCALLS

SPEC_ENV = "MK_THREAD_SHIM"  # "SYSCALL ERRNO ORDINAL AHEAD"
FILES_ENV = "MK_THREAD_SHIM_FILES"  # one glob per file the call names

# What ends a kill's run-ahead: no harmless call fails with it on its own.
KILL_MARKER = "EIO"
_SOURCE = Path(__file__).with_name("thread_shim.c")
# Calls beyond the busiest thread's count: what the rest of a run may add to a thread's.
_MARGIN = 64
# A name part that may be random though masking keeps it as a possible word: tempfile draws
# an all-letter suffix about one time in sixteen (``.staging-cwkhapxy``). Loose on purpose:
# the landing check, which masks strictly, still compares the call strace failed.
_LOOSE_PART = re.compile(r"(?<=[-_.])[A-Za-z0-9_]{6,10}(?=$|\.)")


@dataclass(frozen=True)
class ThreadTarget:
    """The call to fail, as the shim finds it in any run: the ``ordinal``-th call that may
    make ``syscall`` and names files matching ``globs``, counted over the whole process."""

    syscall: str
    globs: tuple[str, ...]  # one shell glob per file the call names (the run's namespace)
    ordinal: int
    ahead: int  # strace's ``when``: the count the target's thread runs up to

    def inject_expression(self, effect: str, *, hold: str | None = None) -> str:
        """strace's ``inject=`` value failing the harmless call that ends the run-ahead and
        the real call after it with ``effect``; for a kill (``hold``), failing the harmless
        call with a marker errno and holding both: the kill comes at the real one's entry
        (its count is ``ahead + 1``), within ``hold``."""
        if hold is not None:
            return f"{self.syscall}:error={KILL_MARKER}:delay_enter={hold}:when={self.window}"
        return f"{self.syscall}:error={effect}:when={self.window}"

    @property
    def window(self) -> str:
        return f"{self.ahead}..{self.ahead + 1}"

    def env(self, env: Mapping[str, str], effect: str | None) -> dict[str, str]:
        """``env`` with the shim preloaded (after any library the migrator preloads itself)
        and told which call to run ahead for, up to the errno ``effect`` (None: a kill's
        marker)."""
        library = str(build())
        preload = " ".join(p for p in (env.get("LD_PRELOAD", ""), library) if p)
        number = getattr(errno_names, effect or KILL_MARKER)
        return {
            **env,
            "LD_PRELOAD": preload,
            SPEC_ENV: f"{self.syscall} {number} {self.ordinal} {self.ahead}",
            FILES_ENV: "\n".join(self.globs),
        }

    def describe(self) -> str:
        return (
            f"singled out by a thread shim (LD_PRELOAD): the {self.ordinal}th call of the "
            f"process on {', '.join(self.globs)} runs its thread ahead to call {self.ahead}"
        )


def thread_target(
    events: Sequence[SyscallEvent],
    event: SyscallEvent,
    moved: Mapping[str, str] | None = None,
) -> ThreadTarget | None:
    """The shim's aim at ``event`` of a recording, in a run whose directories ``moved`` maps
    the recorded ones to; None when the call names no file the shim can see."""
    keys = [None if k is None else rebase(k, moved or {}) for k in file_keys(event)]
    if not keys or any(k is None for k in keys):
        return None
    globs = tuple(shim_glob(k) for k in keys if k is not None)
    patterns = [_glob_regex(g) for g in globs]
    ordinal = 0
    for other in events:
        if other.name == event.name:
            theirs = [None if k is None else rebase(k, moved or {}) for k in file_keys(other)]
            if len(theirs) == len(patterns) and all(
                k is not None and p.fullmatch(k) for k, p in zip(theirs, patterns, strict=True)
            ):
                ordinal += 1
        if other.seq == event.seq:
            break
    if ordinal == 0:
        return None
    most = max(Counter(e.tid for e in events if e.name == event.name).values(), default=0)
    return ThreadTarget(event.name, globs, ordinal, 2 * most + _MARGIN)


@dataclass(frozen=True)
class Preload:
    """The shim set up for one run, ready to extend that run's environment."""

    target: ThreadTarget
    effect: str | None  # the errno (None: a kill)

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        return self.target.env(env, self.effect)


def pool_shares_out(events: Sequence[SyscallEvent], event: SyscallEvent) -> bool:
    """Whether other threads of ``event``'s process make its syscall too (a worker pool),
    so that its count in its thread depends on which worker got which file. Not for a
    child that exec'd a program: that one the exec shim singles out."""
    if exec_target(events, event) is not None:
        return False
    group = thread_group(events, event.tid)
    return len({e.tid for e in events if e.name == event.name and e.tid in group}) > 1


def thread_group(events: Sequence[SyscallEvent], tid: int) -> set[int]:
    """The threads of ``tid``'s process in a recording: the ones its ``clone`` calls made
    with ``CLONE_THREAD``, and theirs, and the thread that made it, if it is one."""
    parent: dict[int, int] = {}
    for e in events:
        made = e.name in ("clone", "clone3") and e.retval is not None and e.retval > 0
        if made and any("CLONE_THREAD" in a for a in e.args):
            parent[e.retval] = e.tid
    leader = tid
    while leader in parent:
        leader = parent[leader]
    return {leader} | {t for t in parent if _leader_of(t, parent) == leader}


def _leader_of(tid: int, parent: Mapping[int, int]) -> int:
    while tid in parent:
        tid = parent[tid]
    return tid


def file_keys(event: SyscallEvent) -> list[str | None]:
    """What the shim compares for each file ``event`` names (as ``thread_shim.c`` computes
    it from the function's arguments): a descriptor's path; a path as given when it is
    absolute or relative to the working directory; else its directory descriptor's path
    joined to it."""
    keys: list[str | None] = []
    for where in SYSCALLS[event.name].paths:
        fd_arg = event.args[where.fd] if where.fd is not None and where.fd < len(event.args) else ""
        if where.path is None:
            keys.append(decode_fd(fd_arg)[1])
            continue
        path = decode_string(event.args[where.path]) if where.path < len(event.args) else None
        dir_fd, dir_path = decode_fd(fd_arg) if where.fd is not None else (None, None)
        if path is None:
            keys.append(dir_path)
        elif path.startswith("/") or dir_fd is None:
            keys.append(path)
        else:
            keys.append(None if dir_path is None else f"{dir_path}/{path}")
    return keys


def is_run_ahead_call(event: SyscallEvent) -> bool:
    """Whether ``event`` is one of the shim's harmless calls: it names no file at all."""
    return all(k is None for k in file_keys(event))


def shim_glob(path: str) -> str:
    """``path`` as a shell glob that matches it in another run: random name parts (and
    parts that may be random) are ``*``, everything else is literal."""
    parts = []
    for name in path.split("/"):
        masked = mask_name(name)
        if masked == name:
            masked = _LOOSE_PART.sub(MASK, name)
        parts.append("*".join(re.sub(r"([*?\[\\])", r"[\1]", p) for p in masked.split(MASK)))
    return "/".join(parts)


@functools.lru_cache(maxsize=1024)
def _glob_regex(glob: str) -> re.Pattern[str]:
    """``fnmatch(3)`` with ``FNM_PATHNAME`` for the globs :func:`shim_glob` makes."""
    out = []
    for token in re.findall(r"\[.\]|\*|[^*\[]+", glob):
        if token == "*":
            out.append("[^/]*")
        elif token.startswith("["):
            out.append(re.escape(token[1]))
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


@functools.cache
def build() -> Path:
    """The shim library, compiled once per source and machine (cached in the temp folder).

    Raises :class:`ShimUnavailable` when there is no C compiler or the build fails.
    """
    numbers = "\n".join(
        f'#ifdef SYS_{name}\n    {{"{name}", SYS_{name}}},\n#endif' for name in SYSCALLS
    )
    source = _SOURCE.read_text().replace("/* @NUMBERS@ */", numbers)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    library = Path(tempfile.gettempdir()) / f"mk-thread-shim-{os.getuid()}-{digest}.so"
    if library.is_file():
        return library
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        raise ShimUnavailable("no C compiler (cc) to build the thread shim")
    work = Path(tempfile.mkdtemp(prefix="mk-thread-shim-"))
    try:
        (work / "shim.c").write_text(source)
        done = subprocess.run(
            [compiler, "-O2", "-shared", "-fPIC", "-o", str(work / "shim.so"),
             str(work / "shim.c"), "-ldl", "-lpthread"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no output"])[0]
            raise ShimUnavailable(f"the thread shim does not build: {first}")
        os.replace(work / "shim.so", library)  # atomic: workers may build it at once
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return library
