"""A child pytest, as the ``checklist`` and ``explore`` commands start one.

Both commands run their cases as the tests of a scenarios module in a child ``pytest``
(``sys.executable -m pytest``: the interpreter the kit is installed in), so that what they
run replays with plain pytest and pytest-xdist spreads it over workers. This is the one
place that says how such a child is started: its plugins, its environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.run.adapters import Migrator
from harness.scenario.replay_command import pythonpath_for

# A child pytest loads the kit's plugin and pytest-xdist, and no other installed plugin
# (PYTEST_DISABLE_PLUGIN_AUTOLOAD, set in :func:`child_env`): what else a person has
# installed cannot change what the scenarios run (pytest-randomly's order, say), and no
# process pays for plugins the scenarios do not use. They cost every pytest process, the
# controller and each xdist worker, over a second of start-up before any scenario runs:
# Faker's plugin imports every locale, Hypothesis' imports all of Hypothesis for its
# end-of-run summary (the scenarios' properties run Hypothesis inside the test, which its
# plugin does not see), and pytest rewrites the asserts of every module of every
# distribution that has a plugin, Hypothesis' and the kit's included.
# The cache stays out too: a run must not depend on the one before.
AUTOLOAD_OFF = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
CHILD_PLUGINS = ("migration_kit", "xdist")


def plugin_args() -> list[str]:
    """The ``-p`` options of a child pytest (its environment is :func:`child_env`)."""
    argv = ["-p", "no:cacheprovider"]
    for name in CHILD_PLUGINS:
        argv += ["-p", name]
    return argv


def child_env(migrator: Migrator) -> dict[str, str]:
    """This environment, plus the migrator's import root where the child needs it, with
    plugin autoloading off (see :data:`CHILD_PLUGINS`)."""
    env = {**os.environ, AUTOLOAD_OFF: "1"}
    pythonpath = pythonpath_for(migrator)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def pytest_argv(args: Sequence[str]) -> list[str]:
    """The whole command line of a child pytest given its own arguments ``args``."""
    return [sys.executable, "-m", "pytest", *plugin_args(), *args]


def migrator_options(migrator: Migrator) -> list[str]:
    """The child's options that make its migrator this one beyond ``--migrator``: the
    directory it runs in (the child itself may run elsewhere) and its timeout."""
    return ["--migrator-cwd", migrator.cwd, "--migrator-timeout", f"{migrator.timeout:g}"]


def run_pytest(args: Sequence[str], migrator: Migrator, *, cwd: Path | None = None) -> int:
    """Run a child pytest with ``args`` for ``migrator`` (in ``cwd``, default here) to its
    end; its exit status."""
    argv = pytest_argv([*args, *migrator_options(migrator)])
    done = subprocess.run(argv, cwd=cwd, env=child_env(migrator), check=False)
    return done.returncode
