"""``--mk-shard K/N``: run one slice of the selected tests, for a CI job matrix.

The slice is :class:`harness.report.shards.Shard`'s: every N-th of the tests still selected
after ``-k``/``-m`` (this hook runs last), in collection order, from the K-th. The same code
and arguments collect the same tests in the same order on every machine (and in every xdist
worker, which each deselect alike), so the N slices are disjoint and cover the selection.

Each test's reports carry the slice and a digest of the whole selection (``SHARD``), so the
controller's results (``--checklist-json``) say which shard of how many ran, of which
selection: what ``migration-kit merge`` checks before it folds slices into one run.
"""

from __future__ import annotations

import pytest

from harness.contract.errors import KitError
from harness.pytest_plugin.results import SHARD
from harness.report.shards import Shard, Slice, digest, parse_shard
from harness.store import codec

_SLICE = pytest.StashKey[Slice]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migration-kit", "migration-kit scenarios")
    group.addoption(
        "--mk-shard",
        dest="mk_shard",
        metavar="K/N",
        default=None,
        help="run only slice K of N of the selected tests (every N-th in collection order, "
        "from the K-th): one job of a CI matrix; `migration-kit merge` folds the slices",
    )


def shard_option(config: pytest.Config) -> Shard | None:
    text = config.getoption("mk_shard", None)
    if not text:
        return None
    try:
        return parse_shard(text)
    except KitError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    shard_option(config)  # a bad K/N is a usage error before any collection


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = shard_option(config)
    if shard is None:
        return
    ids = [item.nodeid for item in items]
    config.stash[_SLICE] = Slice(shard.k, shard.n, len(ids), digest(ids))
    keep = set(shard.pick(ids))
    chosen = [item for item in items if item.nodeid in keep]
    dropped = [item for item in items if item.nodeid not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = chosen


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """The slice on every report, for the controller (a new list: phases share the item's)."""
    report = yield
    found = item.config.stash.get(_SLICE, None)
    if found is not None:
        report.user_properties = [*report.user_properties, (SHARD, codec.to_data(found))]
    return report
