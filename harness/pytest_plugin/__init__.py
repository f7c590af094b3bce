"""The kit's pytest plugin, loaded through the ``pytest11`` entry point ``migration_kit``.

A thin skin over cores that work without pytest: ``scenarios`` gives the checklist's
fixtures, options and results (``fixtures.factory``, ``harness.scenario``,
``harness.report``); ``explore`` gives the fault explorer's (``harness.explore``);
``results`` folds a test's reports into one scenario result; ``shard`` runs one slice of
the selection (``--mk-shard K/N``, a CI matrix's job); ``progress`` shows the run's progress
on stderr (``--mk-progress NAME``).
"""

pytest_plugins = [
    "harness.pytest_plugin.scenarios",
    "harness.pytest_plugin.explore",
    "harness.pytest_plugin.shard",
    "harness.pytest_plugin.progress",
]
