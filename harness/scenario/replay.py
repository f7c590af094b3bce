"""The one shell command that replays exactly one scenario, from any directory.

``--pyargs scenarios.test_05_dry_run::test_x`` names the test by its module, so the command
does not depend on where the kit is installed or where the person stands; ``--mk-seed``
regenerates the same trees; ``--migrator`` names the same migrator; ``PYTHONPATH`` is carried
when set, because a ``py:`` migrator may only be importable through it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping


def pytest_argv() -> list[str]:
    """``pytest`` when the one on PATH is this interpreter's, else ``<python> -m pytest``."""
    found = shutil.which("pytest")
    here = os.path.dirname(os.path.realpath(sys.executable))
    if found and os.path.dirname(os.path.realpath(found)) == here:
        return ["pytest"]
    return [sys.executable, "-m", "pytest"]


def replay_command(
    *,
    module: str,
    test: str,
    migrator: str,
    seed: int,
    large: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """``module`` is the dotted module (``scenarios.test_05_dry_run``), ``test`` the rest
    of the node id (``test_x[param]``)."""
    argv = [*pytest_argv(), "--pyargs", f"{module}::{test}"]
    argv += ["--migrator", migrator, "--mk-seed", str(seed), "-p", "no:randomly"]
    if large:
        argv.append("--large")
    environ = os.environ if environ is None else environ
    line = shlex.join(argv)
    if environ.get("PYTHONPATH"):
        line = f"PYTHONPATH={shlex.quote(environ['PYTHONPATH'])} {line}"
    return line
