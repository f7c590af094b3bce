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
# Seconds one migrator run may take before it is killed, with everything it started, and
# reported as "did not finish" (``--timeout``; pytest ``--migrator-timeout``). Generous: a
# large tree takes minutes. An exploration's runs are on a small tree (well under a second
# each), so there a run still going after two minutes hangs.
DEFAULT_TIMEOUT = 600.0
EXPLORE_TIMEOUT = 120.0

# The power-loss explorer's persistence profiles (``--fs``; harness.explore.powerloss.profiles
# says which crash states each can leave), and the default: the strictest the reference passes.
FS_PROFILES = ("ext4-ordered", "xfs", "btrfs", "posix-minimal")
DEFAULT_FS = "posix-minimal"

CACHE_ENV = "MIGRATION_KIT_CACHE"  # where fixture builds are cached
CAPTURE_SALT_ENV = "MIGRATION_KIT_CAPTURE_SALT_FILE"  # capture's secret salt for user ids
FIELD_DIR_ENV = "MIGRATION_KIT_FIELD_DIR"  # field specs that run as regression scenarios
TIMEOUT_ENV = "MIGRATION_KIT_TIMEOUT"  # seconds a migrator run may take (default 600)
# Set by a ``migration-kit`` command for everything it starts (harness.run.session): its
# token, which the command kills every carrier of when it ends.
SESSION_ENV = "MIGRATION_KIT_SESSION"


def default_cache_dir() -> Path:
    """``$MIGRATION_KIT_CACHE``, else ``~/.cache/migration-kit`` (XDG_CACHE_HOME honoured)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "migration-kit"
