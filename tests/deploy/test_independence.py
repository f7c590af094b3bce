"""The deploy tools judge and preview a migrator: they must not share its code (a preview
that shares the migrator's code shares its bugs). Checked on the source, so a new import of
``migrator`` in any of them fails here, not in a review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.deploy.deploy_helpers import REPO

DEPLOY_SOURCES = [
    *sorted((REPO / "harness" / "deploy").glob("*.py")),
    REPO / "harness" / "cli" / "deploy.py",
]


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("source", DEPLOY_SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_deploy_module_imports_the_reference_migrator(source: Path) -> None:
    shared = sorted(n for n in _imported(source) if n == "migrator" or n.startswith("migrator."))
    assert not shared, f"{source.name} imports {shared}"
