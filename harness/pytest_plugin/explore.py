"""pytest's side of the fault explorer: options, the ``explore_large`` marker, the results.

A thin skin over the fault explorer (:mod:`harness.explore.cases`), loaded next to
``harness.pytest_plugin.scenarios``. It adds:

- ``--effects LIST`` (``EIO,ENOSPC,...``, ``kill`` or ``all``), ``--explore-tree SPEC``
  (a TreeSpec JSON file, or the JSON itself), ``--explore-backend syscall|inprocess``,
  ``--explore-every-write``: what ``scenarios/test_faults_explore.py`` explores;
- ``--explore-large`` and the ``explore_large`` marker: the exhaustive explorations of
  bigger trees run only when asked for (minutes);
- ``--explore-json PATH``: every case's result, folded per exploration into
  :class:`~harness.explore.results.ExploreReport` JSON (what ``migration-kit explore`` reads);
- an exploration summary (failing cases and their replay commands) in the terminal.

Results reach the controller the way the scenarios' do: each case test puts its
:class:`~harness.explore.results.CaseResult` (JSON) in ``user_properties``, which
pytest-xdist carries from the worker to the controller's reports.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from fixtures.spec import TreeSpec
from harness.contract.errors import KitError
from harness.contract.settings import DEFAULT_FS, EXPLORE_TIMEOUT, FS_PROFILES
from harness.explore.backends import backend_available
from harness.explore.baseline import Baseline, baseline
from harness.explore.exploration import (
    ALL_EFFECTS,
    BACKENDS,
    DEFAULT_TREE,
    Exploration,
    parse_effects,
)
from harness.explore.results import (
    NOT_JUDGED,
    CaseResult,
    ExploreReport,
    nothing_judged_reason,
    write_reports,
)
from harness.faults.availability import Backend
from harness.faults.plan import Operation
from harness.judge.verdict import Verdict
from harness.pytest_plugin.results import NOT_JUDGED as NOT_JUDGED_PROPERTY
from harness.pytest_plugin.selection import may_select
from harness.run.adapters import DEFAULT_MIGRATOR
from harness.store import codec

MARKER = "explore_large"
LARGE_REASON = "an exhaustive exploration of a bigger tree (minutes): run with --explore-large"
CASE_PROPERTY = "mk_explore_case"  # a CaseResult as JSON
TARGET_PROPERTY = "mk_explore_target"  # the exploration and its fault-free run's verdicts
_BASELINES = pytest.StashKey[dict[Exploration, Baseline]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migration-kit explore", "migration-kit fault exploration")
    group.addoption(
        "--effects",
        dest="mk_effects",
        metavar="LIST",
        default=None,
        help="effects to explore: errno names and/or kill, comma-separated (EIO,ENOSPC,"
        "EACCES,EXDEV,kill), or 'all'; default: the scenario's own choice",
    )
    group.addoption(
        "--explore-tree",
        dest="mk_explore_tree",
        metavar="SPEC",
        default=None,
        help="the tree to explore: a TreeSpec JSON file or the JSON text "
        "(default: harness.explore.exploration.DEFAULT_TREE)",
    )
    group.addoption(
        "--explore-backend",
        dest="mk_explore_backend",
        choices=BACKENDS,
        default=None,
        help="syscall (strace; any migrator process) or inprocess (py: migrators, fast); "
        "default: the scenario's choice (syscall, or inprocess for py: property runs)",
    )
    group.addoption(
        "--explore-every-write",
        dest="mk_explore_every_write",
        action="store_true",
        help="make every write a case, not only the first of each run of writes to a file",
    )
    group.addoption(
        "--explore-every-kill",
        dest="mk_explore_every_kill",
        action="store_true",
        help="also kill before operations that change nothing on disk (fsyncs, failed "
        "calls), which the default suite leaves out as repeats of the next kill",
    )
    group.addoption(
        "--explore-large",
        dest="mk_explore_large",
        action="store_true",
        help=f"also run the tests marked {MARKER} (every effect on bigger trees)",
    )
    group.addoption(
        "--fs",
        dest="mk_fs",
        choices=FS_PROFILES,
        default=DEFAULT_FS,
        help="power-loss scenarios: the persistence profile whose crash states are built "
        f"({', '.join(FS_PROFILES)}; default {DEFAULT_FS}, docs/power-loss.md)",
    )
    group.addoption(
        "--explore-json",
        dest="mk_explore_json",
        metavar="PATH",
        default=None,
        help="write each exploration's report (every case, verdicts, losses, replays) to PATH",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: {LARGE_REASON}")
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        config.pluginmanager.register(ExploreRecorder(config), "migration-kit-explore")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    placeholders = [i for i in items if _param_id(i) == NOT_SELECTED]
    if placeholders:  # see lazy_params
        config.hook.pytest_deselected(items=placeholders)
        items[:] = [i for i in items if _param_id(i) != NOT_SELECTED]
    if config.getoption("mk_explore_large"):
        return
    skip = pytest.mark.skip(reason=LARGE_REASON)
    for item in items:
        if item.get_closest_marker(MARKER) is not None:
            item.add_marker(skip)


def exploration_from_config(
    config: pytest.Config,
    *,
    effects: tuple[str, ...] | None = None,
    distinct_kills: bool = False,
) -> Exploration:
    """The exploration the options ask for; ``effects`` and ``distinct_kills`` are the
    scenario's default choices (``--effects`` and ``--explore-every-kill`` override them).

    The tree is ``--explore-tree`` or :data:`harness.explore.exploration.DEFAULT_TREE`,
    regenerated from ``--mk-seed`` (the plugin's) when given, as every scenario's trees are.
    """
    try:
        text = config.getoption("mk_explore_tree", None)
        tree = TreeSpec.load(text) if text else DEFAULT_TREE
        effects_text = config.getoption("mk_effects", None)
        return Exploration(
            migrator=_migrator_spec(config),
            tree=seeded(config, tree),
            backend=config.getoption("mk_explore_backend", None) or Backend.SYSCALL,
            effects=parse_effects(effects_text) if effects_text else effects,
            every_write=bool(config.getoption("mk_explore_every_write", False)),
            distinct_kills=distinct_kills and not config.getoption("mk_explore_every_kill", False),
            timeout=config.getoption("mk_migrator_timeout", None) or EXPLORE_TIMEOUT,
        )
    except KitError as exc:  # a bad tree, effect, backend or spec: the options' fault
        raise pytest.UsageError(f"exploration options: {exc}") from None


def seeded(config: pytest.Config, tree: TreeSpec) -> TreeSpec:
    """``tree`` generated from ``--mk-seed`` when that option is given."""
    seed = config.getoption("mk_seed", None)
    return tree if seed is None else dataclasses.replace(tree, seed=seed)


def _migrator_spec(config: pytest.Config) -> str:
    spec = config.getoption("mk_migrator", None)
    return spec.strip() if spec else DEFAULT_MIGRATOR


def baseline_for(config: pytest.Config, exploration: Exploration) -> Baseline:
    """The exploration's baseline, once per process (and once on disk for all of them)."""
    known = config.stash.setdefault(_BASELINES, {})
    if exploration not in known:
        known[exploration] = baseline(exploration)
    return known[exploration]


def case_params(config: pytest.Config, exploration: Exploration) -> list[Any]:
    """One ``pytest.param((exploration, case), id=...)`` per case, the same in every worker.

    Where the backend cannot run (no strace, ptrace denied) a single skipped param says why.
    """
    available = backend_available(exploration.backend)
    if not available:
        reason = f"{available.backend} fault backend unavailable: {available.reason}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="unavailable")]
    base = baseline_for(config, exploration)
    return [pytest.param((exploration, c), id=f"{c.index}-{c.effect}") for c in base.cases()]


# What the ids of case params are made of, besides numbers and "-_+" (see lazy_params).
ID_WORDS = (*ALL_EFFECTS, *(op.value for op in Operation), "kill", "unavailable", "not-asked")
NOT_SELECTED = "mk-not-selected"


def lazy_params(
    metafunc: pytest.Metafunc, params: Callable[[], list[Any]], id_words: Iterable[str] = ()
) -> list[Any]:
    """``params()``, unless ``-k``/``-m`` can select none of the function's tests whatever
    their ids (:func:`harness.pytest_plugin.selection.may_select`; ids made of
    :data:`ID_WORDS` and ``id_words``): then one placeholder that collection drops, and
    the recording ``params()`` would make (minutes, with a slow migrator) is not made."""
    if may_select(metafunc, (*ID_WORDS, *id_words)):
        return params()
    return [pytest.param(None, id=NOT_SELECTED)]


def _param_id(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.id


def record(item: pytest.Item, base: Baseline, result: CaseResult) -> None:
    """Attach ``result`` (and what was explored) to the test's reports, for the controller."""
    item.user_properties.append((TARGET_PROPERTY, json.dumps(target_of(base))))
    item.user_properties.append((CASE_PROPERTY, codec.to_json(result)))


def skip_if_not_judged(item: pytest.Item, base: Baseline, target: dict[str, Any]) -> None:
    """Stop a test of an exploration that can judge nothing (``nothing_judged_reason``): it is
    reported "not judged" (a distinct outcome, never a pass: ``harness.report.checklist``),
    and ``target`` (the exploration) reaches the controller with the reason."""
    reason = nothing_judged_reason(base.before, base.reference, base.exit_status)
    if reason is None:
        return
    item.user_properties.append((NOT_JUDGED_PROPERTY, reason))
    item.user_properties.append((TARGET_PROPERTY, json.dumps({**target, "nothing_judged": reason})))
    pytest.skip(f"not judged: {reason}")


def target_of(base: Baseline) -> dict[str, Any]:
    """What a case's reports say about its exploration (the controller groups by it)."""
    return {
        "target": base.exploration.target(),
        "baseline": codec.to_data(base.verdicts),
        "not_explored": base.not_explored(),
    }


def raise_outcome(item: pytest.Item, result: CaseResult) -> None:
    """A case test's end: pass, fail (a rule broken), or, for a case not judged, skip with
    the property that counts it apart ("judged 499 of 531"): it proves nothing either way,
    so it is neither a failure of the migrator nor a pass."""
    if result.outcome == NOT_JUDGED:
        item.user_properties.append((NOT_JUDGED_PROPERTY, True))
        pytest.skip(f"not judged: {_last_line(result.fault)}")
    if result.outcome != "ok":
        raise result.error()


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].removeprefix("not judged: ") if lines else "the fault could not be placed"


class ExploreRecorder:
    """The controller's side: folds case results into reports, writes and prints them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.targets: dict[str, dict[str, Any]] = {}
        self.results: dict[str, dict[str, CaseResult]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        props = dict(report.user_properties)
        if TARGET_PROPERTY not in props:
            return
        target = json.loads(props[TARGET_PROPERTY])
        key = json.dumps(target["target"], sort_keys=True)
        self.targets[key] = {**self.targets.get(key, {}), **target}
        if CASE_PROPERTY not in props:  # a test that judged nothing (skip_if_not_judged)
            return
        result = codec.from_json(CaseResult, props[CASE_PROPERTY])
        self.results.setdefault(key, {})[result.case.id] = result

    def reports(self) -> list[ExploreReport]:
        return [
            ExploreReport(
                target=t["target"],
                baseline=codec.from_data(tuple[Verdict, ...], t["baseline"]),
                results=tuple(
                    sorted(
                        self.results.get(key, {}).values(),
                        key=lambda r: (r.case.index, r.case.effect),
                    )
                ),
                not_explored=t["not_explored"],
                nothing_judged=t.get("nothing_judged", ""),
            )
            for key, t in self.targets.items()
        ]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("mk_explore_json")
        if path:
            write_reports(Path(path), self.reports())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.config.getoption("mk_no_summary", False):  # `migration-kit explore` prints it
            return
        for report in self.reports():
            if report.exit_status == 0 and not terminalreporter.verbosity > 0:
                line = report.render().splitlines()[-1]
                terminalreporter.write_line(f"fault exploration: {line}")
                continue
            terminalreporter.write_sep("=", "fault exploration")
            for line in report.render().splitlines():
                terminalreporter.write_line(line)
