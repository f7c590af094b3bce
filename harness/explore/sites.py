"""Checklist item 4's faults: a few of the fault explorer's cases, picked by where they fall.

Item 4 ("Test migration rollback on failure") runs no faults of its own. It takes the fault
explorer's baseline (:func:`harness.explore.baseline.baseline`: the migrator's fault-free run on
item 4's tree, recorded under strace) and lets a :class:`FaultSite` pick one of its cases by
what every migrator's run has: an effect, an operation, a file in the user's folder, and the
first, middle or last of those. "EIO at bob's first rename" means the same thing for a
migrator in any language, without knowing an operation number in advance. The case picked
is then run and judged by :func:`harness.explore.cases.run_case`, exactly as the exhaustive
exploration (item 14) runs it: the same injection, timeout, oracles and replay command. So
item 4 is a selection of the explorer's cases, and the two can never disagree on a case.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from fixtures.spec import spec_to_json
from harness.explore.baseline import Baseline
from harness.explore.results import Case, CaseResult
from harness.faults.plan import KILL, Operation
from harness.judge.oracles import check_r1
from harness.judge.snapshot import diff
from harness.judge.verdict import Damage, Verdict, raise_if_broken
from harness.run.process import RunResult

WHICH = ("first", "middle", "last")
SPEC_SHOWN = 2000  # characters of the tree's spec JSON shown in a failure


@dataclass(frozen=True)
class FaultSite:
    """Where a scenario wants its one fault, in terms any migrator's run has.

    One of ``operations`` (empty: any file operation) on a path inside the target user's
    folder (``file``: only on paths in the folder matching that glob, e.g. ``peek.db`` or
    ``peek.db.pre-migration-backup*`` for the backup and its temporary names), the ``which``
    of those among the explorer's cases, failing with ``effect`` (an errno name, or ``kill``).
    """

    effect: str
    operations: tuple[Operation, ...] = ()
    which: str = "first"
    file: str | None = None

    def __post_init__(self) -> None:
        if self.which not in WHICH:
            raise ValueError(f"which must be one of {WHICH}, not {self.which!r}")

    @property
    def id(self) -> str:
        """A short test id: ``kill-first-rename``, ``EACCES-first-unlink-peek.db``."""
        ops = "+".join(o.value for o in self.operations) or "op"
        where = [self.file.rstrip("*")] if self.file else []
        return "-".join([self.effect, self.which, ops, *where])

    def describe(self) -> str:
        what = " or ".join(o.value for o in self.operations) or "file operation"
        on = f" on {self.file.rstrip('*')}" if self.file else " in the user's folder"
        how = "the process killed just before" if self.effect == KILL else f"{self.effect} at"
        return f"{how} the {self.which} {what}{on}"

    def matches(self, case: Case, user: str) -> bool:
        """Whether ``case`` is this site's effect on one of its operations in ``user``'s
        folder (case paths are relative to the data dir: ``bob/peek.db``)."""
        if case.effect != self.effect:
            return False
        if self.operations and case.operation not in self.operations:
            return False
        inside = [p.removeprefix(f"{user}/") for p in case.paths if p.startswith(f"{user}/")]
        if self.file is None:
            return bool(inside)
        return any(fnmatch.fnmatchcase(p, self.file) for p in inside)

    def pick(self, cases: Sequence[Case], user: str) -> Case | None:
        """The case among ``cases`` (in trace order) this site names for ``user``, or None
        when the migrator's run makes no such operation."""
        chosen = [c for c in cases if self.matches(c, user)]
        if not chosen:
            return None
        return {"first": chosen[0], "middle": chosen[len(chosen) // 2], "last": chosen[-1]}[
            self.which
        ]


def describe_tree(base: Baseline) -> str:
    """Where the fault-free run's trees are (read-only, in the cache) and the spec that
    rebuilds them (``migration-kit fixtures build``)."""
    spec = spec_to_json(base.exploration.tree)
    if len(spec) > SPEC_SHOWN:
        spec = spec[:SPEC_SHOWN] + f" ... ({len(spec) - SPEC_SHOWN} more characters)"
    return f"the fault-free run (read-only): {base.before_dir} -> {base.result_dir}\nspec: {spec}"


def fault_free_verdicts(base: Baseline) -> list[Verdict]:
    """The yardstick judged on its own: the fault-free run migrates every legacy user (R1)
    and exits 0. Without this, a migrator that does nothing would lose nothing under any
    fault and converge to its own (empty) result: item 4 would pass it."""
    # The recording keeps how the run ended, not its duration: R1's oracle reads no field
    # of the run, and the exit status is judged here rather than by ``check_exit_status``
    # so that no made-up duration is printed.
    run = RunResult(base.exit_status, base.output, 0.0, None, base.exploration.migrator, "")
    ended = Verdict(
        "contract",
        None,
        base.exit_status == 0,
        "exit status 0",
        f"exit status {base.exit_status}",
        damage=Damage.EXIT_STATUS,
    )
    return [*check_r1(base.before, base.reference, run), ended]


def check_fault_free(base: Baseline, *, seed: int | None, replay: str | None) -> None:
    """Raise ``RuleBroken`` (what changed, the output, the tree, the replay) unless
    :func:`fault_free_verdicts` all hold."""
    raise_if_broken(
        fault_free_verdicts(base),
        diff=diff(base.before, base.reference),
        output=f"exit status {base.exit_status}\n{base.output}",
        seed=seed,
        replay=replay,
        context=(("Tree", describe_tree(base)),),
        size=base.before.size,
    )


def site_failure(
    base: Baseline,
    result: CaseResult,
    site: FaultSite,
    user: str,
    *,
    seed: int | None,
    replay: str | None,
) -> AssertionError:
    """The failure of the case ``site`` picked: the explorer's own (the rule, the user,
    what the faulted run left and lost, the re-run, ``migration-kit explore --case``), plus
    the site, the tree, the seed and the command that replays the scenario."""
    context = [("Site", f"{site.describe()} of {user}"), ("Tree", describe_tree(base))]
    if replay is not None:
        context.append(("Replay the scenario", replay))
    return result.error(seed=seed, context=context, size=base.before.size)


__all__ = [
    "WHICH",
    "FaultSite",
    "check_fault_free",
    "describe_tree",
    "fault_free_verdicts",
    "site_failure",
]
