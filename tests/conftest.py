"""Fixtures for the plugin's (``tests/pytest_plugin``) and the checklist command's
(``tests/cli``) own tests.

``pytester`` is enabled here because pytest accepts ``pytest_plugins`` only in a top-level
conftest; loading it costs nothing (pytest imports it anyway) and its fixture is used only
where asked for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.childrun import DO_NOTHING

pytest_plugins = ["pytester"]


@pytest.fixture
def do_nothing(tmp_path: Path) -> Path:
    """A directory holding ``donothing.py`` (``py:donothing:migrate``), importable only from
    there: the broken migrator's failure path, and a replay that needs its PYTHONPATH."""
    folder = tmp_path / "migrators"
    folder.mkdir()
    (folder / "donothing.py").write_text(DO_NOTHING)
    return folder


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty directory far from the repository, to run commands from."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder
