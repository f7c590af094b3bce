"""In-repo glue only: the kit's pytest plugin (``harness.pytest_plugin``) is loaded through its
``pytest11`` entry point once the package is installed (``pip install -e .``).

The one thing here is the ``corpus`` marker of the kit's own tests: a whole checklist of a
correct migrator from the corpus that spawns a child process per step (a shell script) takes
minutes, so the default suite leaves it out and CI runs it in a step of its own (``--corpus``).
"""

from __future__ import annotations

import pytest

CORPUS = "corpus"
CORPUS_REASON = "a whole checklist of a slow corpus migrator: minutes; run with --corpus"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--corpus",
        action="store_true",
        dest="mk_corpus",
        help="also run the tests marked 'corpus' (whole checklists of slow corpus migrators)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{CORPUS}: {CORPUS_REASON}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A child pytest rooted elsewhere may load this file late, after options were read:
    # its hooks run, its option was never added (default: leave the marker's tests out).
    if config.getoption("mk_corpus", default=False):
        return
    skip = pytest.mark.skip(reason=CORPUS_REASON)
    for item in items:
        if item.get_closest_marker(CORPUS) is not None:
            item.add_marker(skip)
