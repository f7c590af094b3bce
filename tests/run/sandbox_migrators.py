"""Migrators the sandbox tests run: each breaks SPEC's external contract in one way."""

from __future__ import annotations

import os
from pathlib import Path


def writes_outside(data_dir: Path, *, dry_run: bool) -> None:
    """Keeps its lock file where ``$OUTSIDE`` says, not in DATA_DIR."""
    Path(os.environ["OUTSIDE"]).write_text(f"locked {data_dir}")
