"""A sandbox around every migrator process: it may change its tree and its scratch, nothing else.

SPEC's external contract says a migrator "must not write anywhere outside DATA_DIR and its
own temporary space". A migrator that ignores DATA_DIR and hard-codes a real path (the one
a rehearsal copied, say) would otherwise change what the kit promised to leave alone. So the
run's launcher (:mod:`harness.run.process`) enters a private mount namespace before it starts
the migrator, binds the writable places onto themselves (the tree, a private ``TMPDIR``,
whatever the kit needs for that run) and remounts every other mount read-only, except
``/dev``, ``/proc`` and ``/sys`` (so ``/dev/shm`` stays open: Python's multiprocessing needs
it). A write elsewhere fails with EROFS and did not happen. A traced run (fault injection,
power loss) keeps the ``TMPDIR`` it was given, the shared one included: its recorded paths
must replay (``harness.store.confine``).

Naming what it tried: the migrator's output usually names the path it could not write
(Python's ``OSError``, coreutils, Node), and every path named with "Read-only file system"
outside the writable places is reported ("wrote outside DATA_DIR: /x/y"). A migrator that
swallows the error is stopped all the same, silently.

Where namespaces are refused (not root, ``unshare`` fails, ``MIGRATION_KIT_SANDBOX=off``)
the run is not protected: the kit falls back to detection, comparing a listing of a few
candidate places (the tree's parent, the migrator's directory, two levels deep) before and
after the run. Not a folder that the rest of the machine writes in ($HOME, /, /tmp, the
system temp dir: anything else's write there would be named as the migrator's), and not a
place of more than :data:`WATCH_LIMIT` entries (a listing must not take long). The
protection in force, and for detection what was watched, is part of every run's result.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from harness.store.confine import (
    ALSO_WRITABLE_ENV,
    LAUNCHER_SETUP,
    SANDBOX_ENV,
    named_writable,
    wanted,
)

__all__ = [
    "ALSO_WRITABLE_ENV",
    "LAUNCHER_SETUP",
    "SANDBOX_ENV",
    "Listing",
    "Protection",
    "also_writable",
    "probe",
    "wanted",
]


class Protection(StrEnum):
    """What kept a run from writing outside its tree, as the report says it."""

    NAMESPACE = "mount namespace, read-only outside DATA_DIR"
    DETECTION = "detection only"
    NONE = "none"


# Places the kit itself lets the runs started in a ``with also_writable(...)`` block write.
_ALSO_WRITABLE: ContextVar[tuple[str, ...]] = ContextVar("also_writable", default=())


@contextlib.contextmanager
def also_writable(*paths: Path | str) -> Iterator[None]:
    """Leave ``paths`` writable, too, for the runs started inside the block (this thread):
    a rehearsal's private copies of what outward links point to, which a migrator that
    follows links must be seen to change (R13) rather than be stopped from changing."""
    token = _ALSO_WRITABLE.set((*_ALSO_WRITABLE.get(), *(os.path.abspath(p) for p in paths)))
    try:
        yield
    finally:
        _ALSO_WRITABLE.reset(token)


def extra_writable() -> tuple[str, ...]:
    """What :func:`also_writable` added for this thread's runs, and the places named in
    ``$MIGRATION_KIT_ALSO_WRITABLE`` (``harness.store.confine``)."""
    return (*_ALSO_WRITABLE.get(), *named_writable())


@functools.cache
def probe() -> str:
    """The protection runs get here, as a report's header says it: tried once per process
    (about 40 ms), the way the launcher does it."""
    if not wanted():
        return f"{Protection.DETECTION} (${SANDBOX_ENV} is off)"
    code = "import os, sys\n" + LAUNCHER_SETUP + "sys.stdout.write(_sandbox([]))\n"
    try:
        done = subprocess.run(
            [sys.executable, "-S", "-I", "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{Protection.DETECTION} (mount namespace refused: {exc})"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        return f"{Protection.DETECTION} (mount namespace refused: {why})"
    left = done.stdout.strip()
    return f"{Protection.NAMESPACE} ({left})" if left else str(Protection.NAMESPACE)


WATCH_DEPTH = 2  # how deep under a watched place the detection lists
WATCH_LIMIT = 2000  # entries a watched place may hold (at WATCH_DEPTH): a bigger one is not


@dataclass(frozen=True)
class Listing:
    """Detection without a namespace: names, sizes and change times in a few places.

    ``places`` were listed; ``overfull`` were not, having more than ``limit`` entries.
    """

    entries: dict[str, tuple[int, int]]
    places: tuple[str, ...] = ()
    overfull: tuple[str, ...] = ()
    limit: int = WATCH_LIMIT

    @classmethod
    def of(
        cls, places: Iterable[Path], skip: Sequence[str], *, limit: int = WATCH_LIMIT
    ) -> Listing:
        entries: dict[str, tuple[int, int]] = {}
        listed: list[str] = []
        overfull: list[str] = []
        for place in places:
            paths = _walk(place, skip, depth=WATCH_DEPTH, room=limit + 1)
            if len(paths) > limit:
                overfull.append(os.path.abspath(place))
                continue
            listed.append(os.path.abspath(place))
            for path in paths:
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                # A folder counts by its existence: its ctime moves with every entry made in
                # it, and the entry is named itself.
                folder = stat.S_ISDIR(st.st_mode)
                entries[path] = (0, 0) if folder else (st.st_size, st.st_ctime_ns)
        return cls(entries, tuple(listed), tuple(overfull), limit)

    def changed(self, after: Listing) -> list[str]:
        """Paths created, changed or removed between ``self`` and ``after`` (a listing of the
        same places); a place listed before that is over the limit after is named itself."""
        grown = [p for p in after.overfull if p in self.places]
        names = set(self.entries) | set(after.entries)
        changed = (
            p
            for p in names
            if self.entries.get(p) != after.entries.get(p) and not _inside(p, grown)
        )
        kept = [p for p in changed if not CACHE_NAMES & set(Path(p).parts)]
        return sorted([*kept, *grown])

    def describe(self) -> str:
        """What the detection watched, for the run's result (and a finding's)."""
        watched = (
            f"watched {', '.join(self.places)} ({WATCH_DEPTH} levels deep)"
            if self.places
            else "watched nothing"
        )
        if self.overfull:
            watched += f"; not {', '.join(self.overfull)} (over {self.limit} entries)"
        return watched


def _walk(place: Path, skip: Sequence[str], *, depth: int, room: int) -> list[str]:
    """``place`` and what lies under it ``depth`` levels deep, leaving out ``skip``: at most
    ``room`` paths (a folder of a million entries is not read to its end)."""
    top = os.path.abspath(place)
    if room <= 0 or _inside(top, skip):
        return []
    found = [top]
    if depth == 0 or not os.path.isdir(top) or os.path.islink(top):
        return found
    try:
        with os.scandir(top) as names:
            for entry in names:
                found += _walk(Path(entry.path), skip, depth=depth - 1, room=room - len(found))
                if len(found) >= room:
                    break
    except OSError:
        pass
    return found


def shared_folders() -> frozenset[str]:
    """Folders other programs write in all the time ($HOME, /, /tmp, the system temp dir):
    a listing of one would name their writes as the migrator's."""
    folders = ("/", "/tmp", tempfile.gettempdir(), os.path.expanduser("~"))
    return frozenset(f(p) for p in folders for f in (os.path.abspath, os.path.realpath))


def candidate_places(data_dir: Path, cwd: str | None) -> list[Path]:
    """Where a migrator that ignores DATA_DIR most likely writes: beside the tree and in its
    own directory. Not a folder the machine shares (:func:`shared_folders`): other
    processes write there all the time, and a detection that cries wolf gets switched off."""
    places = [Path(os.path.abspath(data_dir)).parent]
    if cwd:
        places.append(Path(os.path.abspath(cwd)))
    shared = shared_folders()
    return [
        p
        for p in dict.fromkeys(places)
        if str(p) not in shared and os.path.realpath(p) not in shared
    ]


# Caches a language runtime or tool writes on its own (Python's bytecode, pytest's): not
# the migrator's doing. In the namespace they are refused silently; here they are ignored.
CACHE_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".cache"})


def _inside(path: str, places: Sequence[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in places)


# Paths named next to "Read-only file system" (EROFS) by Python, coreutils and Node.
_EROFS_PATTERNS = (
    re.compile(r"Read-only file system: '([^'\n]+)'"),  # Python OSError
    re.compile(r"'([^'\n]+)'(?:\s*->\s*'[^'\n]+')?: Read-only file system"),  # coreutils
    re.compile(r"(/[^\s:'\"]*): Read-only file system"),  # sh redirections, unquoted tools
    re.compile(r"Read-only file system \((/[^()\n]+)\)"),  # "OSError: ... (path)"
    re.compile(r"EROFS: read-only file system, \w+ '([^'\n]+)'"),  # Node
)


def outside_paths(output: str, writable: Sequence[str], cwd: str | None) -> tuple[str, ...]:
    """Paths the migrator was refused (EROFS) outside ``writable``, as its output names them.

    A path inside the writable places is a fault the kit injected, not the sandbox.
    """
    if "read-only file system" not in output.lower():
        return ()
    allowed = [os.path.realpath(p) for p in writable] + [os.path.abspath(p) for p in writable]
    found: list[str] = []
    for pattern in _EROFS_PATTERNS:
        for match in pattern.finditer(output):
            path = os.path.normpath(os.path.join(cwd or "/", match.group(1)))
            if not _inside(path, allowed) and not _inside(os.path.realpath(path), allowed):
                found.append(path)
    return tuple(dict.fromkeys(found))
