"""A run cut into N slices (a CI matrix) and merged equals the whole run: the same cases,
outcomes, report and exit status; slices that are not one run's are refused (exit 2)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.support.childrun import Done, run

REPO = Path(__file__).resolve().parents[2]
R10_BACKUP_IN_PLACE = "py:tests.broken.r10_backup_in_place:migrate"  # a kill loses data
R2_DRY_RUN_MKDIR = "py:tests.broken.r2_dry_run_mkdir:migrate"  # a dry run changes the tree


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A recording cache of this module's own (each slice reuses the first recording, as
    a CI job restoring a cache would), the repository importable for tests.broken."""
    cache = tmp_path_factory.mktemp("kit-cache")
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {"MIGRATION_KIT_CACHE": str(cache), "PYTHONPATH": pythonpath}


def kit(env: dict[str, str], *args: str) -> Done:
    return run([sys.executable, "-m", "harness.cli.main", *args], cwd=REPO, env=env)


def _scratch_named(text: str) -> str:
    """``text`` with what differs between any two runs made one name: each run's scratch
    dirs (tempfile's random suffixes) and thread ids (in a fault that could not be placed)."""
    text = re.sub(r"-[a-z0-9_]{8}(?=/)", "-*", text)
    return re.sub(r"thread \d+", "thread N", text)


def explore_report(stdout: str) -> str:
    """The rendered report: from its first line to the last (the time after it aside)."""
    lines = _scratch_named(stdout).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("exploration of "))
    end = next(i for i, line in enumerate(lines) if line.startswith("(") and line.endswith(" s)"))
    return "\n".join(lines[start:end] if end > start else lines[start:])


def merged_report(stdout: str) -> str:
    lines = _scratch_named(stdout).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("exploration of "))
    return "\n".join(lines[start:])


@pytest.mark.usefixtures("needs_strace")
def test_an_exploration_in_slices_merges_into_the_whole_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    args = ("explore", "--migrator", R10_BACKUP_IN_PLACE, "--effects", "kill", "-n", "2")
    args += ("--distinct-kills",)
    whole = kit(env, *args, "--json", str(tmp_path / "whole.json"))
    assert whole.returncode == 1, whole  # the broken migrator loses data under a kill
    files = [tmp_path / f"shard{k}.json" for k in (1, 2)]
    for k, path in enumerate(files, 1):
        part = kit(env, *args, "--shard", f"{k}/2", "--results", str(path))
        assert part.returncode in (0, 1), part
        assert json.loads(path.read_text())["shard"] == {"k": k, "n": 2}
    merged = kit(env, "merge", *map(str, reversed(files)), "--json", str(tmp_path / "m.json"))
    assert merged.returncode == whole.returncode, merged
    # The slices carry the recorded run's operations: the merged page draws timelines.
    page = tmp_path / "m.html"
    assert kit(env, "merge", *map(str, files), "--html", str(page)).returncode == 1
    assert "<h1>Fault exploration</h1>" in page.read_text(encoding="utf-8")
    assert page.read_text(encoding="utf-8").count('class="timeline-svg"') >= 2
    assert merged_report(merged.stdout) == explore_report(whole.stdout)
    one, two = (json.loads((tmp_path / f).read_text()) for f in ("whole.json", "m.json"))
    outcomes = [[(r["case"]["index"], r["outcome"]) for r in d["results"]] for d in (one, two)]
    assert outcomes[0] == outcomes[1] and "broken" in {o for _, o in outcomes[0]}

    # The same report, case for case (apart from what differs between any two runs: the
    # temp dirs the fault names, a run's time and memory).
    def same(r: dict) -> tuple:
        verdicts = [(v["rule"], v["user"], v["ok"], v["damage"]) for v in r["verdicts"]]
        return r["case"], r["outcome"], verdicts, r["replay"], r["lost"]

    assert [same(r) for r in one["results"]] == [same(r) for r in two["results"]]
    assert (one["target"], one["baseline"]) == (two["target"], two["baseline"])

    # Slices that are not one run's: a slice missing, a slice of another exploration.
    assert kit(env, "merge", str(files[0])).stderr.strip().endswith("shard 2/2 missing")
    other = tmp_path / "other.json"
    kit(env, *args[:-1], "--shard", "2/2", "--results", str(other))  # not --distinct-kills
    refused = kit(env, "merge", str(files[0]), str(other))
    assert refused.returncode == 2, refused
    assert "slices of different runs (they differ in distinct_kills)" in refused.stderr


def checklist_report(stdout: str) -> str:
    return stdout[stdout.index("== server migration checklist ==") :]


def test_a_checklist_in_slices_merges_into_the_whole_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Three slices of two scenarios: one slice is empty, and still merges."""
    args = ("checklist", "--migrator", R2_DRY_RUN_MKDIR, "-m", "dry_run or small_db", "-n", "0")
    whole = kit(env, *args, "--results", str(tmp_path / "whole.json"))
    assert whole.returncode == 1, whole
    files = [tmp_path / f"shard{k}.json" for k in (1, 2, 3, 4)]
    for k, path in enumerate(files, 1):
        part = kit(env, *args, "--shard", f"{k}/4", "--results", str(path))
        assert part.returncode in (0, 1), part
    ran = [[r["nodeid"] for r in json.loads(p.read_text())["report"]["results"]] for p in files]
    assert all(len(r) <= 1 for r in ran), ran  # three scenarios in four slices
    merged = kit(env, "merge", *map(str, files))
    assert merged.returncode == whole.returncode, merged
    assert checklist_report(merged.stdout) == checklist_report(whole.stdout)
    whole_ids = sorted(
        r["nodeid"] for r in json.loads((tmp_path / "whole.json").read_text())["report"]["results"]
    )
    assert sorted(i for r in ran for i in r) == whole_ids

    doubled = kit(env, "merge", *map(str, files), str(files[0]))
    assert doubled.returncode == 2 and "shard 1/4 given twice" in doubled.stderr, doubled


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("explore", "--shard", "1/2"), "--shard K/N needs --results FILE"),  # else lost
        (("explore", "--shard", "3/2", "--results", "x.json"), "shard 3/2: expected K/N"),
        (("explore", "--shard", "1/2", "--results", "x.json", "--list"), "not with --list"),
        (("checklist", "--shard", "1/2"), "--shard K/N needs --results FILE"),
        (("merge", "pyproject.toml"), "pyproject.toml: not a shard's results"),
    ],
)
def test_shard_usage_errors_exit_2(env: dict[str, str], args: tuple[str, ...], says: str) -> None:
    done = kit(env, *args)
    assert done.returncode == 2, done
    assert says in done.stderr.strip().splitlines()[-1], done
