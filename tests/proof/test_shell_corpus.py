"""The corpus's POSIX shell member: a migrator written as a shell script (a ``sqlite3``,
``cp``, ``mv`` or ``sync`` child per step, ``flock``, ``mktemp -d``) passes the checklist
with zero findings and zero fault cases not judged; its broken twin is reported under R1.

A shell migrator is where fault placement is hardest: its children make the same calls on
the same files, and strace counts an injection per process, so an errno used to land on the
first child instead of the recorded one (issue 17). The exec shim
(:mod:`harness.faults.exec_shim`) singles the recorded child out; ``--strict-coverage`` makes
any case still not judged fail the run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.proof.kitrun import run_kit

pytestmark = [
    pytest.mark.proof,
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("sqlite3", "flock", "strace")),
        reason="the shell corpus migrator needs the sqlite3 CLI, flock and strace",
    ),
]

HERE = Path(__file__).resolve().parents[1] / "corpus" / "posix_shell"
CORRECT = f"cmd:sh {HERE / 'migrate.sh'}"
TWIN = f"cmd:sh {HERE / 'wal_forgotten.sh'}"
WORKERS = "2"


# A child process per step: the whole checklist takes minutes, many on a busy machine.
TIMEOUT_S = 2700.0


def _kit(*argv: str, json_path: Path) -> tuple[int, str, list[dict]]:
    done = run_kit(*argv, "--json", str(json_path), timeout=TIMEOUT_S)
    results = json.loads(json_path.read_text())["results"] if json_path.is_file() else []
    return done.returncode, done.stdout + done.stderr, results


def _assert_clean(status: int, out: str, results: list[dict]) -> None:
    assert results, out[-4000:]
    failed = [r for r in results if r["outcome"] in ("failed", "error")]
    assert not failed, "\n".join(f"{r['nodeid']}: {r['message'][:800]}" for r in failed)
    not_judged = [r for r in results if r.get("not_judged")]
    assert not not_judged, "\n".join(f"{r['nodeid']}: {r['message'][:800]}" for r in not_judged)
    assert status == 0, out[-4000:]


@pytest.mark.corpus
def test_the_correct_shell_migrator_passes_the_checklist(tmp_path: Path) -> None:
    argv = ["checklist", "--migrator", CORRECT, "-n", WORKERS, "--strict-coverage"]
    _assert_clean(*_kit(*argv, json_path=tmp_path / "checklist.json"))


@pytest.mark.large
def test_the_correct_shell_migrator_passes_the_large_checklist(tmp_path: Path) -> None:
    argv = ["checklist", "--migrator", CORRECT, "-n", WORKERS, "--large", "-m", "large"]
    _assert_clean(*_kit(*argv, json_path=tmp_path / "large.json"))


def test_the_twin_that_forgets_the_wal_is_reported_under_r1(tmp_path: Path) -> None:
    """Its copies lack the rows that sit only in peek.db-wal, and it removes the -wal."""
    argv = ["checklist", "--migrator", TWIN, "-n", "0", "-m", "wal"]  # item 11: rows in -wal
    status, out, results = _kit(*argv, json_path=tmp_path / "twin.json")
    broken = {rule for r in results if r["outcome"] == "failed" for rule in r["rules_broken"]}
    assert status == 1 and "R1" in broken, out[-4000:]
