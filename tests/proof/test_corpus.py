"""The corpus: correct migrators written from SPEC alone, in styles the reference does not
use, pass the checklist with zero findings; each one's broken twin is reported under its rule.

A gate that fails a correct migrator gets switched off. So the kit is run here, as a new
user runs it (``migration-kit checklist --migrator ...``), on migrators nobody tuned it to.

This one's scratch names are random (``tempfile.mkdtemp``) and a thread pool copies its
images, so its workers make the same calls in an order the scheduler picks: strace alone
could not aim an errno at the recorded worker (32 fault and 5 power-loss cases were not
judged). The thread shim (:mod:`harness.faults.thread_shim`) does; ``--strict-coverage``
makes any case still not judged fail the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.proof.kitrun import run_kit

pytestmark = pytest.mark.proof

CORPUS = "tests.corpus.python_tempfile"
CORRECT = f"py:{CORPUS}.migrate:migrate"
TWIN = f"py:{CORPUS}.wal_first:migrate"
WORKERS = "2"  # the checklist's scenarios are many; a serial run takes minutes more


def _checklist(migrator: str, json_path: Path, *select: str) -> tuple[int, str, list[dict]]:
    argv = ["checklist", "--migrator", migrator, "--strict-coverage"]
    argv += ["--json", str(json_path), "-n", WORKERS, *select]
    done = run_kit(*argv)
    results = json.loads(json_path.read_text())["results"] if json_path.is_file() else []
    return done.returncode, done.stdout + done.stderr, results


def _assert_clean(status: int, out: str, results: list[dict]) -> None:
    assert results, out[-4000:]
    failed = [r for r in results if r["outcome"] in ("failed", "error")]
    assert not failed, "\n".join(f"{r['nodeid']}: {r['message'][:500]}" for r in failed)
    not_judged = [r for r in results if r.get("not_judged")]
    assert not not_judged, "\n".join(f"{r['nodeid']}: {r['message'][:800]}" for r in not_judged)
    assert status == 0, out[-4000:]


def test_the_correct_python_tempfile_migrator_passes_the_checklist(tmp_path: Path) -> None:
    _assert_clean(*_checklist(CORRECT, tmp_path / "checklist.json"))


@pytest.mark.large
def test_the_correct_python_tempfile_migrator_passes_the_large_checklist(tmp_path: Path) -> None:
    """Item 2: a datastore over 100 MB, copied through its scratch folder, and its thread pool
    on that tree (the slow step's --large)."""
    _assert_clean(*_checklist(CORRECT, tmp_path / "large.json", "--large", "-m", "large"))


def test_the_twin_that_unlinks_the_wal_first_is_reported_under_r10(tmp_path: Path) -> None:
    """A kill between its two unlinks leaves peek.db without the -wal's rows beside a new
    DB that has them: the re-run (rightly) refuses two different DBs, the user is stranded."""
    select = ("-m", "faults", "-k", "test_fault_case and kill")
    status, out, results = _checklist(TWIN, tmp_path / "twin.json", *select)
    broken = {rule for r in results if r["outcome"] == "failed" for rule in r["rules_broken"]}
    assert status == 1 and "R10" in broken, out[-4000:]
