"""Each deliberately broken migrator (``tests/broken``) is reported by the scenarios meant for
it, for the rule it breaks; the reference migrator passes those same scenarios.

A broken migrator counts as caught when the child pytest fails and one of its *failed*
results names the intended rule in ``rules_broken``: failing for another reason (a crash,
another rule) would prove nothing about that rule. Scenarios that need what this machine
lacks (tmpfs mounts, strace) skip in the child; when every selected scenario skipped, the
proof skips with their reasons instead of calling the migrator uncaught. The > 100 MB case
(R16) runs only with ``--large``, as the scenario it needs does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.proof.kitrun import KitRun, run_scenarios

pytestmark = pytest.mark.proof

REFERENCE = "py:migrator.server:migrate"
LARGE = "--large"


@dataclass(frozen=True)
class Case:
    module: str  # tests/broken/<module>.py
    marker: str  # the checklist marker of the scenarios meant for it
    rule: str  # the rule it breaks, which the kit must report
    k: str | None = None  # narrows the marker's scenarios to the ones about this defect
    large: bool = False  # needs the > 100 MB scenarios (--large)
    # A race is caught only when the two processes overlap on a user: allow a few runs.
    attempts: int = 1
    says: str = ""  # what the run's output must also say, so the finding reads as its cause
    layout: str | None = None  # the target layout it is broken for (--mk-layout)

    @property
    def migrator(self) -> str:
        return f"py:tests.broken.{self.module}:migrate"

    @property
    def select(self) -> tuple[str, ...]:
        layout = ("--mk-layout", self.layout) if self.layout else ()
        narrow = ("-k", self.k) if self.k else ()
        return ("-m", self.marker, *narrow, *((LARGE,) * self.large), *layout)


CASES = (
    Case("r1_wal_dropped", "wal", "R1"),
    # the server's start-up rebuild of a generation-2 items table, foreign keys on
    Case(
        "r1_schema_rebuild_cascade",
        "small_db",
        "R1",
        says="bob: item_tags: every row gone from the new DB",
    ),
    Case("r2_dry_run_mkdir", "dry_run", "R2"),
    Case("r2_dry_run_opens_db", "dry_run", "R2"),
    Case("r3_backup_every_run", "idempotency", "R3"),
    Case("r4_migrated_no_profile", "skip_migrated", "R4"),
    Case("r5_both_as_migrated", "integrity", "R5"),
    Case("r6_backup_without_db", "no_backup_without_db", "R6"),
    Case("r7_no_integrity_check", "integrity", "R7"),
    Case("r8_no_space_check", "disk_full", "R8"),
    Case("r10_backup_in_place", "rollback", "R10", k="kill"),
    Case("r11_cleanup_never", "backup_cleanup", "R11"),
    Case("r11_cleanup_young", "backup_cleanup", "R11"),
    Case("r12_no_exdev_fallback", "rollback", "R12", k="another_filesystem"),
    Case("r13_follows_symlinks", "hostile", "R13"),
    Case("r14_orphan_half", "hostile", "R14"),
    Case("r15_no_lock", "concurrency", "R15", attempts=3),
    Case("r16_whole_db_in_memory", "large_db", "R16", large=True),
    # one broken migrator per layout: the profile folder named after the wrong thing
    Case("r1_uuid_folder_left_default", "small_db", "R1", layout="peek-uuid"),
    Case("r1_uuid_folder_wrong_id", "small_db", "R1", layout="peek-uuid"),
    Case("r1_slug_folder_named_by_id", "small_db", "R1", layout="peek-slug"),
    # the seed's profiles/default under peek-uuid: copied, not renamed; images dropped
    Case("r4_uuid_copies_default", "skip_migrated", "R4", k="seed", layout="peek-uuid"),
    Case("r4_uuid_rename_drops_images", "skip_migrated", "R4", k="seed", layout="peek-uuid"),
)

BROKEN_DIR = Path(__file__).resolve().parents[1] / "broken"


def test_every_broken_migrator_has_a_case() -> None:
    modules = {p.stem for p in BROKEN_DIR.glob("r*.py")}
    assert modules == {c.module for c in CASES}


def params(values, large) -> list:
    """The values as parameters, the > 100 MB ones marked ``large``: the kit's plugin skips
    those unless ``--large`` is given, and CI's large step selects them with ``-m large``."""
    return [pytest.param(v, marks=pytest.mark.large) if large(v) else v for v in values]


def skip_if_nothing_ran(run: KitRun) -> None:
    """Skip (with the child's reasons) when every selected scenario skipped here."""
    if run.results and not run.with_outcome("passed", "failed", "error"):
        reasons = sorted({(r.get("message") or "").strip() for r in run.results})
        pytest.skip("every selected scenario skipped: " + "; ".join(reasons))


@pytest.mark.parametrize("case", params(CASES, lambda c: c.large), ids=lambda c: c.module)
def test_broken_migrator_is_reported_for_its_rule(case: Case, tmp_path: Path) -> None:
    runs = []
    for attempt in range(case.attempts):
        run = run_scenarios(case.migrator, case.select, tmp_path / f"checklist{attempt}.json")
        assert run.report, f"no --checklist-json written\n{run.output[-4000:]}"
        assert run.report["migrator"] == case.migrator
        skip_if_nothing_ran(run)
        runs.append(run)
        if run.returncode == 1 and case.rule in run.rules_broken():
            assert case.says in run.output, f"the output does not say {case.says!r}\n{run.output}"
            return
    run = runs[-1]
    assert run.returncode == 1, f"the run did not fail ({len(runs)} run(s))\n{run.summary()}"
    where = f"{case.module} is not reported for {case.rule} ({len(runs)} run(s))"
    pytest.fail(f"{where}\n{run.summary()}")


def union(cases) -> tuple[str, ...]:
    """One selection holding every case's scenarios (the markers whole, without -k)."""
    return ("-m", " or ".join(sorted({c.marker for c in cases})))


@pytest.mark.parametrize("large", params([False, True], bool), ids=["default", "large"])
def test_reference_passes_the_same_scenarios(large: bool, tmp_path: Path) -> None:
    chosen = [c for c in CASES if c.large == large and c.layout is None]
    select = union(chosen) + ((LARGE,) if large else ())
    run = run_scenarios(REFERENCE, select, tmp_path / "checklist.json")
    assert run.report, f"no --checklist-json written\n{run.output[-4000:]}"
    skip_if_nothing_ran(run)
    assert run.returncode == 0, run.summary()
    assert not run.with_outcome("failed", "error"), run.summary()
    seen = {m for r in run.results for m in r["markers"]}
    assert seen >= {c.marker for c in chosen}, f"markers that selected nothing\n{run.summary()}"


@pytest.mark.parametrize("layout", ["peek-slug", "peek-uuid"])
def test_reference_passes_each_layouts_cases(layout: str, tmp_path: Path) -> None:
    """The control of the per-layout cases: the reference, under the same layout."""
    chosen = [c for c in CASES if c.layout == layout]
    run = run_scenarios(REFERENCE, (*union(chosen), "--mk-layout", layout), tmp_path / "c.json")
    assert run.report, f"no --checklist-json written\n{run.output[-4000:]}"
    assert run.returncode == 0, run.summary()
    assert not run.with_outcome("failed", "error"), run.summary()
