"""The one shell command that replays exactly one scenario, from any directory.

``--pyargs scenarios.test_05_dry_run::test_x`` names the test by its module, so the command
does not depend on where the kit is installed; it starts with ``cd`` to the migrator's
directory, where the migrator runs (a ``cmd:`` migrator's relative paths mean the same);
``--mk-seed`` regenerates the same trees; ``--migrator`` names the same migrator. A ``py:``
migrator that a fresh interpreter cannot import from a neutral directory (a module found
through the current directory, say) needs its import root on ``PYTHONPATH``:
``pythonpath_for`` says what to set, for a replay line and for the child pytest of
``migration-kit checklist``.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from harness.contract import layout
from harness.run.adapters import DEFAULT_TIMEOUT, Migrator, PythonMigrator


def pytest_argv() -> list[str]:
    """``pytest`` when the one on PATH is this interpreter's, else ``<python> -m pytest``."""
    found = shutil.which("pytest")
    here = os.path.dirname(os.path.realpath(sys.executable))
    if found and os.path.dirname(os.path.realpath(found)) == here:
        return ["pytest"]
    return [sys.executable, "-m", "pytest"]


@functools.cache
def _importable_anywhere(module: str) -> bool:
    """Whether a fresh interpreter started in an empty directory finds ``module``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    with tempfile.TemporaryDirectory(prefix="mk-import-") as neutral:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=neutral, env=env, capture_output=True, check=False
        )
    return done.returncode == 0


def pythonpath_for(migrator: Migrator) -> str | None:
    """The ``PYTHONPATH`` a replay needs: the migrator's import root when a fresh process
    could not import it otherwise, then whatever ``PYTHONPATH`` is set now; None if empty."""
    parts: list[str] = []
    if isinstance(migrator, PythonMigrator) and migrator.import_root:
        top = migrator.target.partition(":")[0].split(".")[0]
        if not _importable_anywhere(top):
            parts.append(migrator.import_root)
    parts += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(parts)) or None


def replay_command(
    *,
    module: str,
    test: str,
    migrator: str,
    seed: int,
    large: bool = False,
    pythonpath: str | None = None,
    cwd: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    after_check: str | None = None,
) -> str:
    """``module`` is the dotted module (``scenarios.test_05_dry_run``), ``test`` the rest
    of the node id (``test_x[param]``), ``pythonpath`` what ``pythonpath_for`` returned,
    ``cwd`` the migrator's directory (the command starts there), ``timeout`` its timeout."""
    argv = [*pytest_argv(), "--pyargs", f"{module}::{test}"]
    argv += ["--migrator", migrator, "--mk-seed", str(seed), "-p", "no:randomly"]
    if timeout != DEFAULT_TIMEOUT:
        argv += ["--migrator-timeout", f"{timeout:g}"]
    if large:
        argv.append("--large")
    if after_check:
        argv += ["--after-check", after_check]
    if layout.replay_value():
        argv += ["--mk-layout", str(layout.replay_value())]
    line = shlex.join(argv)
    if pythonpath:
        line = f"PYTHONPATH={shlex.quote(pythonpath)} {line}"
    return f"cd {shlex.quote(cwd)} && {line}" if cwd else line
