"""Callables that show how the adapters call them (the contract, seen from inside)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("toy_migrator_probe")


def record(data_dir: Path, *, dry_run: bool = False, grace_days: float | None = None) -> None:
    log.info("logged")
    print(f"data_dir={data_dir} dry_run={dry_run} grace_days={grace_days}")
    print(f"pid={os.getpid()}")


def fail(data_dir: Path, *, dry_run: bool = False) -> None:
    raise RuntimeError("no space left for alice")


def touch(data_dir: Path, *, dry_run: bool = False) -> None:
    (Path(data_dir) / f"marker-{dry_run}").touch()
