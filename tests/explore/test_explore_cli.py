"""``migration-kit explore`` as a person runs it: a child process, its exit status, its report,
and the replay line it prints, which must itself replay the case."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.explore.baseline import baseline
from harness.explore.exploration import Exploration
from tests.explore.explore_cases import (
    R10_BACKUP_IN_PLACE,
    R12_NO_EXDEV_FALLBACK,
    REFERENCE,
    SMALL_TREE,
    find_case,
)

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("needs_strace")


@pytest.fixture(scope="module")
def kit_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """This environment with a cache of its own, and the repository importable (for the
    broken migrators in ``tests``)."""
    cache = tmp_path_factory.mktemp("kit-cache")
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "MIGRATION_KIT_CACHE": str(cache), "PYTHONPATH": pythonpath}


def kit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "explore", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


SMALL = ("--tree", SMALL_TREE.to_json())


@pytest.mark.parametrize(
    "args",
    [
        ("--migrator", "py:no_such_module:migrate"),
        ("--migrator", "rm -rf /"),
        ("--effects", "EPERM"),
        ("--tree", "{not json"),
        ("--tree", "/no/such/spec.json"),
        ("--backend", "inprocess", "--migrator", "cmd:true"),
        ("-n", "0"),
        (*SMALL, "--case", "seventeen"),
        (*SMALL, "--case", "99999:kill"),
    ],
)
def test_usage_errors_exit_2(kit_env: dict[str, str], args: tuple[str, ...]) -> None:
    done = kit(kit_env, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip()


def test_list_shows_every_case(kit_env: dict[str, str]) -> None:
    done = kit(kit_env, *SMALL, "--list", "--effects", "kill")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(r"\s*\d+:kill  #\d+ \w+ ", lines[0])
    assert re.match(r"\d+ case\(s\); \d+ of \d+ operations are outside the data dir", lines[-1])


def test_the_printed_replay_replays_the_case(kit_env: dict[str, str]) -> None:
    cache = Path(kit_env["MIGRATION_KIT_CACHE"]) / "explore"
    exploration = Exploration(migrator=R10_BACKUP_IN_PLACE, tree=SMALL_TREE)
    base = baseline(exploration, root=cache)
    case = find_case(base, "copy", "ann/peek.db.pre-migration-backup", "kill")
    first = kit(kit_env, "--migrator", R10_BACKUP_IN_PLACE, *SMALL, "--case", case.id)
    assert first.returncode == 1, first.stdout + first.stderr
    replays = re.findall(r"^replay: (.+)$", first.stdout, flags=re.MULTILINE)
    assert replays and len(set(replays)) == 1
    again = subprocess.run(
        ["/bin/sh", "-c", replays[0]], env=kit_env, capture_output=True, text=True, check=False
    )
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"case {case.id}: {case.describe()}: broken" in again.stdout
    assert "R10 (the process killed at any single file operation)" in again.stdout


def test_a_whole_exploration_over_xdist_workers(kit_env: dict[str, str], tmp_path: Path) -> None:
    """The cases run as pytest-xdist tests; the report is folded on the controller."""
    report, page = tmp_path / "report.json", tmp_path / "report.html"
    args = (*SMALL, "--effects", "EXDEV", "-n", "2", "--json", str(report))
    bad = kit(kit_env, "--migrator", R12_NO_EXDEV_FALLBACK, *args, "--html", str(page))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    # --html: the child's cases with the recorded run's operations, which the command adds.
    text = page.read_text(encoding="utf-8")
    assert "<h1>Fault exploration</h1>" in text and "1 distinct finding" in text
    assert "<h3>ann <small" in text  # ann's timeline
    assert re.search(r'<td class="cell (left|lost)"><a href="#case-\d+-EXDEV"', text)
    data = json.loads(report.read_text())
    broken = [r for r in data["results"] if r["outcome"] == "broken"]
    assert [r["case"]["paths"][-1] for r in broken] == ["ann/profiles/default/datastore.sqlite"]
    assert broken[0]["replay"] in bad.stdout
    assert "broke R12" in bad.stdout
    # Progress on stderr (not a tty: plain lines): the recording, then the cases' counts and
    # the findings so far.
    assert "explore: 1/1 recordings done" in bad.stderr, bad.stderr
    last = [line for line in bad.stderr.splitlines() if " tests done, " in line][-1]
    assert re.match(r"explore: (\d+)/\1 tests done, .*, 1 finding$", last), last
    good = kit(kit_env, "--migrator", REFERENCE, *args)
    assert good.returncode == 0, good.stdout + good.stderr
    assert re.search(r"(\d+) case\(s\), judged \1 of \1: \1 ok, 0 broke", good.stdout)
