"""The kit's pytest plugin (loaded through the ``pytest11`` entry point).

A thin skin over objects that work without pytest: ``fixtures.factory.TreeFactory`` makes
data trees, ``harness.scenario.Trial`` runs and judges a migrator, ``harness.report`` folds
and renders results. Other parts of the kit add their fixtures, options and reports here.

What this file adds for the scenarios (``pytest --pyargs scenarios``):

- options ``--migrator SPEC``, ``--after-check SPEC`` (R18), ``--migrator-timeout SECONDS``,
  ``--migrator-cwd DIR``,
  ``--large``, ``--mk-seed N``, ``--checklist-json PATH``, ``--field-dir DIR`` and
  ``--desktop-migrator SPEC``; unset, they default from pytest's ini keys (``mk_migrator``,
  ...) and then the project's ``[tool.migration-kit]`` table
  (:mod:`harness.pytest_plugin.settings`); for a ``serve:`` migrator ``--ready-line``,
  ``--ready-port``, ``--fail-line``, ``--ready-timeout``, ``--stop-grace`` (also ini keys
  ``mk_ready_line`` etc.), folded into the ``--migrator`` spec at configure time so that
  everything reading the option sees one spec (:mod:`harness.run.serve`);
- a marker per checklist item (``harness.report.items``) and ``large``;
- fixtures ``migrator``, ``mk_seed`` and ``trial`` (and ``disk``, the ``--disk`` kind, and
  ``needs_mounts``/``needs_strace``, which skip with the backend's reason where it cannot run);
- per test, the seed and the replay command (and, on failure, the rules and users a
  ``RuleBroken`` named) in ``report.user_properties``, so they reach the xdist controller;
- on the controller, the seed's checklist in the terminal summary and the JSON results.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.factory import TreeFactory
from fixtures.manifest import Manifest
from fixtures.spec import TreeSpec
from harness.faults import mounts, strace
from harness.pytest_plugin import results as res
from harness.pytest_plugin import settings
from harness.report.checklist import ChecklistRun, summary_lines
from harness.report.items import ALL_ITEMS
from harness.report.shards import Slice
from harness.run import sandbox, serve
from harness.run.adapters import (
    DEFAULT_MIGRATOR,
    DEFAULT_TIMEOUT,
    Migrator,
    MigratorSpecError,
    parse_migrator,
)
from harness.scenario import Trial, replay_command
from harness.scenario.aftercheck import AfterCheckSpecError, parse_after_check
from harness.scenario.replay_command import pythonpath_for
from harness.store import codec

MakeTree = Callable[[TreeSpec], tuple[Path, Manifest]]


@pytest.fixture(scope="session")
def tree_factory() -> TreeFactory:
    """One factory per session; its cache ($MIGRATION_KIT_CACHE or ~/.cache/migration-kit) is
    shared by xdist workers, who build each tree once between them."""
    return TreeFactory()


@pytest.fixture
def make_tree(tree_factory: TreeFactory, tmp_path: Path) -> MakeTree:
    """``make_tree(spec) -> (data_dir, manifest)``: a private copy of the tree, under tmp_path."""
    count = 0

    def make(spec: TreeSpec) -> tuple[Path, Manifest]:
        nonlocal count
        count += 1
        return tree_factory.make(spec, tmp_path / f"tree{count}")

    return make


# ---------------------------------------------------------------------------------------------
# The scenarios: options, markers, the migrator and the trial.

DEFAULT_SEED = 0
MIGRATOR_KEY = pytest.StashKey[Migrator]()
AFTER_CHECK_KEY = pytest.StashKey[Migrator | None]()
REPLAY_KEY = pytest.StashKey[str | None]()
LARGE_REASON = "a > 100 MB tree: run with --large (pytest) or `migration-kit checklist --large`"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migration-kit", "migration-kit scenarios")
    group.addoption(
        "--migrator",
        dest="mk_migrator",
        metavar="SPEC",
        default=None,
        help=f"the migrator the scenarios judge: 'py:package.module:function', "
        f"'cmd:<shell command>' (may use {{data_dir}}) or 'serve:<server command>'; "
        f"default {DEFAULT_MIGRATOR}",
    )
    serve.add_options(group.addoption)
    for name, _, _, text in serve.OPTIONS:
        parser.addini(f"mk_{name}", f"{text} (as --{name.replace('_', '-')})", default=None)
    group.addoption(
        "--after-check",
        dest="mk_after_check",
        metavar="SPEC",
        default=None,
        help="R18: the app, run on a copy of the tree after every successful migration "
        "(a migrator-like spec: 'cmd:...', 'py:...', or 'serve:[OPTIONS --] COMMAND'; "
        "DATA_DIR is the migrated tree); its non-zero exit, timeout, JSON error event or (serve:) "
        "--fail-line match is a finding",
    )
    group.addoption(
        "--migrator-timeout",
        dest="mk_migrator_timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="kill a migrator run (and everything it started) after SECONDS and report that "
        f"it did not finish; default {DEFAULT_TIMEOUT:g} (an exploration's cases: 120)",
    )
    group.addoption(
        "--mk-layout",
        dest="mk_layout",
        default=None,
        metavar="NAME|FILE",
        help="the target layout: peek-slug (default), peek-uuid or a layout file "
        "(docs/layouts.md); ini mk_layout, project key layout",
    )
    group.addoption(
        "--migrator-cwd",
        dest="mk_migrator_cwd",
        default=None,
        metavar="DIR",
        help="the directory the migrator runs in and a py: target is imported from "
        "(default: the current directory)",
    )
    group.addoption(
        "--large",
        dest="mk_large",
        action="store_true",
        help="also run the scenarios marked 'large' (> 100 MB trees, minutes)",
    )
    group.addoption(
        "--disk",
        dest="mk_disk",
        choices=[k.value for k in mounts.FsKind],
        default=mounts.FsKind.TMPFS.value,
        help="the file system the disk-full and another-file-system scenarios mount: tmpfs "
        "(default), or a loop-mounted ext4 or xfs image (root and /dev/loop-control); "
        "docs/power-loss.md says what each is faithful to",
    )
    group.addoption(
        "--mk-seed",
        dest="mk_seed",
        type=int,
        default=None,
        metavar="N",
        help=f"generate every scenario's trees from seed N (default {DEFAULT_SEED}); "
        "a failure prints the seed it used",
    )
    group.addoption(
        "--checklist-json",
        dest="mk_checklist_json",
        metavar="PATH",
        default=None,
        help="write every test's outcome, rules broken, seed and replay command to PATH",
    )
    group.addoption(
        "--mk-html",
        dest="mk_html",
        metavar="PATH",
        default=None,
        help="write the checklist as a self-contained HTML report to PATH (the findings, "
        "their evidence and replay commands, every item and scenario, the rules)",
    )
    group.addoption(
        "--field-dir",
        dest="mk_field_dir",
        metavar="DIR",
        default=None,
        help="field specs (migration-kit capture) that scenarios/test_field.py replays as "
        "regression scenarios; default $MIGRATION_KIT_FIELD_DIR, else scenarios/field/",
    )
    group.addoption(
        "--desktop-migrator",
        dest="mk_desktop_migrator",
        metavar="SPEC",
        default=None,
        help="the desktop (or mobile) migrator scenarios/test_desktop.py holds to the "
        "non-destructive rules; default $MIGRATION_KIT_DESKTOP_MIGRATOR, else the reference",
    )
    settings.add_ini(parser)
    group.addoption(  # for `migration-kit checklist`, which prints the checklist itself
        "--no-checklist-summary",
        dest="mk_no_summary",
        action="store_true",
        help=argparse.SUPPRESS,
    )


def pytest_report_header(config: pytest.Config) -> str:
    """What keeps the migrator inside its tree, before anything runs: a namespace, or only
    detection (then a write outside DATA_DIR really happens before it is reported)."""
    return f"migration-kit sandbox: {sandbox.probe()}"


def pytest_configure(config: pytest.Config) -> None:
    for item in ALL_ITEMS:
        config.addinivalue_line(
            "markers",
            f"{item.marker}: checklist item {item.number}, {item.text} ({', '.join(item.rules)})",
        )
    config.addinivalue_line("markers", f"{res.LARGE}: {LARGE_REASON}")
    settings.apply(config)  # the command line, else the ini file, else [tool.migration-kit]
    try:
        config.option.mk_migrator = _folded_spec(config)
        config.stash[MIGRATOR_KEY] = parse_migrator(
            config.option.mk_migrator,
            cwd=config.getoption("mk_migrator_cwd"),
            timeout=config.getoption("mk_migrator_timeout"),
        )
    except (MigratorSpecError, serve.ServeSpecError) as exc:
        raise pytest.UsageError(f"--migrator: {exc}") from None
    try:
        config.stash[AFTER_CHECK_KEY] = parse_after_check(
            config.getoption("mk_after_check"),
            cwd=config.getoption("mk_migrator_cwd"),
            timeout=config.getoption("mk_migrator_timeout"),
            like=config.stash[MIGRATOR_KEY],
        )
    except AfterCheckSpecError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        config.pluginmanager.register(ChecklistRecorder(config), "migration-kit-checklist")


def _folded_spec(config: pytest.Config) -> str | None:
    """``--migrator`` with the serve options written into it: the ini keys' (for a
    ``serve:`` spec only: a project's config must not break its other migrators), then the
    command line's over them."""
    spec = config.getoption("mk_migrator")
    if spec is not None and spec.strip().startswith(serve.PREFIX):
        spec = serve.fold_spec(spec, {n: config.getini(f"mk_{n}") for n in serve.NAMES})
    return serve.fold_spec(spec, {n: config.getoption(f"mk_{n}") for n in serve.NAMES})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("mk_large"):
        return
    skip = pytest.mark.skip(reason=LARGE_REASON)
    for item in items:
        if item.get_closest_marker(res.LARGE) is not None:
            item.add_marker(skip)


def scenario_seed(config: pytest.Config) -> int:
    seed = config.getoption("mk_seed")
    return DEFAULT_SEED if seed is None else seed


def replay_for(item: pytest.Item) -> str | None:
    """The command that reruns exactly ``item`` with the same migrator and seed (made once
    per test: the ``trial`` fixture and each phase's report ask for it)."""
    if REPLAY_KEY not in item.stash:
        item.stash[REPLAY_KEY] = _replay_command(item)
    return item.stash[REPLAY_KEY]


def _replay_command(item: pytest.Item) -> str | None:
    module = getattr(item, "module", None)
    if module is None or "::" not in item.nodeid:
        return None
    migrator = item.config.stash[MIGRATOR_KEY]
    return replay_command(
        module=module.__name__,
        test=item.nodeid.split("::", 1)[1],
        migrator=migrator.spec,
        seed=scenario_seed(item.config),
        large=item.get_closest_marker(res.LARGE) is not None,
        pythonpath=pythonpath_for(migrator),
        cwd=migrator.cwd,
        timeout=migrator.timeout,
        after_check=item.config.getoption("mk_after_check"),
    )


@pytest.fixture(scope="session")
def migrator(pytestconfig: pytest.Config) -> Migrator:
    """The migrator under test (``--migrator``; the reference migrator by default)."""
    return pytestconfig.stash[MIGRATOR_KEY]


@pytest.fixture(scope="session")
def after_check(pytestconfig: pytest.Config) -> Migrator | None:
    """The app's check (``--after-check``, R18); None when none is given."""
    return pytestconfig.stash[AFTER_CHECK_KEY]


@pytest.fixture(scope="session")
def mk_seed(pytestconfig: pytest.Config) -> int:
    """The seed every scenario tree is generated from (``--mk-seed``, default 0)."""
    return scenario_seed(pytestconfig)


@pytest.fixture
def trial(
    request: pytest.FixtureRequest,
    migrator: Migrator,
    tree_factory: TreeFactory,
    tmp_path: Path,
    mk_seed: int,
    after_check: Migrator | None,
) -> Trial:
    """A ``Trial`` for this test: trees under tmp_path, the session's seed, its replay, and
    the app's check after every successful migration (``--after-check``)."""
    return Trial(
        migrator,
        tree_factory,
        tmp_path,
        seed=mk_seed,
        replay=replay_for(request.node),
        after_check=after_check,
    )


@pytest.fixture(scope="session")
def disk(pytestconfig: pytest.Config) -> mounts.FsKind:
    """The file system the real-disk scenarios mount (``--disk``)."""
    return mounts.FsKind(pytestconfig.getoption("mk_disk"))


@pytest.fixture(scope="session")
def needs_mounts(disk: mounts.FsKind) -> None:
    """Skip, with the reason, where mounts of the ``--disk`` kind are not permitted (not
    root, a container without loop devices); with ``MK_REQUIRE_LOOP=1`` a loop kind that
    cannot run fails instead, so CI cannot pass by skipping."""
    available = mounts.backend_available(disk)
    if available:
        return
    if disk.loop and os.environ.get("MK_REQUIRE_LOOP") == "1":
        pytest.fail(f"MK_REQUIRE_LOOP=1 but {available.backend}: {available.reason}")
    pytest.skip(f"real-disk backend unavailable: {available.reason}")


@pytest.fixture(scope="session")
def needs_strace() -> None:
    """Skip, with the reason, where strace cannot inject faults (missing, ptrace denied)."""
    available = strace.backend_available()
    if not available:
        pytest.skip(f"syscall backend unavailable: {available.reason}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Put the seed, the replay command and what a ``RuleBroken`` named on the report.

    ``user_properties`` is what pytest-xdist carries from a worker to the controller; a new
    list per report, because pytest shares the item's list between its phases' reports.
    """
    report = yield
    # Markers, not keywords: keywords hold parametrize ids too, and an id such as
    # ``[hostile]`` on an unrelated test would count it under a checklist item.
    markers = res.checklist_markers(m.name for m in item.iter_markers())
    if markers:
        props = [
            (res.MARKERS, markers),
            (res.SEED, scenario_seed(item.config)),
            (res.REPLAY, replay_for(item)),
        ]
        if call.excinfo is not None:
            props += res.broken_properties(call.excinfo.value)
        report.user_properties = [*report.user_properties, *props]
    return report


class ChecklistRecorder:
    """The controller's side: collects every test's reports, writes the JSON, prints the
    checklist. Registered only where reports end up (never on an xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.reports: dict[str, list[Any]] = {}
        self.start = time.monotonic()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.start = time.monotonic()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reports.setdefault(report.nodeid, []).append(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.reports.setdefault(report.nodeid, []).append(report)

    def run(self) -> ChecklistRun:
        results = tuple(res.fold(nodeid, reps) for nodeid, reps in self.reports.items())
        spec = self.config.stash[MIGRATOR_KEY].spec
        return ChecklistRun(
            spec, time.monotonic() - self.start, results, self.shard(), sandbox=sandbox.probe()
        )

    def shard(self) -> Slice | None:
        """The slice this session ran (``--mk-shard``), as its tests' reports say."""
        for reports in self.reports.values():
            for report in reports:
                found = dict(getattr(report, "user_properties", ())).get(res.SHARD)
                if found is not None:
                    return codec.from_data(Slice, found)
        return None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("mk_checklist_json")
        page = self.config.getoption("mk_html")
        run = self.run() if path or page else None  # one fold of every report for both
        if path and run is not None:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(run.to_json(), encoding="utf-8")
        if page and run is not None:
            from harness.report import html

            html.write(Path(page), html.checklist_html(run))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.config.getoption("mk_no_summary"):
            return
        run = self.run()
        if not any(r.markers for r in run.results):
            return
        terminalreporter.write_sep("=", "server migration checklist")
        for line in summary_lines(run):
            terminalreporter.write_line(line, **_markup(line))


def _markup(line: str) -> dict[str, bool]:
    text = line.lstrip()
    if text.startswith("[x]") or text.startswith("PASSED"):
        return {"green": True}
    if "FAILED" in text:
        return {"red": True, "bold": True}
    if text.startswith("[-]"):
        return {"yellow": True}
    return {}
