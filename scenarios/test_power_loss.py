"""A power cut at every durability point of a migration (SPEC R17).

A kill (R10, ``test_faults_explore``) keeps everything the migrator wrote: the kernel still
holds it and writes it out. A power cut does not: data never fsynced is gone, and a
rename, unlink or mkdir whose directory was never fsynced may be undone. So the migrator
runs once on the default tree while strace records every file call with the bytes written;
the trace is then replayed onto a model of the page cache, and at every point where the
disk's state can change (just before each fsync, rename, unlink, mkdir, rmdir, link,
symlink and file creation, and at the end) two crash states are written out:

- ``synced``: only what was fsynced survives (POSIX's promise and nothing more);
- ``committed``: every directory change reached the disk (a journal commit), the file
  data not fsynced did not (delayed allocation): the "zero-length file after a crash";
- ``prefix`` and ``torn``: as ``committed``, with half of each file's unsynced writes, or
  every other unsynced 4 KiB block, on disk;
- ``reordered``: the directory changed last on disk ahead of every other one.

Which kinds apply is the persistence profile's choice (``--fs``, default posix-minimal:
all of them; harness.explore.powerloss.profiles).

In each, every user's content must be whole somewhere, and a clean re-run must reach the
fault-free result. Each (point, state) is its own test, so xdist spreads them; equal states
are judged once per session. ``--migrator``, ``--explore-tree`` and ``--mk-seed`` change
what is explored (``migration-kit explore --power-loss`` runs this module); a bigger tree is
marked ``explore_large`` (``--explore-large``).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from fixtures import variants
from harness.explore.backends import backend_available
from harness.explore.baseline import cache_key
from harness.explore.exploration import Exploration
from harness.explore.powerloss.baseline import power_baseline
from harness.explore.powerloss.explorer import EFFECTS, END, PowerLoss, run_case
from harness.explore.powerloss.judge import Judge, JudgementStore
from harness.explore.powerloss.profiles import DEFAULT_FS, Fs
from harness.explore.results import Case, CaseResult
from harness.judge.verdict import raise_if_broken
from harness.pytest_plugin.explore import (
    CASE_PROPERTY,
    TARGET_PROPERTY,
    exploration_from_config,
    lazy_params,
    raise_outcome,
    seeded,
    skip_if_not_judged,
)
from harness.store import codec
from harness.store.scratch import ram_scratch

pytestmark = pytest.mark.power_loss

# A busier data dir: a half-migrated user, one whose migration fails by design (a
# different new DB), one without a DB, an old backup, and what is not a user at all.
LARGE_TREE = variants.demo()

# What a power-loss case id holds besides an operation and an errno (K-OPERATION-EFFECT).
POWER_ID_WORDS = (*EFFECTS.values(), END, "power-loss")

_POWER = pytest.StashKey[dict[Exploration, PowerLoss]]()
_JUDGES = pytest.StashKey[dict[Exploration, Judge]]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    if "power_case" in metafunc.fixturenames:
        exploration = exploration_from_config(config)
        params = lazy_params(metafunc, lambda: _params(config, exploration), POWER_ID_WORDS)
        metafunc.parametrize("power_case", params)
    if "large_power_case" in metafunc.fixturenames:
        if not config.getoption("mk_explore_large", False):  # not recorded unless asked for
            skip = pytest.mark.skip(reason="a bigger tree (minutes): run with --explore-large")
            param = pytest.param(None, marks=skip, id="not-asked")
            metafunc.parametrize("large_power_case", [param])
            return
        exploration = dataclasses.replace(
            exploration_from_config(config), tree=seeded(config, LARGE_TREE)
        )
        params = lazy_params(metafunc, lambda: _params(config, exploration), POWER_ID_WORDS)
        metafunc.parametrize("large_power_case", params)


def _params(config: pytest.Config, exploration: Exploration) -> list[Any]:
    """One param per (crash point, kind), the same in every worker (the baseline is shared)."""
    available = backend_available("syscall")
    if not available:
        reason = f"power loss replays a syscall trace: {available.reason}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="unavailable")]
    power = _power(config, exploration)
    return [
        pytest.param((exploration, case), id=f"{case.index}-{case.operation}-{case.effect}")
        for case in power.cases()
    ]


def _power(config: pytest.Config, exploration: Exploration) -> PowerLoss:
    known = config.stash.setdefault(_POWER, {})
    if exploration not in known:
        fs = Fs(config.getoption("mk_fs", None) or DEFAULT_FS)
        known[exploration] = PowerLoss(power_baseline(exploration), fs=fs)
    return known[exploration]


def _judge(config: pytest.Config, power: PowerLoss, shared: Path) -> Judge:
    """One judge per process and exploration; xdist workers share their judgements."""
    known = config.stash.setdefault(_JUDGES, {})
    exploration = power.base.exploration
    if exploration not in known:
        scratch = tempfile.TemporaryDirectory(prefix="mk-powerloss-", dir=ram_scratch())
        config.add_cleanup(scratch.cleanup)
        # Under xdist, every worker's basetemp is a folder of this session's own basetemp.
        store = None
        if hasattr(config, "workerinput"):
            key = cache_key(exploration)
            store = JudgementStore(shared.parent / f"powerloss-{key}")
        known[exploration] = Judge(power.base, Path(scratch.name), store=store)
    return known[exploration]


def _target(power: PowerLoss) -> dict[str, Any]:
    return {
        "target": power.target(),
        "baseline": codec.to_data(power.base.verdicts),
        "not_explored": power.not_explored(),
    }


def _record(item: pytest.Item, power: PowerLoss, result: CaseResult) -> None:
    """The case's result in the test's reports, for ``--explore-json`` on the controller."""
    item.user_properties.append((TARGET_PROPERTY, json.dumps(_target(power))))
    item.user_properties.append((CASE_PROPERTY, codec.to_json(result)))


def _run_case(
    request: pytest.FixtureRequest,
    chosen: tuple[Exploration, Case],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    exploration, case = chosen
    power = _power(request.config, exploration)
    skip_if_not_judged(request.node, power.base, _target(power))
    judge = _judge(request.config, power, tmp_path_factory.getbasetemp())
    result = run_case(power, case, judge)
    _record(request.node, power, result)
    raise_outcome(request.node, result)


def test_replay_reproduces_the_fault_free_run(request: pytest.FixtureRequest) -> None:
    """The model is only worth its crash states if, with nothing dropped, it ends where the
    real run ended: every file with the same bytes (SQLite's mmap'ed -shm aside)."""
    exploration = exploration_from_config(request.config)
    available = backend_available("syscall")
    if not available:
        pytest.skip(f"power loss replays a syscall trace: {available.reason}")
    power = _power(request.config, exploration)
    skip_if_not_judged(request.node, power.base, _target(power))
    assert power.self_check == (), "\n".join(power.self_check)
    raise_if_broken(
        power.base.verdicts,
        output=f"exit status {power.base.exit_status}\n{power.base.output}",
        context=(("Tree", exploration.target()["tree"]),),
    )


def test_power_loss(
    request: pytest.FixtureRequest,
    power_case: tuple[Exploration, Case],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A power cut at one point of the default tree's migration, leaving one kind of crash
    state: nothing lost in it, the fault-free result after a clean re-run."""
    _run_case(request, power_case, tmp_path_factory)


@pytest.mark.explore_large
def test_power_loss_bigger_tree(
    request: pytest.FixtureRequest,
    large_power_case: tuple[Exploration, Case],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The same on a busier tree: WAL rows, a half-migrated user, a user failing by design,
    a user without a DB, an old backup, and the server's own files beside the users."""
    _run_case(request, large_power_case, tmp_path_factory)
