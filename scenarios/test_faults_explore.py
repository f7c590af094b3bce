"""Every single fault at every file operation: SQLite's anomaly-testing loop (checklist item
4, "rollback on failure", made exhaustive; SPEC R9, R10, R12, R8).

The migrator runs once without a fault while its file operations are recorded (the
baseline, kept on disk so that every pytest-xdist worker lists the same cases). Then, for
every operation k and every effect, a fresh copy of the tree is migrated with exactly that
fault: an errno, or the process killed just before the operation. In the state the fault
leaves, every user's content must still be whole somewhere the next run (or a person) finds
it; an errno must be reported or recovered from; a clean re-run must reach exactly the
fault-free result. Each case is its own test, so xdist spreads them over its workers.

The default suite explores the small default tree (two legacy users, one with half her rows
in the WAL and three images, and one already migrated) with :data:`SUITE_EFFECTS`, chosen to
stay well under a minute with ``-n 2``. Every effect on that tree, and on a bigger tree, is
marked ``explore_large`` (``--explore-large``). ``--effects``, ``--explore-tree`` and
``--explore-backend`` change what the default-suite test explores: that is how
``migration-kit explore`` uses this module.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fixtures import variants
from fixtures.factory import TreeFactory
from harness.explore.backends import backend_available
from harness.explore.cases import run_case
from harness.explore.exploration import DEFAULT_TREE, Exploration
from harness.explore.results import Case
from harness.judge.verdict import raise_if_broken
from harness.pytest_plugin import explore as explore_plugin

pytestmark = pytest.mark.faults

# A kill at every operation that changes the tree: every intermediate state the migrator can
# leave (R10), in well under a minute with -n 2 (a kill before an fsync leaves the same tree
# as the kill before the next operation; --explore-every-kill adds those). Every errno at
# every operation (R9, R8, R12) is three times as many cases: the explore_large run, or
# `migration-kit explore`, whose default is every effect at every operation.
SUITE_EFFECTS = ("kill",)

# The bigger tree: WAL-only rows, many images, half states, a user without a DB, extras.
BIGGER_TREE = variants.bigger()
LARGE_TREES = {"default": DEFAULT_TREE, "bigger": BIGGER_TREE}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    if "suite_case" in metafunc.fixturenames:
        exploration = explore_plugin.exploration_from_config(
            config, effects=SUITE_EFFECTS, distinct_kills=True
        )
        params = explore_plugin.lazy_params(
            metafunc, lambda: explore_plugin.case_params(config, exploration)
        )
        metafunc.parametrize("suite_case", params)
    if "large_case" in metafunc.fixturenames:
        params = explore_plugin.lazy_params(metafunc, lambda: _large_params(config), LARGE_TREES)
        metafunc.parametrize("large_case", params)


def _large_params(config: pytest.Config) -> list[Any]:
    if not config.getoption("mk_explore_large", False):  # not recorded unless asked for
        skip = pytest.mark.skip(reason=explore_plugin.LARGE_REASON)
        return [pytest.param(None, marks=skip, id="not-asked")]
    every = explore_plugin.exploration_from_config(config, effects=None)
    params = []
    for name, tree in LARGE_TREES.items():
        exploration = dataclasses.replace(every, tree=explore_plugin.seeded(config, tree))
        for p in explore_plugin.case_params(config, exploration):
            params.append(pytest.param(*p.values, marks=p.marks, id=f"{name}-{p.id}"))
    return params


def _run_case(
    request: pytest.FixtureRequest,
    chosen: tuple[Exploration, Case],
    factory: TreeFactory,
) -> None:
    exploration, case = chosen
    base = explore_plugin.baseline_for(request.config, exploration)
    explore_plugin.skip_if_not_judged(request.node, base, explore_plugin.target_of(base))
    result = run_case(base, case, factory=factory)  # on a RAM disk where there is one
    explore_plugin.record(request.node, base, result)
    explore_plugin.raise_outcome(request.node, result)


def test_fault_free_run_keeps_every_users_content(request: pytest.FixtureRequest) -> None:
    """The yardstick of every case: the recorded run without a fault loses nothing.

    A migrator that already loses content without a fault (the WAL, say) is reported here
    once; the cases then judge only what the faults add. A fault-free run that changed
    nothing, or did not finish, leaves nothing to judge: this test and every case say "not
    judged" (never "passed").
    """
    exploration = explore_plugin.exploration_from_config(
        request.config, effects=SUITE_EFFECTS, distinct_kills=True
    )
    available = backend_available(exploration.backend)
    if not available:
        pytest.skip(f"{available.backend} fault backend unavailable: {available.reason}")
    base = explore_plugin.baseline_for(request.config, exploration)
    explore_plugin.skip_if_not_judged(request.node, base, explore_plugin.target_of(base))
    raise_if_broken(
        base.verdicts,
        output=f"exit status {base.exit_status}\n{base.output}",
        context=(("Tree", exploration.target()["tree"]),),
    )


def test_fault_case(
    request: pytest.FixtureRequest,
    suite_case: tuple[Exploration, Case],
    tree_factory: TreeFactory,
) -> None:
    """One fault at one operation of the default tree's migration, then a clean re-run:
    nothing lost in between, the fault-free result at the end."""
    _run_case(request, suite_case, tree_factory)


@pytest.mark.explore_large
def test_fault_case_exhaustive(
    request: pytest.FixtureRequest,
    large_case: tuple[Exploration, Case],
    tree_factory: TreeFactory,
) -> None:
    """Every applicable effect (EIO, ENOSPC, EACCES, EXDEV, kill) at every operation of the
    default tree and of a bigger one with WAL-only rows, many images and half states."""
    _run_case(request, large_case, tree_factory)
