"""Checklist item 4: "Test migration rollback on failure".

The seed's answer to a failure mid-migration is a rollback: "Attempt rollback if backup
exists", copying the backup over ``peek.db``, with "CRITICAL: Rollback failed ... Manual
recovery required" when that fails too. The risk is everything around it: a failure between
the move and the images, a backup half written when the process died and trusted the next
time (``if (!fs.existsSync(backupPath))``), a rename across filesystems that can never
succeed. What a person needs is simpler than a rollback: whatever fails, at whatever file
operation, no content is lost at any moment, and the next start finishes the job. SPEC R9
(an I/O error at a single file operation), R10 (the process killed at one), R12 (profiles/ on
another filesystem: EXDEV on every rename into it).

Each fault is real, and each is one of the fault explorer's cases (item 14, "every single
fault at every file operation"): the explorer records the migrator's fault-free run on this
tree under strace (the syscall backend, for ``cmd:`` migrators in any language and ``py:``
callables alike), each site below picks one case out of that recording by where it falls in
bob's folder, so the sites mean the same thing for every migrator, and the explorer runs and
judges it (``harness.explore.cases.run_case``): exactly one operation fails or is preceded by
SIGKILL to the whole process group, then a clean re-run.
"""

from __future__ import annotations

import dataclasses

import pytest

from fixtures.factory import TreeFactory
from harness.explore.baseline import Baseline
from harness.explore.baseline import baseline as fault_free_baseline
from harness.explore.cases import run_case
from harness.explore.exploration import Exploration
from harness.explore.results import NOT_JUDGED, OK
from harness.explore.sites import FaultSite, check_fault_free, site_failure
from harness.faults import mounts
from harness.faults.plan import KILL, Operation
from harness.judge.oracles import check_exit_status, check_r1
from harness.pytest_plugin import explore as explore_plugin
from harness.run.adapters import Migrator
from harness.scenario import Trial, as_rule
from scenarios import trees

pytestmark = pytest.mark.rollback

USER = "bob"  # mid-run: WAL-heavy, images; alice and carol around him
DATA = (Operation.WRITE, Operation.COPY)  # the operations that put bytes in a file
# the backup, and its temporary names (a hidden ".peek.db.pre-migration-backup.XXXXXX" too)
BACKUP = "*peek.db.pre-migration-backup*"

SITES = (
    FaultSite("ENOSPC", DATA, "first"),  # the disk fills up as the first copy starts
    FaultSite("EIO", (Operation.FSYNC,), "first"),
    FaultSite("EIO", (Operation.RENAME,), "first"),
    FaultSite("EXDEV", (Operation.RENAME,), "last"),
    FaultSite("EACCES", (Operation.UNLINK,), "first", file="peek.db"),
    FaultSite(KILL, DATA, "first", file=BACKUP),  # the backup half written
    FaultSite(KILL, (Operation.RENAME,), "first"),
    FaultSite(KILL, (), "middle"),
    FaultSite(KILL, (Operation.UNLINK,), "first", file="peek.db"),
)


@pytest.fixture(scope="module")
def baseline(
    needs_strace: None, migrator: Migrator, tree_factory: TreeFactory, mk_seed: int
) -> Baseline:
    """The fault explorer's recording of the migrator's fault-free run on the tree: the
    cases a site picks from, and the result every faulted tree must converge to. Recorded
    once and kept on disk (every xdist worker, and ``migration-kit explore`` on the same
    tree, read the same one); each test judges it again, so a wrong fault-free run fails
    every one."""
    tree = dataclasses.replace(trees.three_users(), seed=mk_seed)
    return fault_free_baseline(Exploration(migrator.spec, tree), factory=tree_factory)


@pytest.mark.parametrize("site", SITES, ids=lambda s: s.id)
def test_single_fault_loses_nothing_and_a_rerun_finishes(
    request: pytest.FixtureRequest, trial: Trial, baseline: Baseline, site: FaultSite
) -> None:
    """R9/R10 (R8 for the full disk, R12 for EXDEV): after the faulted run every user's
    rows and images are still somewhere a person or the next run finds them; a clean re-run
    then leaves exactly the tree a fault-free run leaves. A faulted run that exits 0 must
    already have that tree."""
    check_fault_free(baseline, seed=trial.seed, replay=trial.replay)
    case = site.pick(baseline.cases(), USER)
    if case is None:
        pytest.skip(f"the migrator's run has no {site.describe()} of {USER}")

    result = run_case(baseline, case, factory=trial.factory)
    if result.outcome == NOT_JUDGED:
        explore_plugin.raise_outcome(request.node, result)
    if result.outcome != OK:
        raise site_failure(baseline, result, site, USER, seed=trial.seed, replay=trial.replay)


@pytest.mark.usefixtures("needs_mounts")
def test_profiles_on_another_filesystem(trial: Trial, disk: mounts.FsKind) -> None:
    """R12: bob's profiles/ is a mount of its own, so every rename into it fails with
    EXDEV; the migration still succeeds (copy, verify, then remove the source)."""
    tree = trial.tree(trees.three_users())
    with mounts.cross_device(tree.path / USER / "profiles", 64 << 20, kind=disk):
        step = trial.migrate(tree)
    trial.judge(step, as_rule("R12", check_r1(*step)), check_exit_status(step.run))
