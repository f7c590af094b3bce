"""The kit's defaults and the environment variables it reads, by name.

Cheap to import (``os`` and ``pathlib`` only), so that a command's ``--help`` can name them
without importing the code that acts on them: building ``migration-kit``'s parser must not
cost the import of the fixture builder, the fault engines or pytest.
"""

from __future__ import annotations

import os
from pathlib import Path

# The migrator a command judges when given none: the kit's reference migrator.
DEFAULT_MIGRATOR = "py:migrator.server:migrate"

CACHE_ENV = "MIGRATION_KIT_CACHE"  # where fixture builds are cached
CAPTURE_SALT_ENV = "MIGRATION_KIT_CAPTURE_SALT_FILE"  # capture's secret salt for user ids
FIELD_DIR_ENV = "MIGRATION_KIT_FIELD_DIR"  # field specs that run as regression scenarios
TIMEOUT_ENV = "MIGRATION_KIT_TIMEOUT"  # seconds a migrator run may take (default 600)


def default_cache_dir() -> Path:
    """``$MIGRATION_KIT_CACHE``, else ``~/.cache/migration-kit`` (XDG_CACHE_HOME honoured)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "migration-kit"
