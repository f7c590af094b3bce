"""Deliberately broken migrators: each module is the reference migrator with one defect.

Every module exposes ``migrate(data_dir, *, dry_run=False, grace_days=None)`` (the harness's
``py:tests.broken.<module>:migrate``) and says in its docstring's first line which defect it
has and which SPEC rule that breaks. ``tests/proof`` runs the scenarios meant for each one and
asserts that the kit reports that rule. The defects are applied only while the module's own
``migrate`` runs (``_variant``), so importing one changes nothing for anyone else.
"""
