"""``python -m harness.cli``: the ``migration-kit`` command without its console script."""

import sys

from harness.cli.main import main

sys.exit(main())
