"""What one fault case is held to: the verdicts, under the rule its effect belongs to.

In the state the fault left, SPEC's "no content lost at any moment"; an errno must be
reported (non-zero exit) or recovered from; a full disk leaves no partial files (R8); a
rename into ``profiles/`` that crosses filesystems is done by copying (R12); and after a
clean re-run the tree equals the fault-free result, the re-run ending as the fault-free run
did.
"""

from __future__ import annotations

from pathlib import Path

from harness.explore.backends import FaultedRun
from harness.explore.baseline import Baseline
from harness.explore.results import Case
from harness.faults.plan import KILL, Operation
from harness.judge.oracles import check_converged, check_no_content_lost
from harness.judge.snapshot import Snapshot
from harness.judge.verdict import Damage, Verdict
from harness.run.process import RunResult


def content_kept(base: Baseline, case: Case, faulted: Snapshot) -> list[Verdict]:
    """SPEC's "no content lost at any moment" in the state the fault left, per user.

    Users whose content the fault-free run already loses are judged once, by
    :attr:`Baseline.verdicts`, not again here: that loss is not the fault's doing.
    """
    already = {(v.user, v.expected) for v in base.verdicts if not v.ok}
    return [
        v
        for v in check_no_content_lost(base.before, faulted, rule=case.rule)
        if (v.user, v.expected) not in already
    ]


def judge(
    base: Baseline,
    case: Case,
    faulted_run: FaultedRun,
    faulted: Snapshot,
    rerun: RunResult,
    final: Snapshot,
) -> list[Verdict]:
    """Every rule a case is held to, under the rule its effect belongs to.

    - in the state the fault left: no content lost (:func:`content_kept`);
    - an errno: reported (non-zero exit) or recovered from (the tree already converged);
    - ENOSPC (R8): no partial files left; EXDEV on a rename into ``profiles/`` (R12): the
      run still succeeds, by copying;
    - after a clean re-run: the tree equals the fault-free result, and the re-run ends as
      the fault-free run did.
    """
    rule = case.rule
    reference = base.reference
    user = case_user(base.before, case)
    out = content_kept(base, case, faulted)
    if case.effect != KILL:
        out.append(_reported_or_recovered(rule, user, faulted_run, faulted, reference))
    if case.effect == "ENOSPC":
        out.append(_no_partial_files(rule, user, base.before, faulted, reference))
    if case.effect == "EXDEV" and crosses_into_profiles(case):
        out.append(_copied_across(rule, user, faulted_run, faulted, base))
    out += check_converged(final, reference, rule=rule)
    out.append(_rerun_ends_as_fault_free(rule, user, rerun, base.exit_status))
    return out


def case_user(before: Snapshot, case: Case) -> str | None:
    """The user whose folder the case's operation is in (None: system.db, scratch, ...)."""
    top = case.paths[0].split("/", 1)[0] if case.paths else ""
    return top if top in before.users else None


def _converged(snap: Snapshot, reference: Snapshot) -> bool:
    return all(v.ok for v in check_converged(snap, reference))


def _reported_or_recovered(
    rule: str, user: str | None, run: FaultedRun, faulted: Snapshot, reference: Snapshot
) -> Verdict:
    """SPEC's contract under a fault: a failure the migrator did not repair is reported."""
    recovered = _converged(faulted, reference)
    if run.exit_status != 0:
        found = f"reported (exit status {run.exit_status})"
    else:
        found = "recovered (exit 0, fault-free result)" if recovered else "exit 0, tree unfinished"
    return Verdict(
        rule,
        user,
        run.exit_status != 0 or recovered,
        "the failure reported (non-zero exit status) or recovered from (exit 0 and the "
        "tree already equal to the fault-free result)",
        found,
        damage=Damage.NOT_REPORTED,
        place="exit status",
    )


_SIDECARS = ("-wal", "-shm", "-journal")


def _no_partial_files(
    rule: str, user: str | None, before: Snapshot, faulted: Snapshot, reference: Snapshot
) -> Verdict:
    """R8: after a full disk no file is left that neither the tree had nor the fault-free
    run leaves (scratch), and no database is left unsound that was sound or absent."""
    left = [
        p
        for p, e in faulted.entries.items()
        if e.kind != "dir"
        and p not in before.entries
        and p not in reference.entries
        and not p.endswith(_SIDECARS)
    ]
    unsound = [
        p
        for p, db in faulted.databases.items()
        if not db.sound and (p not in before.databases or before.databases[p].sound)
    ]
    problems = [f"left: {p}" for p in sorted(left)] + [f"unsound: {p}" for p in sorted(unsound)]
    return Verdict(
        rule,
        user,
        not problems,
        "no partial files left (no scratch, no half-written database)",
        "none" if not problems else "; ".join(problems[:10]),
        damage=Damage.LEFT_OVER,
        place="partial files",
        evidence=tuple(problems),
    )


def crosses_into_profiles(case: Case) -> bool:
    """A rename from outside a user's ``profiles/`` into it: the one that gives EXDEV when
    ``profiles/`` is another filesystem (R12)."""
    if case.operation != Operation.RENAME.value or len(case.paths) != 2:
        return False
    src, dst = (Path(p).parts for p in case.paths)
    return len(dst) > 1 and dst[1] == "profiles" and not (len(src) > 1 and src[1] == "profiles")


def _copied_across(
    rule: str, user: str | None, run: FaultedRun, faulted: Snapshot, base: Baseline
) -> Verdict:
    """R12: the crossing rename is done by copying, in the same run. The run ends as the
    fault-free run did: a tree with, say, an orphan user exits 1 either way."""
    converged = _converged(faulted, base.reference)
    same_end = (run.exit_status == 0) == (base.exit_status == 0)
    return Verdict(
        rule,
        user,
        converged and same_end,
        "the migration still succeeds (copy, verify, then remove the source): the "
        "fault-free result, without a re-run, and the fault-free run's exit status "
        f"({base.exit_status})",
        f"exit status {run.exit_status}, tree "
        + ("equal to the fault-free result" if converged else "unfinished"),
        damage=Damage.NOT_CONVERGED,
        place="no copy across filesystems",
    )


def _rerun_ends_as_fault_free(
    rule: str, user: str | None, rerun: RunResult, fault_free_status: int
) -> Verdict:
    want_ok = fault_free_status == 0
    return Verdict(
        rule,
        user,
        rerun.ok == want_ok,
        f"the clean re-run ends as the fault-free run did ({'exit 0' if want_ok else 'failure'})",
        rerun.describe(),
        damage=Damage.EXIT_STATUS,
        place="the clean re-run",
    )
