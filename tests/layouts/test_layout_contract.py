"""The layout description itself: the default's places are SPEC's (byte for byte what they
were), peek-uuid's folder follows the profile row's id, and the chosen layout reaches the
child processes as MIGRATION_LAYOUT (a migrator's environment, a project's ``layout`` key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract import config as project_config
from harness.contract import layout
from harness.contract.layout import UserPaths
from harness.run.adapters import contract_env


def test_the_default_layout_is_specs_places(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(layout.LAYOUT_ENV, raising=False)
    p = UserPaths(Path("/d"), "alice")
    assert p.layout.name == layout.PEEK_SLUG
    assert p.old_db == Path("/d/alice/peek.db")
    assert p.old_sidecars()[0] == Path("/d/alice/peek.db-wal")
    assert p.backup == Path("/d/alice/peek.db.pre-migration-backup")
    assert p.old_images == Path("/d/alice/images")
    assert p.profiles_dir == Path("/d/alice/profiles")
    assert p.profile_dir == Path("/d/alice/profiles/default")
    assert p.new_db == Path("/d/alice/profiles/default/datastore.sqlite")
    assert p.new_images == Path("/d/alice/profiles/default/images")


def test_peek_uuid_names_the_folder_after_the_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    assert UserPaths(Path("/d"), "bob", "1234").new_db == Path(
        "/d/bob/profiles/1234/datastore.sqlite"
    )
    assert UserPaths(Path("/d"), "bob").profile_dir.name == layout.NO_ROW  # no row: nowhere


def test_a_migrator_is_told_a_layout_that_is_not_the_default(monkeypatch) -> None:
    monkeypatch.delenv(layout.LAYOUT_ENV, raising=False)
    _, chosen, _ = contract_env(Path("/d"), dry_run=False, grace_days=None)
    assert layout.LAYOUT_ENV not in chosen  # a default run's replay lines read as before
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    full, chosen, _ = contract_env(Path("/d"), dry_run=False, grace_days=None)
    assert chosen[layout.LAYOUT_ENV] == full[layout.LAYOUT_ENV] == layout.PEEK_UUID


def test_a_migrator_is_told_the_grace_period_its_layout_is_judged_by(
    tmp_path: Path, monkeypatch
) -> None:
    """R11 judges a layout's own grace period; a migrator that only reads the contract's
    MIGRATION_BACKUP_GRACE_DAYS must be told it, or a correct one is a false alarm."""
    week = tmp_path / "week.toml"
    week.write_text((Path(__file__).parent / "store.toml").read_text() + "grace-days = 7\n")
    monkeypatch.setenv(layout.LAYOUT_ENV, str(week))
    _, chosen, _ = contract_env(Path("/d"), dry_run=False, grace_days=None)
    assert chosen["MIGRATION_BACKUP_GRACE_DAYS"] == "7"
    _, chosen, _ = contract_env(Path("/d"), dry_run=False, grace_days=90)  # a scenario's own
    assert chosen["MIGRATION_BACKUP_GRACE_DAYS"] == "90"
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)  # the default grace: not set
    _, chosen, _ = contract_env(Path("/d"), dry_run=False, grace_days=None)
    assert "MIGRATION_BACKUP_GRACE_DAYS" not in chosen


def test_the_project_key_names_a_layout_file_beside_it(tmp_path: Path, monkeypatch) -> None:
    import argparse

    from harness.cli.main import build_parser, configure
    from harness.cli.options import apply_layout

    (tmp_path / "mine.toml").write_text('new-db = "{user}/store/main.db"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.migration-kit]\nlayout = "mine.toml"\n')
    sub = tmp_path / "deep"
    sub.mkdir()
    monkeypatch.chdir(sub)
    # Set, not deleted: monkeypatch restores only what it set, and apply_layout writes it.
    monkeypatch.setenv(layout.LAYOUT_ENV, "")
    parser = build_parser()
    configure(parser, ["checklist"], project_config.load(sub))
    args = parser.parse_args(["checklist"])
    assert isinstance(args, argparse.Namespace) and args.layout == "mine.toml"
    apply_layout(args)
    assert layout.active().new_db == "{user}/store/main.db"
    assert layout.active().name == "mine"


def test_a_replay_command_names_a_layout_that_is_not_the_default(monkeypatch) -> None:
    from harness.scenario.replay_command import replay_command

    def line() -> str:
        return replay_command(module="scenarios.test_01_small_db", test="t", migrator="m", seed=0)

    monkeypatch.setenv(layout.LAYOUT_ENV, "")
    assert "layout" not in line()  # the default's replay lines read as before
    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    assert "--mk-layout peek-uuid" in line()
