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

Each fault is real: the migrator runs as a process under strace (the syscall backend, for
``cmd:`` migrators in any language and ``py:`` callables alike) and exactly one operation
fails or is preceded by SIGKILL to the whole process group. Where the fault falls is read
off a fault-free recording of the same migrator on the same tree, so the sites below mean
the same thing for every migrator. The exhaustive version (every operation, every effect)
is the ``faults`` item beyond the checklist.
"""

from __future__ import annotations

import pytest

from fixtures.factory import TreeFactory
from harness.faults import mounts
from harness.faults.plan import KILL, Operation
from harness.judge.oracles import (
    check_converged,
    check_exit_status,
    check_no_content_lost,
    check_r1,
)
from harness.run.adapters import Migrator
from harness.scenario import FaultSite, Recording, Trial, as_rule
from scenarios import trees

pytestmark = pytest.mark.rollback

USER = "bob"  # mid-run: WAL-heavy, images; alice and carol around him
DATA = (Operation.WRITE, Operation.COPY)  # the operations that put bytes in a file
BACKUP = "peek.db.pre-migration-backup*"  # the backup, and its temporary names

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
def recording(
    needs_strace: None,
    migrator: Migrator,
    tree_factory: TreeFactory,
    tmp_path_factory: pytest.TempPathFactory,
    mk_seed: int,
) -> Recording:
    """The migrator's fault-free run on the tree, under strace: where each site falls, and
    the result every faulted tree must converge to. Recorded once per module (per xdist
    worker); each test judges it again, so a wrong fault-free run fails every one."""
    trial = Trial(migrator, tree_factory, tmp_path_factory.mktemp("fault-free"), seed=mk_seed)
    return trial.record(trial.tree(trees.three_users()))


@pytest.mark.parametrize("site", SITES, ids=lambda s: s.id)
def test_single_fault_loses_nothing_and_a_rerun_finishes(
    trial: Trial, recording: Recording, site: FaultSite
) -> None:
    """R9/R10: after the faulted run every user's rows and images are still somewhere a
    person or the next run finds them; a clean re-run then leaves exactly the tree a
    fault-free run leaves. A faulted run that exits 0 must already have that tree."""
    trial.judge(recording.step, check_r1(*recording.step), check_exit_status(recording.step.run))
    plan = site.plan(recording, USER)
    if plan is None:
        pytest.skip(f"the migrator's run has no {site.describe()} of {USER}")

    tree = trial.tree(trees.three_users())
    faulted = trial.inject(tree, plan, recording)
    if faulted.fault is not None and not faulted.fault.hits:
        pytest.skip(f"the fault did not land ({plan.format()}): the run did not repeat itself")
    verdicts = check_no_content_lost(faulted.before, faulted.after, rule=site.rule)
    if faulted.run.exit_status == 0:
        verdicts += check_converged(faulted.after, recording.after, rule="contract")
    trial.judge(faulted, verdicts)

    rerun = trial.migrate(tree)
    trial.judge(
        rerun,
        check_converged(rerun.after, recording.after, rule=site.rule),
        check_exit_status(rerun.run),
    )


@pytest.mark.usefixtures("needs_mounts")
def test_profiles_on_another_filesystem(trial: Trial) -> None:
    """R12: bob's profiles/ is a mount of its own, so every rename into it fails with
    EXDEV; the migration still succeeds (copy, verify, then remove the source)."""
    tree = trial.tree(trees.three_users())
    with mounts.cross_device(tree.path / USER / "profiles", 64 << 20):
        step = trial.migrate(tree)
    trial.judge(step, as_rule("R12", check_r1(*step)), check_exit_status(step.run))
