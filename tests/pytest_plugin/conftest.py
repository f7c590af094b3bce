"""The kit's plugin as a person's pytest runs it: a child pytest through ``pytester``.

The child starts in pytester's directory, far from the repository, and loads the plugin the
way an installed kit is loaded: through its ``migration_kit`` entry point. Where plugin
autoloading is off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), the entry points are named with
``-p``, as a person would have to.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from harness.cli.child_pytest import AUTOLOAD_OFF, CHILD_PLUGINS
from harness.contract.settings import CACHE_ENV, default_cache_dir
from tests.support.childrun import TIMEOUT_S

KitPytest = Callable[..., pytest.RunResult]

# pytester points HOME at its own directory, which would make every child rebuild its trees
# in a fresh cache: the children keep the cache this session would use.
CACHE = default_cache_dir()


def plugin_args() -> list[str]:
    """``-p`` options of the child: no cache (a run must not depend on the one before), no
    benchmark plugin, and the kit's plugin and xdist by name when autoloading is off (the
    plugins the kit's own child pytests name)."""
    argv = ["-p", "no:cacheprovider", "-p", "no:benchmark"]
    if os.environ.get(AUTOLOAD_OFF):
        for name in CHILD_PLUGINS:
            argv += ["-p", name]
    return argv


@pytest.fixture
def kit_pytest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> KitPytest:
    """``kit_pytest(*args)``: ``python -m pytest ARGS`` in a child process, in pytester's
    directory; its ``RunResult`` (``ret``, ``outlines``, ``errlines``)."""
    monkeypatch.setenv(CACHE_ENV, str(CACHE))

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*plugin_args(), *args, timeout=TIMEOUT_S)

    return run
