"""Field specs as regression scenarios: a support ticket, once captured, is a CI gate.

Every spec in the field folder (``--field-dir`` when the plugin offers it, else
``$MIGRATION_KIT_FIELD_DIR``, else ``scenarios/field/``) is rebuilt as a look-alike tree and
the migrator under test (``--migrator``, the reference by default) is judged on it with
every rule a tree of unknown make-up can be judged on: dry run, run, second run. The risk
guarded: the one tree that broke production breaking it again after a fix. A failure reads
like any scenario's: the rules, the users, what changed on disk, the migrator's output, and
one command (``migration-kit replay ...``) that repeats it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.factory import TreeFactory
from harness.deploy.field_replay import field_dir, field_specs, replay
from harness.run.adapters import Migrator


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "field_spec" in metafunc.fixturenames:
        folder = field_dir(metafunc.config.getoption("mk_field_dir", default=None))
        specs = field_specs(folder)
        metafunc.parametrize("field_spec", specs, ids=[p.stem for p in specs])


def test_field_spec_holds_every_rule(
    field_spec: Path, migrator: Migrator, tree_factory: TreeFactory, tmp_path: Path
) -> None:
    """Replay one field spec; every applicable rule must hold."""
    result = replay(field_spec, migrator, scratch=tmp_path, factory=tree_factory)
    if not result.ok:
        raise result.failure()
