"""``migration-kit replay`` and the field folder: a capture replayed, bad specs refused in
one line, ``--explore`` honest about whether the exploration exists yet."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest

from harness.deploy import capture
from harness.deploy import field_replay as replay
from harness.run.adapters import parse_migrator
from tests.deploy.deploy_helpers import can_deny, one_line_error, run_cli

SHIPPED_EXAMPLE = replay.SHIPPED_FIELD_DIR / "example-after-first-deploy.json"
# The seed's proposal, in short: backup by copying peek.db alone, then move it alone.
MOVES_PEEK_DB_ALONE = (
    'cmd:[ "$MIGRATION_DRY_RUN" = true ] && exit 0; for d in "$DATA_DIR"/*/; do '
    '[ -f "$d/peek.db" ] || continue; [ -e "$d/profiles/default/datastore.sqlite" ] && continue; '
    'cp "$d/peek.db" "$d/peek.db.pre-migration-backup"; mkdir -p "$d/profiles/default"; '
    'mv "$d/peek.db" "$d/profiles/default/datastore.sqlite"; done'
)


def test_a_capture_replays_and_the_reference_holds(clean_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "ticket.json"
    salt = tmp_path / "salt"
    assert (
        run_cli("capture", str(clean_tree), "--out", str(out), "--salt-file", str(salt)).returncode
        == 0
    )
    proc = run_cli("replay", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "result: every applicable rule held" in proc.stdout
    assert f"the look-alike of {out}" in proc.stdout


def test_the_shipped_example_catches_the_seeds_proposal(tmp_path: Path) -> None:
    result = replay.replay(SHIPPED_EXAMPLE, parse_migrator(MOVES_PEEK_DB_ALONE), scratch=tmp_path)
    broken = {v.rule for v in result.broken}
    assert {"R1", "R5", "R7", "R14", "content"} <= broken, broken
    report = str(result.failure())
    assert "rows missing" in report and "migration-kit replay" in report
    assert list(tmp_path.iterdir()) == []  # the look-alike is removed afterwards


def test_the_again_command_survives_quotes_in_the_migrator_spec(tmp_path: Path) -> None:
    spec = "cmd:echo 'a migrator that does nothing' >/dev/null"
    field = tmp_path / "it's a field.json"
    shutil.copy(SHIPPED_EXAMPLE, field)
    (tmp_path / "scratch").mkdir()
    result = replay.replay(field, parse_migrator(spec), scratch=tmp_path / "scratch")
    assert shlex.split(result.again) == ["migration-kit", "replay", str(field), "--migrator", spec]


def test_field_folder_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(SHIPPED_EXAMPLE, tmp_path / "a.json")
    shutil.copy(capture.measured_path(SHIPPED_EXAMPLE), tmp_path / "a.measured.json")
    (tmp_path / "notes.txt").write_text("not a spec")
    assert replay.field_specs(tmp_path) == [tmp_path / "a.json"]
    assert replay.field_specs(tmp_path / "absent") == []
    monkeypatch.setenv(replay.FIELD_DIR_ENV, str(tmp_path))
    assert replay.field_dir() == tmp_path
    assert replay.field_dir(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv(replay.FIELD_DIR_ENV)
    assert SHIPPED_EXAMPLE in replay.field_specs(replay.field_dir())


def test_every_shipped_field_spec_loads() -> None:
    for path in replay.field_specs(replay.SHIPPED_FIELD_DIR):
        assert replay.load_field(path).users
        measured = json.loads(capture.measured_path(path).read_text())
        assert measured["kind"] == "field-measurements"


# -- bad input ---------------------------------------------------------------------------


def _bad_fields(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    cases = {
        "not_json": ("{users: [", "not valid JSON"),
        "unknown_field": ('{"users": [], "colour": "red"}', "colour"),
        "bad_state": ('{"users": [{"user_id": "u-1", "state": "sideways"}]}', "users[0].state"),
        "not_an_object": ("[1, 2]", "expected a JSON object"),
        "desktop": ('{"kind": "desktop"}', "desktop"),
    }
    out = {}
    for name, (text, needle) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        out[name] = (path, needle)
    out["missing"] = (tmp_path / "absent.json", "no such file")
    out["directory"] = (tmp_path, "a directory")
    return out


@pytest.mark.parametrize(
    "case",
    ["not_json", "unknown_field", "bad_state", "not_an_object", "desktop", "missing", "directory"],
)
def test_a_malformed_field_spec_is_one_line_and_exit_2(cli, tmp_path: Path, case: str) -> None:
    path, needle = _bad_fields(tmp_path)[case]
    one_line_error(cli("replay", str(path)), str(path), needle)


@pytest.mark.skipif(not can_deny(), reason="cannot refuse a read here (root without setpriv)")
def test_an_unreadable_field_spec(tmp_path: Path) -> None:
    path = tmp_path / "field.json"
    shutil.copy(SHIPPED_EXAMPLE, path)
    os.chmod(path, 0)
    one_line_error(run_cli("replay", str(path), deny=True), str(path), "permission denied")


def test_a_bad_migrator_spec(cli, tmp_path: Path) -> None:
    one_line_error(cli("replay", str(SHIPPED_EXAMPLE), "--migrator", "rm -rf"), "rm -rf")


def test_a_field_in_the_seeds_layout_replays_under_peek_uuid(tmp_path: Path) -> None:
    """A server that ran the seed's migration (profiles/default), captured where peek-uuid
    is in force: the replay rebuilds profiles/default, the reference renames it to
    profiles/<row id> and holds; a migrator that copies instead of renaming is reported
    (R4: profiles/default left)."""
    from fixtures.build import build
    from fixtures.spec import TreeSpec, UserSpec

    tree = tmp_path / "field"
    build(
        TreeSpec(users=(UserSpec("moved", state="migrated", items=12, images=2),), seed=6),
        tree,
    )
    out = tmp_path / "ticket.json"
    salt = tmp_path / "salt"
    uuid = {"MIGRATION_LAYOUT": "peek-uuid"}
    proc = run_cli("capture", str(tree), "--out", str(out), "--salt-file", str(salt), env=uuid)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"layout": "peek-slug"' in out.read_text()
    proc = run_cli("replay", str(out), env=uuid)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "result: every applicable rule held" in proc.stdout
    broken = "py:tests.broken.r4_uuid_copies_default:migrate"
    proc = run_cli("replay", str(out), "--migrator", broken, env=uuid)
    assert proc.returncode != 0, proc.stdout
    assert "R4" in proc.stdout and "profiles/default/" in proc.stdout, proc.stdout
