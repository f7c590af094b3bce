"""A small correct migrator with a worker pool, in the style of issue 17's Python corpus: a
``ThreadPoolExecutor`` copies every image into a ``mkdtemp`` staging folder inside the tree
(a random name in every run), fsyncs it, and renames it into place. Which worker copies which
image is up to the scheduler. Used by test_landing.py: an errno lands on the recorded
worker's call though every worker makes the same calls (harness.faults.thread_shim)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor


def main(data_dir: str, drawn: str | None = None) -> int:
    """``drawn``: the staging folder's random part, as tempfile draws it now and then (all
    letters), to make that run's name the one masking cannot tell from a word."""
    source, target = os.path.join(data_dir, "in"), os.path.join(data_dir, "out")
    os.makedirs(target, exist_ok=True)
    if drawn is None:
        staging = tempfile.mkdtemp(prefix=".staging-", dir=data_dir)
    else:
        staging = os.path.join(data_dir, f".staging-{drawn}")
        os.mkdir(staging, 0o700)

    def copy(name: str) -> None:
        staged = os.path.join(staging, name)
        with open(os.path.join(source, name), "rb") as src, open(staged, "wb") as dst:
            dst.write(src.read())
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(staged, os.path.join(target, name))

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(copy, sorted(os.listdir(source))))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
