"""A layout written by a user (``store.toml``: ``<user>/store/main.db``) works end to end:
the fixtures build every state in its places, and the checklist judges a migrator written
for it (``store_migrator.py``) by it, passing that migrator and reporting one written for
profiles/default under R1; the reference, which does not know the layout, refuses to start.
Also: a bad layout is one clear line, status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.build import build
from fixtures.variants import half_migrated
from harness.contract import layout
from harness.judge.snapshot import Snapshot
from tests.proof.kitrun import run_kit

HERE = Path(__file__).resolve().parent
STORE = HERE / "store.toml"
ITEMS = "small_db or dry_run or idempotency or skip_migrated or no_backup_without_db"


def test_the_file_reads_as_the_layout_it_says() -> None:
    store = layout.load(str(STORE))
    assert (store.name, store.new_db, store.old_db) == (
        "store",
        "{user}/store/main.db",
        "{user}/peek.db",
    )
    assert layout.env_value(store) == str(STORE)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('new-db = "store/main.db"\n', "must start with {user}/"),
        ('newdb = "{user}/x.db"\n', "unknown key 'newdb'"),
        ("new-db = [\n", "not a readable TOML layout file"),
        ('new-db = "{user}/{shard}/x.db"\n', "only {user} and {profile}"),
    ],
)
def test_a_bad_layout_file_is_one_line_naming_it(tmp_path: Path, text: str, says: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(layout.LayoutError, match=r"bad\.toml") as caught:
        layout.load(str(bad))
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_the_command_line_refuses_a_bad_layout_with_status_2() -> None:
    done = run_kit("checklist", "--layout", "peek-uid", "-m", "dry_run", timeout=120)
    assert done.returncode == 2, done
    assert done.stderr.strip().count("\n") == 0 and "peek-uid" in done.stderr, done


def test_the_fixtures_put_every_state_where_the_layout_says(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(layout.LAYOUT_ENV, str(STORE))
    states = ("legacy", "migrated", "images_half_moved", "both_identical")
    manifest = build(half_migrated(states), tmp_path / "tree")
    snap = Snapshot.take(tmp_path / "tree")
    by_state = {u.state: u.user_id for u in manifest.users}
    migrated = by_state["migrated"]
    assert (tmp_path / "tree" / migrated / "store" / "main.db").is_file()
    assert not (tmp_path / "tree" / migrated / "profiles").exists()
    assert snap.users[migrated].new_db is not None and snap.users[migrated].new_db.sound
    assert snap.users[migrated].new_images is not None
    assert snap.users[by_state["legacy"]].old_db.sound
    both = snap.users[by_state["both_identical"]]
    assert both.old_db.digest == both.new_db.digest


def _run(migrator: str, out: Path) -> tuple[int, dict, str]:
    done = run_kit(
        "checklist",
        "--layout",
        str(STORE),
        "--migrator",
        migrator,
        "-m",
        ITEMS,
        "-n",
        "0",
        "--json",
        str(out),
    )
    report = json.loads(out.read_text()) if out.is_file() else {}
    return done.returncode, report, done.stdout + done.stderr


def test_the_checklist_passes_a_migrator_written_for_the_layout(tmp_path: Path) -> None:
    status, report, output = _run("py:tests.layouts.store_migrator:migrate", tmp_path / "c.json")
    assert status == 0, output[-6000:]
    assert "layout: store" in output
    assert {r["outcome"] for r in report["results"]} <= {"passed", "skipped"}


def test_the_checklist_reports_a_migrator_of_another_layout_under_r1(tmp_path: Path) -> None:
    """The seed's migration (profiles/default), MIGRATION_LAYOUT ignored: judged by the
    store layout, its users have no new DB where the layout puts it."""
    slug_only = "py:tests.broken.r1_uuid_folder_left_default:migrate"
    status, report, output = _run(slug_only, tmp_path / "c.json")
    assert status == 1, output[-6000:]
    broken = {rule for r in report["results"] for rule in r.get("rules_broken", [])}
    assert "R1" in broken, output[-6000:]


def test_the_reference_refuses_a_layout_it_does_not_know(tmp_path: Path) -> None:
    """Before any scenario: it cannot start, status 2, and says which variable and why."""
    status, _, output = _run("py:migrator.server:migrate", tmp_path / "c.json")
    assert status == 2, output[-6000:]
    assert "MIGRATION_LAYOUT" in output and "knows the layouts peek-slug, peek-uuid" in output


def test_the_explorer_judges_a_migrator_written_for_the_layout(tmp_path: Path) -> None:
    """Kill points through the layout: the recording, every case's judgement and the re-run
    find the new DB in ``store/``; a case that read the default layout would lose users."""
    out = tmp_path / "explore.json"
    done = run_kit(
        "explore",
        "--layout",
        str(STORE),
        "--migrator",
        "py:tests.layouts.store_migrator:migrate",
        "--effects",
        "kill",
        "--strict-coverage",
        "--json",
        str(out),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    results = json.loads(out.read_text())["results"]
    assert results and all(r["outcome"] == "ok" for r in results), output[-6000:]
    assert "layout: store" in output
