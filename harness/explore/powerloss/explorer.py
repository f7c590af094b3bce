"""The power-loss explorer (SPEC R17): every crash state of a run, judged as a fault case.

1. **Baseline** (:func:`harness.explore.powerloss.baseline.power_baseline`): the fault explorer's
   fault-free run, recorded with every byte it wrote, cached for all processes.
2. **Cases** (:meth:`PowerLoss.cases`): every crash point of the trace (just before each
   fsync, rename, unlink, mkdir, rmdir, link, symlink and file creation in the tree, and the
   end of the run) times the kinds of crash state the persistence profile allows
   (:mod:`~harness.explore.powerloss.profiles`; ``power-loss-synced``: only what was
   fsynced survives; ``power-loss-committed``: directory changes reached the disk, unsynced
   file data did not; ``-prefix`` and ``-torn``: part of it did; ``-reordered``: one
   directory's changes did ahead of the others'). A case is the fault explorer's
   :class:`~harness.explore.results.Case`:
   its index k is the trace operation the power cut comes just before (the end of the run
   is k = the number of operations), so ``k`` means the same operation in both explorers.
   Plus, by default, one case per fsync of a file in the tree, ``K:EIO+power-loss``: that
   fsync fails with EIO, and the power cut comes at the end of the faulted run; the pages
   the failed fsync lost stay lost even if the migrator retried it
   (:mod:`~harness.explore.powerloss.failed_fsync`).
3. **One case** (:func:`run_case`): the crash image, written out, judged
   (:class:`~harness.explore.powerloss.judge.Judge`): no content lost in it, and after a clean
   re-run
   the fault-free result. Reported as a :class:`~harness.explore.results.CaseResult`, with
   what the power cut dropped and one replay command.

Before any case counts, the replay checks itself: the model's view of the tree at the end of
the run (nothing dropped) must be the tree the real run left, -shm files aside (SQLite
writes those through mmap, which strace does not see). If it is not, every case is
``not judged``: a model that does not reproduce the run proves nothing about its crashes.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fixtures.factory import TreeFactory
from fixtures.spec import spec_to_json
from harness.contract import layout
from harness.explore.baseline import Baseline
from harness.explore.exploration import DEFAULT_TREE, Exploration, ExploreError
from harness.explore.powerloss import failed_fsync
from harness.explore.powerloss.baseline import power_baseline
from harness.explore.powerloss.image import (
    KIND_TEXT,
    KINDS,
    SYNCED,
    VOLATILE,
    CrashImage,
)
from harness.explore.powerloss.judge import RULE, Judge, Judgement, JudgementStore
from harness.explore.powerloss.profiles import DEFAULT_FS, PROFILES, Fs, Profile
from harness.explore.powerloss.trace_replay import (
    CrashPoint,
    Replayer,
    crash_points,
    relative,
    replay_images,
)
from harness.explore.results import (
    BROKEN,
    NOT_JUDGED,
    OK,
    OUTPUT_TAIL,
    Case,
    CaseResult,
    ExploreReport,
    Loss,
    Step,
)
from harness.explore.results import parse_case_id as _parse_case_id
from harness.faults.trace import TraceOp
from harness.judge.verdict import Verdict
from harness.scenario.replay_command import pythonpath_for
from harness.store.scratch import ram_scratch

EFFECTS = {kind: f"power-loss-{kind}" for kind in KINDS}
KIND_OF = {effect: kind for kind, effect in EFFECTS.items()}
END = "end"  # the operation name of the crash point after the run's last operation

# Not modelled, said in every report (docs/power-loss.md has the full list).
NOT_BUILT = (
    "not built: every legal crash state (one of each kind per point: half the unsynced "
    "writes, every other unsynced block, the directory changed last ahead of the others), "
    "writes through mmap; a failed fsync is followed by one power cut, at the end of the "
    "run, and a directory's failed fsync is not modelled"
)


@dataclass(frozen=True)
class PowerLoss:
    """A baseline read for power loss: its crash points, cases, images and self-check."""

    base: Baseline
    # Errnos injected at each fsync of a file, each followed by a power cut (K:EIO+power-loss).
    fsync_errors: tuple[str, ...] = failed_fsync.DEFAULT_ERRNOS
    # The file system whose crash states are built (--fs): which kinds, and auto_da_alloc.
    fs: Fs = DEFAULT_FS

    @property
    def profile(self) -> Profile:
        return PROFILES[self.fs]

    @property
    def root(self) -> str:
        return self.base.recorded_root

    @cached_property
    def points(self) -> tuple[CrashPoint, ...]:
        return crash_points(self.base.trace, self.root)

    @cached_property
    def _by_index(self) -> dict[int, CrashPoint]:
        return {self.index_of(p): p for p in self.points}

    def index_of(self, point: CrashPoint) -> int:
        """The case index of a point: its operation's, or one past the last for the end."""
        return len(self.base.trace.ops) if point.index is None else point.index

    def cases(self) -> tuple[Case, ...]:
        """Every (crash point, kind), then every (file fsync, errno) with its power cut, in
        trace order: the same list in every process."""
        cases = [self.case_at(p, kind) for p in self.points for kind in self.profile.kinds]
        cases += [
            self.failed_fsync_case(op, errno)
            for op in self.fsync_targets
            for errno in self.fsync_errors
        ]
        return tuple(sorted(cases, key=lambda c: c.index))

    @cached_property
    def fsync_targets(self) -> tuple[TraceOp, ...]:
        """The fault-free run's fsyncs of files in the tree: where an error is injected."""
        return failed_fsync.file_fsyncs(self.base.trace, self.root, self.base.before_dir)

    def failed_fsync_case(self, op: TraceOp, errno: str) -> Case:
        return Case(
            index=op.index,
            effect=failed_fsync.effect_of(errno),
            operation=op.operation.value,
            paths=tuple(relative(p, self.root) for p in op.paths),
            syscall=op.syscall,
            plan=failed_fsync.describe(op, errno, self.root),
            rule=RULE,
        )

    def case_at(self, point: CrashPoint, kind: str) -> Case:
        op = point.op
        return Case(
            index=self.index_of(point),
            effect=EFFECTS[kind],
            operation=END if op is None else op.operation.value,
            paths=() if op is None else tuple(relative(p, self.root) for p in op.paths),
            syscall="" if op is None else op.syscall,
            plan=f"power cut {point.describe(self.root)}",
            rule=RULE,
        )

    def case(self, case_id: str) -> Case:
        """Case ``K:EFFECT``, e.g. ``41:power-loss-synced``."""
        try:
            index, effect = _parse_case_id(case_id)
        except ValueError as exc:
            raise ExploreError(str(exc)) from None
        errno = failed_fsync.errno_of(effect)
        if errno is not None:
            op = failed_fsync.targets_of(self.fsync_targets, index)
            if op is None:
                labels = ", ".join(str(o.index) for o in self.fsync_targets) or "none"
                raise ExploreError(
                    f"case {case_id}: operation {index} is not an fsync of a file in the tree "
                    f"(they are: {labels})"
                )
            return self.failed_fsync_case(op, errno)
        effects = [EFFECTS[kind] for kind in self.profile.kinds]
        if effect not in effects:
            known = ", ".join(
                [*effects, *(f"{e}{failed_fsync.SUFFIX}" for e in failed_fsync.ERRNOS)]
            )
            if effect in KIND_OF:
                raise ExploreError(
                    f"case {case_id}: --fs {self.fs} leaves no {KIND_OF[effect]} crash state "
                    f"(its effects: {known})"
                )
            raise ExploreError(f"case {case_id}: the effect must be one of {known}")
        point = self._by_index.get(index)
        if point is None:
            labels = ", ".join(str(self.index_of(p)) for p in self.points)
            raise ExploreError(
                f"case {case_id}: operation {index} is not a crash point (they are: {labels})"
            )
        return self.case_at(point, KIND_OF[effect])

    def point_of(self, case: Case) -> CrashPoint:
        return self._by_index[case.index]

    @cached_property
    def _images(self) -> dict[tuple[int, str], CrashImage]:
        """Every crash image, from one pass over the trace; kept, since images share the
        model's immutable bytes and cost little more than their list of entries."""
        replayed = replay_images(
            self.base.trace,
            self.root,
            self.base.before_dir,
            kinds=self.profile.kinds,
            replace_flush=self.profile.replace_flush,
        )
        return {(self.index_of(point), image.kind): image for point, image in replayed}

    def image(self, case: Case) -> CrashImage:
        return self._images[(case.index, KIND_OF[case.effect])]

    @cached_property
    def initial_digest(self) -> str:
        """The digest of the tree before the run (a crash state equal to it needs no re-run)."""
        replayer = Replayer(self.base.trace, self.root, self.base.before_dir)
        return replayer.image(SYNCED).digest

    @cached_property
    def self_check(self) -> tuple[str, ...]:
        """Where the replayed run differs from the real one (empty: it reproduces it)."""
        replayer = Replayer(self.base.trace, self.root, self.base.before_dir)
        for event in self.base.trace.events:
            replayer.apply(event)
        image = replayer.image(VOLATILE)
        problems = [n for n in replayer.notes if self.root in n]
        problems += _differences(_image_tree(image), _real_tree(self.base.result_dir))
        return tuple(problems)

    def target(self) -> dict[str, Any]:
        """What a report says was explored (kept apart from the fault exploration's)."""
        return {
            **self.base.exploration.target(),
            "backend": "power-loss",
            "fs": str(self.fs),
            "effects": [
                *(EFFECTS[kind] for kind in self.profile.kinds),
                *(failed_fsync.effect_of(e) for e in self.fsync_errors),
            ],
        }

    def not_explored(self) -> str:
        ops = len(self.base.trace.ops)
        return (
            f"{len(self.points) - 1} of {ops} operations are crash points (writes, truncates, "
            f"chmods change nothing durable by themselves), plus the end; "
            f"{len(self.fsync_targets)} fsyncs of files failed in turn "
            f"({', '.join(self.fsync_errors) or 'none'}), each then a power cut; "
            f"file system profile {self.fs} ({', '.join(self.profile.kinds)}); {NOT_BUILT}"
        )

    def replay(self, case_id: str) -> str:
        """One shell command that judges exactly case ``case_id`` again."""
        exploration = self.base.exploration
        args = ["migration-kit", "explore", "--power-loss", "--migrator", exploration.migrator]
        if exploration.tree != DEFAULT_TREE:
            args += ["--tree", spec_to_json(exploration.tree)]
        if self.fs != DEFAULT_FS:
            args += ["--fs", str(self.fs)]
        if layout.replay_value():
            args += ["--layout", str(layout.replay_value())]
        args += ["--case", case_id]
        line = shlex.join(args)
        pythonpath = pythonpath_for(exploration.open_migrator())  # py:tests.* needs the repo
        if pythonpath:
            line = f"PYTHONPATH={shlex.quote(pythonpath)} {line}"
        return f"cd {shlex.quote(os.getcwd())} && {line}"

    def steps(self) -> tuple[Step, ...]:
        """The recorded run's operations, then the end (the crash point after the last)."""
        ops = self.base.steps()
        return (*ops, Step(len(self.base.trace.ops), END))

    def report(self, results: Sequence[CaseResult]) -> ExploreReport:
        return ExploreReport(
            target=self.target(),
            baseline=self.base.verdicts,
            results=tuple(sorted(results, key=lambda r: (r.case.index, r.case.effect))),
            not_explored=self.not_explored(),
            steps=self.steps(),
        )


def _image_tree(image: CrashImage) -> dict[str, tuple[str, bytes | str | None]]:
    out: dict[str, tuple[str, bytes | str | None]] = {}
    for node in image.nodes:
        if node.kind == "file":
            data = node.data.data if node.data is not None else _read(node.base)
            out[node.path] = ("file", data)
        else:
            out[node.path] = (node.kind, node.target)
    return out


def _real_tree(root: Path) -> dict[str, tuple[str, bytes | str | None]]:
    out: dict[str, tuple[str, bytes | str | None]] = {".": ("dir", None)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("symlink", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", None)
            else:
                out[rel] = ("file", _read(str(path)))
    return out


def _read(path: str | None) -> bytes:
    return Path(path).read_bytes() if path else b""


def _differences(replayed: dict[str, Any], real: dict[str, Any]) -> list[str]:
    out = []
    for path in sorted(replayed.keys() | real.keys()):
        if path.endswith("-shm"):
            continue  # SQLite's shared-memory index is written through mmap: not traced
        mine, theirs = replayed.get(path), real.get(path)
        if mine is None:
            out.append(f"{path}: left by the run, missing from the replay")
        elif theirs is None:
            out.append(f"{path}: in the replay, not left by the run")
        elif mine != theirs:
            out.append(f"{path}: the replay holds other bytes than the run left")
    return out


def run_case(power: PowerLoss, case: Case, judge: Judge) -> CaseResult:
    """Judge ``case``'s crash state."""
    if failed_fsync.errno_of(case.effect) is not None:
        return run_failed_fsync_case(power, case, judge)
    started = time.monotonic()
    point = power.point_of(case)
    image = power.image(case)
    where = f"power cut {point.describe(power.root)}: {KIND_TEXT[KIND_OF[case.effect]]}"
    replay = power.replay(case.id)
    if power.self_check:
        problems = "; ".join(power.self_check[:5])
        return CaseResult(
            case=case,
            outcome=NOT_JUDGED,
            verdicts=(),
            replay=replay,
            fault=f"{where}; the replay does not reproduce the fault-free run: {problems}",
            seconds=time.monotonic() - started,
        )
    judgement = _initial(case) if image.digest == power.initial_digest else judge(image)
    return _crash_result(case, judgement, image, where=where, replay=replay, started=started)


def _crash_result(
    case: Case,
    judgement: Judgement,
    image: CrashImage,
    *,
    where: str,
    replay: str,
    started: float,
    before: tuple[tuple[str, str], ...] = (),
) -> CaseResult:
    """A crash state's judgement as a case result; a broken one carries ``before`` (blocks
    of its own) and then what the power cut dropped, the crash state and the re-run."""
    dropped = "\n".join(image.dropped) or "nothing: every change so far was durable"
    blocks: tuple[tuple[str, str], ...] = ()
    if not judgement.ok:
        blocks = (
            *before,
            ("What the power cut dropped", dropped),
            ("The crash state, compared with the tree before the run", judgement.crashed),
            ("The clean re-run", judgement.rerun),
        )
    return CaseResult(
        case=case,
        outcome=OK if judgement.ok else BROKEN,
        verdicts=judgement.verdicts,
        replay=replay,
        lost=_with_dropped(judgement, image),
        fault=f"{where}; crash state {image.digest[:12]}",
        blocks=blocks,
        seconds=time.monotonic() - started,
    )


def run_failed_fsync_case(power: PowerLoss, case: Case, judge: Judge) -> CaseResult:
    """Judge ``K:EIO+power-loss``: the run with fsync K failed, then a power cut at its end.

    Not judged when the fault-free replay or the faulted one does not reproduce its run, or
    when the error landed elsewhere than on the fsync it was meant for.
    """
    started = time.monotonic()
    errno = failed_fsync.errno_of(case.effect)
    op = failed_fsync.targets_of(power.fsync_targets, case.index)
    assert errno is not None and op is not None, case.id
    where = failed_fsync.describe(op, errno, power.root)
    replay = power.replay(case.id)

    def not_judged(why: str) -> CaseResult:
        return CaseResult(
            case=case,
            outcome=NOT_JUDGED,
            verdicts=(),
            replay=replay,
            fault=f"{where}; {why}",
            seconds=time.monotonic() - started,
        )

    if power.self_check:
        problems = "; ".join(power.self_check[:5])
        return not_judged(f"the replay does not reproduce the fault-free run: {problems}")
    failed = failed_fsync.failed_run(power.base.exploration, power.base, op, errno)
    landing = failed_fsync.landing(power.base, op, failed)
    if not landing.landed:
        return not_judged(f"not judged: {landing.problem}")
    faulted = PowerLoss(failed, fsync_errors=(), fs=power.fs)
    if faulted.self_check:
        problems = "; ".join(faulted.self_check[:5])
        return not_judged(f"the replay does not reproduce the faulted run: {problems}")
    image = failed_fsync.crash_image(failed, replace_flush=power.profile.replace_flush)
    run = f"exit status {failed.exit_status}\n{failed.output[-OUTPUT_TAIL:]}"
    return _crash_result(
        case,
        judge(image),
        image,
        where=where,
        replay=replay,
        started=started,
        before=(("The faulted run", run),),
    )


def _initial(case: Case) -> Judgement:
    return Judgement(
        (
            Verdict(
                case.rule,
                None,
                True,
                "no content lost, and the fault-free result after a clean re-run",
                "the tree as it was before the run: its re-run is the fault-free run",
            ),
        )
    )


def _with_dropped(judgement: Judgement, image: CrashImage) -> tuple[Loss, ...]:
    """Each failing user's losses, with what the power cut dropped in their folder."""
    if judgement.ok:
        return ()
    by_user = {x.user: x for x in judgement.lost}
    users = sorted({v.user for v in judgement.verdicts if not v.ok and v.user is not None})
    out = []
    for user in users:
        mine = [line for line in image.dropped if line.startswith(f"{user}/")]
        loss = by_user.get(user, Loss(user))
        if mine:
            note = "the power cut dropped " + "; ".join(mine[:6])
            if len(mine) > 6:
                note += f"; and {len(mine) - 6} more"
            loss = dataclasses.replace(loss, note="; ".join(x for x in (loss.note, note) if x))
        if loss.rows or loss.images or loss.note:
            out.append(loss)
    return tuple(out)


def explore_power_loss(
    exploration: Exploration | None = None,
    workdir: Path | None = None,
    *,
    cases: Sequence[str] | None = None,
    factory: TreeFactory | None = None,
    fsync_errors: tuple[str, ...] = failed_fsync.DEFAULT_ERRNOS,
    fs: Fs = DEFAULT_FS,
) -> ExploreReport:
    """The whole power-loss exploration in this process: one replay, each state judged once.

    ``exploration`` names the migrator and the tree (default: the reference migrator on
    :data:`harness.explore.exploration.DEFAULT_TREE`); ``cases`` narrows to those ids
    (``41:power-loss-synced``, ``37:EIO+power-loss``); ``fsync_errors=()`` leaves out the
    failed-fsync cases; ``fs`` is the persistence profile (which crash kinds). This is what
    ``migration-kit explore --power-loss`` runs.
    """
    exploration = exploration or Exploration()
    power = PowerLoss(
        power_baseline(exploration, factory=factory), fsync_errors=fsync_errors, fs=fs
    )
    chosen = [power.case(c) for c in cases] if cases is not None else list(power.cases())
    scratch = workdir if workdir is not None else ram_scratch()
    with tempfile.TemporaryDirectory(prefix="mk-powerloss-", dir=scratch) as tmp:
        judge = Judge(power.base, Path(tmp))
        results = [run_case(power, case, judge) for case in chosen]
    return power.report(results)


__all__ = [
    "EFFECTS",
    "END",
    "Judge",
    "JudgementStore",
    "PowerLoss",
    "explore_power_loss",
    "run_case",
    "run_failed_fsync_case",
]
