"""``python -m harness.powerloss``: see :mod:`harness.powerloss.cli`."""

import sys

from harness.powerloss.cli import main

sys.exit(main())
