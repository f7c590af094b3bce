"""The kit's own tests, one folder per room of the kit (``tests/run`` tests ``harness/run``, ...).

Every folder is a package, so each test module and helper has one importable name,
``tests.<room>.<module>``: helpers are imported by that name (never as a bare ``conftest`` or
``childrun`` that only a test folder on ``sys.path`` makes importable), ``py:tests...``
migrator specs resolve in child processes too, and ``tests/fixtures`` cannot shadow the
``fixtures`` package.
"""
