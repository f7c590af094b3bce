"""``--mk-progress NAME``: the run's progress on stderr, from the controller.

``migration-kit checklist`` and ``explore`` run their scenarios and cases in a child pytest,
whose own output (``-q``: a dot per test, spread over xdist workers) names nothing, counts
nothing a person can read at a glance, and stays still while a migrator hangs. With this
option the controller (the process a person watches; never an xdist worker) reports through
:class:`harness.report.progress.Progress`: which test runs now, how many are done of how
many, the time, and how many failed so far (the findings). On a terminal that is one live
line, and pytest's dots, which would break it, are left out (the summary at the end stays).

The line goes to the stderr the process had when pytest started: pytest captures file
descriptor 2 while a test runs, and the clock must still reach the person then.
"""

from __future__ import annotations

import os
from typing import Any, TextIO

import pytest

from harness.report.progress import Progress


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migration-kit", "migration-kit scenarios")
    group.addoption(
        "--mk-progress",
        dest="mk_progress",
        metavar="NAME",
        default=None,
        help="show the run's progress on stderr as NAME: the test running now, how many are "
        "done of how many, the time, the failures so far (a live line on a terminal)",
    )


def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("mk_progress", None)
    if name and not hasattr(config, "workerinput"):  # a worker: its controller reports
        config.pluginmanager.register(ProgressReporter(name), "migration-kit-progress")


COLLECTING = "the collection (and the fault-free recordings the explorer's cases need)"


class ProgressReporter:
    """The controller's progress: counts the tests' reports as they arrive."""

    def __init__(self, name: str) -> None:
        # Capturing is suspended while plugins are configured: fd 2 is the real stderr here.
        self.stream: TextIO = os.fdopen(os.dup(2), "w", buffering=1, errors="replace")
        self.shown = Progress(name, unit="tests", stream=self.stream)
        self.failed: set[str] = set()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self) -> None:
        # Collecting may take long: the explorer records its fault-free runs then.
        self.shown.start(COLLECTING)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.shown.set_total(len(session.items))  # without xdist; with it, the workers collect
        self.shown.done(COLLECTING, counted=False)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        del node
        if self.shown.total is None:  # every worker collects the same ids
            self.shown.set_total(len(ids))
            self.shown.done(COLLECTING, counted=False)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.shown.start(_short(nodeid))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.add(report.nodeid)
        if report.when == "teardown":
            self.shown.done(_short(report.nodeid), findings=int(report.nodeid in self.failed))

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> Any:
        """On a live line, pytest's own letters (``.``, ``F``, ``s``) are not written: they
        would land in the middle of it. The category and word stay (the summary counts
        by them)."""
        result = yield
        if self.shown.live and isinstance(result, tuple) and len(result) == 3:
            category, _letter, word = result
            return category, "", word
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.shown.close()  # before pytest's summary: the live line is cleared first

    def pytest_unconfigure(self) -> None:
        self.shown.close()
        self.stream.close()


def _short(nodeid: str) -> str:
    """``test_fault_case[3-kill]`` for ``scenarios/test_faults_explore.py::test_fault_case[..]``."""
    return nodeid.rpartition("::")[2] or nodeid
