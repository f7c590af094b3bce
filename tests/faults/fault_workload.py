"""A small migration-like workload, the same code for every backend's tests.

Run as a script (``python fault_workload.py DIR``) it prints one JSON line per operation;
imported, :func:`run` reports the same lines to a callback. Each line is
``[operation, n, errno name or null]`` where n counts that operation from 1, so a test can
assert that a plan hit exactly the Nth operation with exactly its errno, on any backend.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable
from typing import Any

Report = Callable[[list[Any]], None]
FAILED = object()  # what ``do`` returns for an operation that raised

# (plan, the one report line that must fail), the same table for every backend: a plan
# means the same operation everywhere.
PLAN_CASES = [
    ("open_write#2:EACCES", ["open_write", 2, "EACCES"]),
    ("write#3:ENOSPC", ["write", 3, "ENOSPC"]),
    ("fsync#4:EIO", ["fsync", 4, "EIO"]),  # the directory fsync
    ("rename#2:EXDEV", ["rename", 2, "EXDEV"]),
    ("rename#1:EIO@*/f2", ["rename", 3, "EIO"]),  # the glob picks the third rename
    ("fsync#1:ENOSPC@*/f1.tmp", ["fsync", 2, "ENOSPC"]),  # fsync matched by its fd's path
    ("mkdir#1:ENOSPC", ["mkdir", 1, "ENOSPC"]),
    ("rmdir#1:EACCES", ["rmdir", 1, "EACCES"]),
    ("unlink#1:EIO", ["unlink", 1, "EIO"]),
]


def failures(lines: list[list[Any]]) -> list[list[Any]]:
    """The report lines of operations that failed."""
    return [line for line in lines if line[2] is not None]


def report_lines(stdout: str) -> list[list[Any]]:
    """The report lines a run of this script printed."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("[")]


def run(root: str, report: Report) -> None:
    """Three rounds of write-fsync-rename, then mkdir, rmdir, unlink and a directory fsync.

    Paths are relative to ``root`` (the process changes into it), so tracing must resolve
    them; each operation's failure is reported and the workload carries on, skipping only
    what the failure made impossible (no rename of a file that could not be created).
    """
    counts: dict[str, int] = {}

    def do(op: str, fn: Callable[..., Any], *args: Any) -> Any:
        counts[op] = counts.get(op, 0) + 1
        try:
            result, failed = fn(*args), None
        except OSError as exc:
            result, failed = FAILED, errno.errorcode[exc.errno]
        report([op, counts[op], failed])
        return result

    os.chdir(root)
    for i in range(3):
        fd = do("open_write", os.open, f"f{i}.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if fd is FAILED:
            continue  # nothing to write or rename this round
        do("write", os.write, fd, b"data %d" % i)
        do("fsync", os.fsync, fd)
        os.close(fd)
        do("rename", os.rename, f"f{i}.tmp", f"f{i}")
    if do("mkdir", os.mkdir, "d") is not FAILED:
        do("rmdir", os.rmdir, "d")
    do("unlink", os.unlink, "f0")
    dir_fd = os.open(".", os.O_RDONLY)
    do("fsync", os.fsync, dir_fd)
    os.close(dir_fd)


if __name__ == "__main__":
    run(sys.argv[1], lambda line: print(json.dumps(line), flush=True))
