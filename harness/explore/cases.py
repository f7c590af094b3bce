"""One fault case run and judged, and a whole exploration in one process.

"Fail at operation N, for every N, until the run completes; check integrity after every
fault" (ARCHITECTURE.md). A case (:func:`run_case`): a fresh copy of the tree, the migrator
run with exactly that fault (:mod:`harness.explore.backends`); the state it leaves and a
clean re-run after it are judged (:mod:`harness.explore.verdicts`). The verdicts, what was
lost and one replay command make a :class:`~harness.explore.results.CaseResult`.

Parallelism is not this module's business: a case is independent of every other, and
``scenarios/test_faults_explore.py`` makes each one a test that pytest-xdist spreads over its
workers (the ``explore`` command runs that module).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from fixtures.factory import TreeFactory
from harness.explore.backends import private_tmp, run_inprocess, run_syscall
from harness.explore.baseline import Baseline, baseline, snapshot
from harness.explore.exploration import Exploration
from harness.explore.results import (
    BROKEN,
    NOT_JUDGED,
    OK,
    OUTPUT_TAIL,
    Case,
    CaseResult,
    ExploreReport,
    losses,
)
from harness.explore.verdicts import content_kept, judge
from harness.faults.plan import parse_plan
from harness.judge.snapshot import diff
from harness.store.scratch import ram_scratch, remove_tree


def run_case(
    base: Baseline,
    case: Case,
    workdir: Path | None = None,
    *,
    factory: TreeFactory | None = None,
) -> CaseResult:
    """Run ``case`` on a fresh copy of the tree and judge it.

    The copy goes in ``workdir`` (kept afterwards, for a person to look at) or, by default,
    in a temporary directory under :func:`harness.store.scratch.ram_scratch`, removed afterwards.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="mk-explore-case-", dir=ram_scratch()) as tmp:
            try:
                return run_case(base, case, Path(tmp), factory=factory)
            finally:
                remove_tree(Path(tmp) / "tree")
    started = time.monotonic()
    factory = factory or TreeFactory()
    exploration = base.exploration
    migrator = exploration.open_migrator()
    tree = Path(workdir) / "tree"
    factory.make(exploration.tree, tree)
    plan = parse_plan(case.plan)
    inside = exploration.backend == "inprocess"
    more = None if inside else private_tmp(workdir)  # an in-process run has this TMPDIR

    def reset() -> None:  # the tree and its scratch as they were before the faulted run
        remove_tree(tree)
        remove_tree(Path(workdir) / "tmp")
        factory.make(exploration.tree, tree)
        private_tmp(workdir)

    if inside:
        faulted_run = run_inprocess(migrator, tree, plan, case.index)
    else:
        recording = (base.trace, base.recorded_root)
        faulted_run = run_syscall(migrator, tree, plan, recording, more, reset=reset)
    faulted = snapshot(tree)
    rerun = migrator.run(tree, env=more)
    final = snapshot(tree)
    verdicts = judge(base, case, faulted_run, faulted, rerun, final)
    broken = any(not v.ok for v in verdicts)
    outcome = NOT_JUDGED if not faulted_run.landed else BROKEN if broken else OK
    lost: tuple = ()
    blocks: tuple[tuple[str, str], ...] = ()
    if outcome != OK:
        losing = sorted({v.user for v in content_kept(base, case, faulted) if not v.ok})
        left = diff(base.before, faulted)
        lost = losses(left, losing)
        blocks = (
            ("What the faulted run left on disk", str(left)),
            ("The clean re-run", f"{rerun.describe()}\n{rerun.output[-OUTPUT_TAIL:]}"),
        )
    return CaseResult(
        case=case,
        outcome=outcome,
        verdicts=tuple(verdicts),
        replay=exploration.replay(case.id),
        lost=lost,
        fault=faulted_run.fault,
        output=faulted_run.describe() if outcome != OK else "",
        blocks=blocks,
        seconds=time.monotonic() - started,
    )


def explore(
    exploration: Exploration,
    *,
    factory: TreeFactory | None = None,
    cases: Sequence[str] | None = None,
) -> ExploreReport:
    """The whole exploration in this process, one case after the other.

    For a script or a debugger; ``migration-kit explore -n N`` and the scenarios run the
    same cases as pytest-xdist tests instead. ``cases`` narrows to those ids.
    """
    factory = factory or TreeFactory()
    base = baseline(exploration, factory=factory)
    chosen = [base.case(c) for c in cases] if cases is not None else base.cases()
    return base.report([run_case(base, case, factory=factory) for case in chosen])
