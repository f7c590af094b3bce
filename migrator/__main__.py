"""``python -m migrator``: the migrator's own commands without the rest of the kit."""

import sys

from migrator.cli import main

sys.exit(main())
