"""``harness.deploy.survey``: the states the deploy tools tell apart that the shared trees do
not show: a stray ``peek.db-wal`` (stranded rows, or the harmless tail of a finished
migration), images that cannot be merged, the reference migrator's leftovers, a backup that
does or does not verify."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from fixtures.spec import TreeSpec, UserSpec
from harness.contract.layout import UserPaths
from harness.deploy import survey
from tests.deploy.deploy_helpers import plant_in_wal

TREE = TreeSpec(
    users=(
        UserSpec("adds", state="migrated", items=6, images=0),
        UserSpec("tail", state="migrated", items=6, images=0),
        UserSpec("clash", state="images_half_moved", items=8, images=4),
        UserSpec("left", state="leftover_temp", items=5, images=1),
        UserSpec("kept", items=5, images=0),
        UserSpec("stale", items=5, images=0),
    ),
    seed=8,
    profiles_table=True,
)


def _inspect(tree: Path) -> dict[str, survey.Finding]:
    users = survey.check_data_dir(tree)
    accounts = survey.read_accounts(tree, users)
    return {p.name: survey.inspect_user(UserPaths(tree, p.name), accounts) for p in users}


def _stray_wal(paths: UserPaths, stage: Path, *, already_folded: bool) -> None:
    """Leave ``peek.db-wal`` beside the new DB, holding rows the new DB lacks, or (the tail
    of a finished migration) the very rows the new DB already holds."""
    stage.parent.mkdir(parents=True)
    shutil.copyfile(paths.new_db, stage)
    plant_in_wal(stage, [f"late row of {paths.user_id}"])
    wal = stage.with_name(stage.name + "-wal")
    shutil.copyfile(wal, paths.root / "peek.db-wal")
    if already_folded:
        conn = sqlite3.connect(stage, isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        conn.close()
    shutil.copyfile(stage, paths.new_db)


def test_the_states_a_person_or_the_run_must_tell_apart(make_tree, tmp_path: Path) -> None:
    tree = make_tree(TREE)[0]
    _stray_wal(UserPaths(tree, "adds"), tmp_path / "adds" / "x.db", already_folded=False)
    _stray_wal(UserPaths(tree, "tail"), tmp_path / "tail" / "x.db", already_folded=True)
    clash = UserPaths(tree, "clash")
    (clash.new_images / sorted(os.listdir(clash.old_images))[0]).write_bytes(b"other bytes")
    kept = UserPaths(tree, "kept")
    shutil.copyfile(kept.old_db, kept.backup)
    UserPaths(tree, "stale").backup.write_bytes(b"not the same database")

    found = _inspect(tree)

    assert found["adds"].problem == "stray_wal" and "lacks" in (found["adds"].message or "")
    assert (found["tail"].state, found["tail"].half, found["tail"].problem) == (
        "half_migrated",
        "sidecars",
        None,
    )
    assert found["clash"].problem == "image_conflict"
    left = found["left"]
    assert left.state == "legacy" and left.problem is None
    assert "remove scratch of an interrupted run" in left.actions
    assert "keep the existing backup (it verifies)" in found["kept"].actions
    assert any(a.startswith("replace the existing backup") for a in found["stale"].actions)


def test_the_reference_migrators_leftovers_are_told_apart_from_stray_files(
    make_tree,
) -> None:
    tree = make_tree(TREE)[0]
    paths = UserPaths(tree, "left")
    leftovers = survey.reference_leftovers(paths)
    assert leftovers and all(p.name.endswith(survey.REFERENCE_TEMP_SUFFIX) for p in leftovers)
    assert not survey.reference_leftovers(UserPaths(tree, "kept"))


def test_advice_names_the_places_of_the_layout_in_force(tmp_path: Path, monkeypatch) -> None:
    """Under a layout of one's own the findings and actions name its files (``app.sqlite``,
    ``main.db``), not ``peek.db`` and ``datastore.sqlite``: a person follows them by hand."""
    from fixtures.build import build
    from harness.contract import layout

    own = tmp_path / "own.toml"
    own.write_text(
        'old-db = "{user}/app.sqlite"\nold-images = "{user}/pics"\n'
        'new-db = "{user}/store/main.db"\nnew-images = "{user}/store/pics"\n'
        'backup = "{user}/app.sqlite.bak"\n'
    )
    monkeypatch.setenv(layout.LAYOUT_ENV, str(own))
    tree = tmp_path / "tree"
    spec = TreeSpec(
        users=(
            UserSpec("leg", items=4, images=1),
            UserSpec("none", state="no_db"),
            UserSpec("diff", state="both_different", items=4, images=0),
            UserSpec("half", state="images_half_moved", items=4, images=3),
        ),
        seed=3,
    )
    build(spec, tree)
    found = _inspect(tree)
    text = "\n".join(f"{f.detail} {f.message or ''} {' '.join(f.actions)}" for f in found.values())
    assert "peek.db" not in text and "datastore.sqlite" not in text, text
    assert "copy app.sqlite" in " ".join(found["leg"].actions)
    assert "remove app.sqlite" in " ".join(found["leg"].actions)
    assert "move pics/" in " ".join(found["leg"].actions)
    assert found["none"].detail.startswith("no app.sqlite:")
    assert "main.db" in (found["diff"].message or "")
    assert "pics/ not yet" in found["half"].detail


def test_the_seeds_folder_under_peek_uuid_is_a_rename_to_finish(
    tmp_path: Path, monkeypatch
) -> None:
    """Under peek-uuid a user the seed's migration left in profiles/default is neither
    "no DB" nor "migrated": a run renames the folder after the profile row (plan says so),
    and with profiles/<row id> there as well a person must choose (conflict)."""
    from fixtures.build import build
    from harness.contract import layout

    monkeypatch.setenv(layout.LAYOUT_ENV, layout.PEEK_UUID)
    tree = tmp_path / "tree"
    spec = TreeSpec(
        users=(
            UserSpec("seeded", state="migrated", items=4, images=1, layout="peek-slug"),
            UserSpec("twice", state="migrated", items=4, images=0, layout="peek-slug"),
        ),
        seed=2,
    )
    build(spec, tree)
    accounts = survey.read_accounts(tree, survey.check_data_dir(tree))
    target = UserPaths(tree, "twice", accounts.profile_ids["twice"]).profile_dir
    target.mkdir()
    found = {u: survey.inspect_user(accounts.paths(tree, u), accounts) for u in ("seeded", "twice")}
    seeded = found["seeded"]
    assert (seeded.state, seeded.half, seeded.problem) == ("half_migrated", "seed_folder", None)
    row_id = accounts.profile_ids["seeded"]
    assert seeded.actions == (f"rename profiles/default/ to profiles/{row_id}/",)
    assert "profiles/default/" in seeded.detail
    assert found["twice"].problem == "conflict"
    assert str(target) in (found["twice"].message or "")
