"""A small correct migrator in the style of issue 17's field report: every file goes
through a ``tempfile.mkdtemp()`` scratch folder (a random name in every run) before it
reaches its place. Used by test_landing.py to show that faults land on such a migrator."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile


def main(data_dir: str) -> int:
    source, target = os.path.join(data_dir, "in"), os.path.join(data_dir, "out")
    os.makedirs(target, exist_ok=True)
    for name in sorted(os.listdir(source)):
        # dir= skips gettempdir()'s probe file, a bare 8-letter name that is all letters in
        # ~6% of runs and then left unmasked (harness.faults.masking): a known hole
        scratch = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
        try:
            staged = os.path.join(scratch, name)
            shutil.copyfile(os.path.join(source, name), staged)  # sendfile on Linux
            shutil.copyfile(staged, os.path.join(target, name + ".part"))
            os.replace(os.path.join(target, name + ".part"), os.path.join(target, name))
        finally:
            shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
