"""The fault-free run a power-loss exploration replays, recorded with every byte it wrote.

The fault explorer's baseline (:func:`harness.explore.baseline.baseline`) records which
operations a run makes; a power-loss replay also needs *what* each write wrote, so the run is
recorded with strace's ``-s`` raised to :data:`DATA_LIMIT`; and where each plain write lands,
so ``lseek`` is traced too (``positions=True``: the fuller of the recorder's two levels).
Everything else is the fault explorer's: the same tree copies, the same process and
environment (:func:`harness.explore.backends.process_of`), the same cache layout and key
(plus the data limit), read back by :func:`harness.explore.baseline.load_baseline` as an
ordinary :class:`~harness.explore.baseline.Baseline`. So
every pytest-xdist worker replays the very same recording and lists the same crash points.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fixtures.factory import TreeFactory
from harness.explore.backends import process_of
from harness.explore.baseline import Baseline, cached_baseline
from harness.explore.baseline import cache_key as fault_cache_key
from harness.explore.exploration import Exploration, ExploreError
from harness.faults.availability import Backend
from harness.faults.exec_shim import Shim
from harness.faults.thread_shim import Preload
from harness.faults.trace import record

# Bytes of each written buffer kept in the trace. A small tree's largest single write is
# a copy chunk (1 MiB in the reference's fallback copy) or a whole small file; strace
# prints each byte as up to four characters, so the trace stays tens of MB at most.
DATA_LIMIT = 1 << 24


def cache_key(exploration: Exploration) -> str:
    """The fault explorer's key for the same run, made distinct by the data it keeps, and by
    the ``TMPDIR`` the run is given: a migrator that stages copies there (os.tmpdir()) is
    replayed through that folder's files, so a recording is only reused where it is the
    same folder (a ``migration-kit`` command gives every session a folder of its own).
    The replay should not need this: a known limit (docs/power-loss.md)."""
    tmpdir = os.environ.get("TMPDIR", "")
    text = f"{fault_cache_key(exploration)}\npower-loss\n{DATA_LIMIT}\n{tmpdir}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def record_baseline(
    exploration: Exploration,
    workdir: Path,
    factory: TreeFactory,
    *,
    inject: tuple[str, ...] = (),
    shim: Shim | Preload | None = None,
) -> Baseline:
    """Record the run now, in ``workdir`` (an empty or absent directory), with every byte it
    writes: fault-free, or with strace's ``inject`` expressions (a failed fsync's run), with
    ``shim`` first on PATH when the fault is for one child of many (or preloaded, for one
    worker of a thread pool)."""
    if exploration.backend != Backend.SYSCALL:
        raise ExploreError("power loss replays a syscall trace: use the syscall backend")
    migrator = exploration.open_migrator()
    before_dir, tree = Path(workdir) / "before", Path(workdir) / "tree"
    factory.make(exploration.tree, before_dir)
    factory.make(exploration.tree, tree)
    argv, env = process_of(migrator, tree)
    if shim is not None:
        env = shim.env(env)
    recorded = record(
        argv,
        cwd=os.getcwd(),
        env=env,
        timeout=migrator.timeout,
        data_limit=DATA_LIMIT,
        positions=True,
        inject=inject,
    )
    output = recorded.run.stdout + recorded.run.stderr
    return Baseline(
        exploration, recorded.trace, str(tree), before_dir, tree, recorded.run.returncode, output
    )


def power_baseline(
    exploration: Exploration,
    *,
    factory: TreeFactory | None = None,
    root: Path | None = None,
) -> Baseline:
    """The exploration's baseline with written bytes: recorded on first use, then cached
    (safely from many processes at once: :func:`harness.explore.baseline.cached_baseline`)."""
    return cached_baseline(
        exploration,
        cache_key(exploration),
        record_baseline,
        factory,
        root,
        meta={"data_limit": DATA_LIMIT},
    )
