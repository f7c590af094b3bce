"""The proof that the kit catches defects: its marker, and the runner both test modules use."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "proof: runs the kit's scenarios against deliberately broken migrators and the Node "
        "example (minutes; deselect with -m 'not proof')",
    )
