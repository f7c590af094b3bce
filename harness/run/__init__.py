"""Run a migrator under SPEC's external contract: the ``py:``/``cmd:`` specs (``adapters``),
one process and what it left behind (``process``), a Python callable as a process (``pyrunner``).
"""
