"""The fault explorer: SQLite's anomaly-testing loop, for any migrator.

"Fail at operation N, for every N, until the run completes; check integrity after every
fault" (ARCHITECTURE.md). Here:

1. **Baseline** (:func:`baseline`): build the tree, run the migrator on it once without a
   fault while recording its file operations (the trace). The tree it leaves is the
   fault-free result every faulted run must converge to. Recorded once per tree spec,
   migrator and code version, and kept on disk under a file lock, so that every
   pytest-xdist worker lists the very same cases and none of them records it again.
2. **Cases** (:meth:`Baseline.cases`): every operation k of the trace times every effect
   that operation can suffer (:func:`harness.faults.points.fault_points`): an errno, or a
   kill just before it.
3. **One case** (:func:`run_case`): a fresh copy of the tree, the migrator run with exactly
   that fault; the state it leaves must lose no content (SPEC: "no content lost at any
   moment"); an errno must be reported (non-zero exit) or recovered from; then a clean
   re-run, whose tree must equal the fault-free result. The verdicts, what was lost and one
   replay command make a :class:`~harness.explore.results.CaseResult`.

Parallelism is not this module's business: a case is independent of every other, and
``scenarios/test_faults_explore.py`` makes each one a test that pytest-xdist spreads over its
workers (the ``explore`` command runs that module).

Two backends: ``syscall`` (strace; any migrator that is a process, SQLite's own writes
included, a real SIGKILL) and ``inprocess`` (a ``py:`` callable in this process; Python's file
calls only, a simulated kill; fast enough for Hypothesis). With ``syscall``, operations
outside the data dir (a ``tempfile`` scratch copy, say) are not cases: their paths are random
names that a later run does not repeat, so no recording can target them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from filelock import FileLock

from fixtures.build import remove_tree
from fixtures.cache import cache_key as tree_cache_key
from fixtures.cache import copy_tree, default_cache_dir
from fixtures.factory import TreeFactory
from fixtures.spec import TreeSpec, UserSpec, spec_to_json
from harness.explore.results import (
    BROKEN,
    MISSED,
    OK,
    OUTPUT_TAIL,
    Case,
    CaseResult,
    ExploreReport,
    losses,
    parse_case_id,
)
from harness.faults import inprocess, strace
from harness.faults.availability import Availability
from harness.faults.injection import inject
from harness.faults.plan import (
    KILL,
    FaultPlan,
    Operation,
    PlanError,
    applicable_effects,
    parse_plan,
)
from harness.faults.points import FaultPoint, fault_points, plan_at
from harness.faults.trace import Trace, TraceOp, record
from harness.judge.oracles import check_converged, check_no_content_lost
from harness.judge.snapshot import Snapshot, diff
from harness.judge.verdict import Verdict
from harness.run.adapters import (
    DEFAULT_MIGRATOR,
    CommandMigrator,
    Migrator,
    PythonMigrator,
    parse_migrator,
)
from harness.run.process import RunResult
from harness.run.session import ram_scratch
from harness.scenario.replay_command import pythonpath_for

BACKENDS = ("syscall", "inprocess")
# The default of ``--timeout`` here: one migrator run on an exploration's small tree takes
# well under a second, so a run still going after two minutes hangs.
TIMEOUT = 120.0

# The default tree: small, but the kinds of user a real data dir has. alice is a busy
# legacy user (half her rows only in peek.db-wal, three images), bob a quiet legacy user,
# carol was migrated by an earlier run (a re-run must leave her alone).
DEFAULT_TREE = TreeSpec(
    users=(
        UserSpec("alice", items=30, images=3, wal_share=0.5),
        UserSpec("bob", items=12, images=1),
        UserSpec("carol", state="migrated", items=8, images=1),
    ),
)

ALL_EFFECTS = tuple(dict.fromkeys(e for op in Operation for e in applicable_effects(op)))


# Where trees are copied and migrated: a RAM disk when there is one with room. Every case
# runs the migrator twice, and its fsyncs on a disk shared by parallel workers (and whatever
# else the machine runs) dominate the time; the faults are injected, not the disk's own, so
# the filesystem under the tree changes nothing a case judges.
RAM_SCRATCH = Path("/dev/shm")
RAM_SCRATCH_FREE = 512 << 20


def scratch_dir() -> str | None:
    """The directory cases' trees go in: the RAM disk when usable, else None (the system
    temporary directory). Inside a ``migration-kit`` command, the command's own scratch
    folder there, which it removes even when a worker was killed in the middle of a case."""
    if not RAM_SCRATCH.is_dir() or not os.access(RAM_SCRATCH, os.W_OK):
        return None
    if shutil.disk_usage(RAM_SCRATCH).free <= RAM_SCRATCH_FREE:
        return None
    return str(ram_scratch() or RAM_SCRATCH)


def _snapshot(root: Path) -> Snapshot:
    """``Snapshot.take`` with its scratch copies of the databases on the RAM disk too."""
    scratch = scratch_dir()
    return Snapshot.take(root, scratch=Path(scratch) if scratch else None)


class ExploreError(ValueError):
    """An exploration that cannot be set up as asked (bad effect, unknown case, ...)."""


def parse_effects(text: str | None) -> tuple[str, ...] | None:
    """``"EIO,kill"`` -> ``("EIO", "kill")``; ``None``, ``""`` or ``"all"`` -> None (all).

    Only effects some operation can suffer are accepted: any other would select no case
    and make an exploration that tests nothing look like one that passed.
    """
    if text is None or text.strip().lower() in ("", "all"):
        return None
    effects = tuple(dict.fromkeys(e.strip() for e in text.split(",") if e.strip()))
    for effect in effects:
        if effect not in ALL_EFFECTS:
            known = ", ".join(ALL_EFFECTS)
            raise ExploreError(f"effect {effect!r} is tried at no operation (known: {known})")
    return effects or None


@dataclass(frozen=True)
class Exploration:
    """What to explore: plain data, the same in the CLI, the pytest options and a replay."""

    migrator: str = DEFAULT_MIGRATOR
    tree: TreeSpec = DEFAULT_TREE
    backend: str = "syscall"
    effects: tuple[str, ...] | None = None  # None: every applicable effect
    every_write: bool = False  # every write a case, not only the first of a run of writes
    # Leave out a kill before an operation that changes nothing a snapshot sees (an fsync,
    # a call that failed in the recording): it leaves the very tree the kill before the
    # next operation leaves, so it can only repeat that case. Not for power loss (R17),
    # where an fsync is everything.
    distinct_kills: bool = False
    timeout: float = TIMEOUT  # seconds one run may take; not part of what is explored

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            known = ", ".join(BACKENDS)
            raise ExploreError(f"backend must be one of {known}, not {self.backend!r}")
        if self.effects is not None:
            parse_effects(",".join(self.effects))

    def open_migrator(self) -> Migrator:
        """The migrator, in this process for the in-process backend."""
        return parse_migrator(
            self.migrator, inprocess=self.backend == "inprocess", timeout=self.timeout
        )

    def target(self) -> dict[str, Any]:
        """What a report says was explored."""
        return {
            "migrator": self.migrator,
            "tree": spec_to_json(self.tree),
            "backend": self.backend,
            "effects": list(self.effects) if self.effects is not None else None,
            "every_write": self.every_write,
            "distinct_kills": self.distinct_kills,
        }

    def replay(self, case_id: str) -> str:
        """One shell command that runs exactly case ``case_id`` again (from this directory),
        with the ``PYTHONPATH`` a ``py:`` migrator outside the installed packages needs."""
        args = [*kit_argv(), "explore", "--migrator", self.migrator]
        if self.tree != DEFAULT_TREE:
            args += ["--tree", spec_to_json(self.tree)]
        if self.backend != "syscall":
            args += ["--backend", self.backend]
        if self.timeout != TIMEOUT:
            args += ["--timeout", f"{self.timeout:g}"]
        args += ["--case", case_id]
        line = shlex.join(args)
        pythonpath = pythonpath_for(self.open_migrator())
        if pythonpath:
            line = f"PYTHONPATH={shlex.quote(pythonpath)} {line}"
        return f"cd {shlex.quote(os.getcwd())} && {line}"


def kit_argv() -> list[str]:
    """``migration-kit`` when this interpreter has the script and PATH finds one (directly
    or through a version manager's shim), else ``<python> -m harness.cli.main``."""
    mine = Path(sys.executable).parent / "migration-kit"
    if mine.is_file() and shutil.which("migration-kit"):
        return ["migration-kit"]
    return [sys.executable, "-m", "harness.cli.main"]


# ---------------------------------------------------------------------------------------------
# The baseline: one fault-free run, recorded.


@dataclass(frozen=True)
class Baseline:
    """A fault-free run of the exploration's migrator on its tree, and its trace.

    ``before_dir`` and ``result_dir`` are read-only copies of the tree before and after that
    run (in the cache, shared by processes): never run anything in them.
    """

    exploration: Exploration
    trace: Trace
    recorded_root: str  # where the tree was when recorded: the trace's paths start here
    before_dir: Path
    result_dir: Path
    exit_status: int
    output: str

    @cached_property
    def before(self) -> Snapshot:
        return _snapshot(self.before_dir)

    @cached_property
    def reference(self) -> Snapshot:
        """The fault-free result a faulted tree must converge to after a clean re-run."""
        return _snapshot(self.result_dir)

    @cached_property
    def verdicts(self) -> tuple[Verdict, ...]:
        """The fault-free run judged on its own: does it keep every user's content?

        A user whose content the fault-free run already loses (a migrator that drops the
        WAL, say) is reported once, here, rather than as a failure of every case.
        """
        return tuple(check_no_content_lost(self.before, self.reference, rule="content"))

    def targetable(self, op: TraceOp) -> bool:
        """Whether a run can be made to fail at ``op`` again (see the module docstring)."""
        if self.exploration.backend == "inprocess":
            return True
        root = self.recorded_root.rstrip("/") + "/"
        return any(p == self.recorded_root or p.startswith(root) for p in op.paths)

    @cached_property
    def points(self) -> tuple[FaultPoint, ...]:
        ops, exploration = self.trace.ops, self.exploration
        every = fault_points(ops, exploration.effects, every_write=exploration.every_write)
        last = ops[-1].index if ops else -1
        return tuple(
            p
            for p in every
            if self.targetable(p.op)
            and not (
                exploration.distinct_kills
                and p.plan.is_kill
                and p.op.index != last
                and changes_nothing(p.op)
            )
        )

    def cases(self) -> tuple[Case, ...]:
        """Every case of the exploration, in trace order (the same in every process)."""
        return tuple(self._case(p.op, p.plan) for p in self.points)

    def case(self, case_id: str) -> Case:
        """Case ``K:EFFECT``: operation K of the trace with any effect a plan can have."""
        try:
            index, effect = parse_case_id(case_id)
            if index >= len(self.trace.ops):
                raise ExploreError(
                    f"case {case_id}: the trace has {len(self.trace.ops)} operations (0 to "
                    f"{len(self.trace.ops) - 1})"
                )
            return self._case(self.trace.ops[index], plan_at(self.trace.ops, index, effect))
        except (ValueError, PlanError) as exc:
            raise ExploreError(str(exc)) from None

    def not_explored(self) -> str:
        """The operations no case targets, and why (for the report)."""
        left = [op for op in self.trace.ops if not self.targetable(op)]
        if not left:
            return ""
        return (
            f"{len(left)} of {len(self.trace.ops)} operations are outside the data dir "
            "(scratch files with random names, which a later run does not repeat)"
        )

    def _case(self, op: TraceOp, plan: FaultPlan) -> Case:
        return Case(
            index=op.index,
            effect=plan.effect,
            operation=op.operation.value,
            paths=tuple(_relative(p, self.recorded_root) for p in op.paths),
            syscall=op.syscall,
            plan=plan.format(),
        )

    def report(self, results: Sequence[CaseResult]) -> ExploreReport:
        return ExploreReport(
            target=self.exploration.target(),
            baseline=self.verdicts,
            results=tuple(sorted(results, key=lambda r: (r.case.index, r.case.effect))),
            not_explored=self.not_explored(),
        )


def changes_nothing(op: TraceOp) -> bool:
    """Whether ``op`` left the tree as it was (for a kill, see ``distinct_kills``)."""
    return op.operation == Operation.FSYNC or isinstance(op.result, str)


def _relative(path: str, root: str) -> str:
    """``path`` relative to the data dir (``.`` for the dir itself), absolute elsewhere."""
    inside = path == root or path.startswith(root.rstrip("/") + "/")
    return os.path.relpath(path, root) if inside else path


def private_tmp(workdir: Path) -> dict[str, str]:
    """``TMPDIR`` in ``workdir``: a killed migrator's ``tempfile`` scratch (the reference
    copies system.db there) goes with the case instead of piling up in /tmp."""
    tmp = Path(workdir) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {"TMPDIR": str(tmp)}


def backend_available(backend: str) -> Availability:
    """Whether ``backend`` can run here (strace installed and permitted, for ``syscall``)."""
    return inprocess.backend_available() if backend == "inprocess" else strace.backend_available()


def process_of(
    migrator: Migrator, data_dir: Path, more: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and full environment ``migrator.run(data_dir, env=more)`` starts with."""
    if not isinstance(migrator, CommandMigrator) and not (
        isinstance(migrator, PythonMigrator) and not migrator.inprocess
    ):
        raise ExploreError(f"{migrator.spec} does not run as a process; use --backend inprocess")
    child = migrator.process(data_dir, env=more)
    return child.argv, child.env


def record_baseline(exploration: Exploration, workdir: Path, factory: TreeFactory) -> Baseline:
    """Record the fault-free run now; ``workdir`` (empty or absent) keeps both trees.

    The run itself happens in :func:`scratch_dir`, where the cases run, so that the trace
    is made on the same kind of filesystem as the runs it is compared with.
    """
    migrator = exploration.open_migrator()
    before_dir, result_dir = Path(workdir) / "before", Path(workdir) / "tree"
    factory.make(exploration.tree, before_dir)
    with tempfile.TemporaryDirectory(prefix="mk-explore-record-", dir=scratch_dir()) as tmp:
        tree = Path(tmp) / "tree"
        factory.make(exploration.tree, tree)
        if exploration.backend == "inprocess":
            with inprocess.record() as recording:
                run = migrator.run(tree)
            trace = Trace(ops=tuple(recording.ops), cwd=os.getcwd())
            status, output = run.exit_status, run.output
        else:
            argv, env = process_of(migrator, tree, private_tmp(Path(tmp)))
            recorded = record(argv, cwd=os.getcwd(), env=env, timeout=exploration.timeout)
            trace = recorded.trace
            status, output = recorded.run.returncode, recorded.run.stdout + recorded.run.stderr
        copy_tree(tree, result_dir)
        remove_tree(tree)  # read-only folders (a quirk) would stop TemporaryDirectory
    return Baseline(exploration, trace, str(tree), before_dir, result_dir, status, output)


def cache_key(exploration: Exploration) -> str:
    """What decides a trace: the tree, the migrator and its code, the backend and the kit.

    The effects do not (they only filter cases), so explorations that differ only in
    effects share one recording.
    """
    parts = (
        tree_cache_key(exploration.tree),  # the tree's bytes (spec, kit, Faker, SQLite)
        exploration.migrator,
        exploration.backend,
        code_fingerprint(exploration.migrator),
        sys.version,
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


# The kit's own code that shapes a trace (the runner, the recorder and this module).
_KIT_FILES = ("faults/*.py", "run/*.py", "explore/engine.py")


def code_fingerprint(spec: str) -> str:
    """A digest of the code a recording depends on, so a changed migrator is re-recorded.

    For ``py:pkg.mod:fn`` every ``.py`` file of the top-level package ``pkg``; for
    ``cmd:...`` every file the command names (relative to the current directory) and the
    files beside it with the same suffix (``migrate.js`` and the ``users.js`` it requires).
    A migrator whose code lives elsewhere is not seen: pass ``use_cache=False`` (or clear
    the cache) after changing it.
    """
    here = Path(__file__).parent.parent
    files = [p for pattern in _KIT_FILES for p in sorted(here.glob(pattern))]
    kind, _, rest = spec.partition(":")
    if kind == "py":
        top = importlib.util.find_spec(rest.partition(":")[0].split(".")[0])
        locations = list(top.submodule_search_locations or []) if top else []
        if top and top.origin and not locations:
            files.append(Path(top.origin))
        for location in locations:
            files += sorted(Path(location).rglob("*.py"))
    else:
        for word in shlex.split(rest, posix=True):
            path = Path(word)
            if path.is_file():
                files += sorted(p for p in path.parent.glob(f"*{path.suffix}") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_root(root: Path | None = None) -> Path:
    """Where recordings are kept: ``explore/`` in the fixtures cache (``$MIGRATION_KIT_CACHE``)."""
    return Path(root) if root is not None else default_cache_dir() / "explore"


_META = "baseline.json"
_TRACE = "trace.json"


def baseline(
    exploration: Exploration,
    *,
    factory: TreeFactory | None = None,
    root: Path | None = None,
) -> Baseline:
    """The exploration's baseline, recorded on first use and read from the cache after."""
    return cached_baseline(exploration, cache_key(exploration), record_baseline, factory, root)


def cached_baseline(
    exploration: Exploration,
    key: str,
    recorder: Callable[[Exploration, Path, TreeFactory], Baseline],
    factory: TreeFactory | None = None,
    root: Path | None = None,
    meta: dict[str, Any] | None = None,
) -> Baseline:
    """The baseline cached under ``key``: ``recorder(exploration, workdir, factory)``
    records it on first use (``meta`` joins what is kept with it), later calls read it.

    Safe to call from many processes at once: one records (under a file lock, into a
    staging directory renamed into place), the others wait and read what it wrote.
    """
    factory = factory or TreeFactory()
    root = cache_root(root)
    entry = root / key
    if not (entry / _META).exists():
        (root / "locks").mkdir(parents=True, exist_ok=True)
        with FileLock(str(root / "locks" / f"{key}.lock")):
            if not (entry / _META).exists():
                _record_into(exploration, entry, factory, recorder, meta or {})
    return load_baseline(entry, exploration)


def _record_into(
    exploration: Exploration,
    entry: Path,
    factory: TreeFactory,
    recorder: Callable[[Exploration, Path, TreeFactory], Baseline],
    more_meta: dict[str, Any],
) -> None:
    staging = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    remove_tree(staging)
    try:
        recorded = recorder(exploration, staging, factory)
        (staging / _TRACE).write_text(recorded.trace.to_json())
        meta = {
            "exploration": exploration.target(),
            "recorded_root": recorded.recorded_root,
            "exit_status": recorded.exit_status,
            "output": recorded.output,
            **more_meta,
        }
        (staging / _META).write_text(json.dumps(meta, indent=1))  # written last: complete
        os.replace(staging, entry)
    finally:
        remove_tree(staging)  # only left when recording failed


def load_baseline(entry: Path, exploration: Exploration) -> Baseline:
    """A baseline written by :func:`baseline` (``exploration`` may differ in effects)."""
    meta = json.loads((entry / _META).read_text())
    return Baseline(
        exploration=exploration,
        trace=Trace.from_json((entry / _TRACE).read_text()),
        recorded_root=meta["recorded_root"],
        before_dir=entry / "before",
        result_dir=entry / "tree",
        exit_status=meta["exit_status"],
        output=meta["output"],
    )


# ---------------------------------------------------------------------------------------------
# One case.


@dataclass(frozen=True)
class FaultedRun:
    """The run with the fault: how it ended, and whether the fault hit the recorded call."""

    exit_status: int  # negative: killed by that signal
    output: str
    landed: bool
    fault: str  # a description of where the fault went, for the report

    def describe(self) -> str:
        end = f"killed by signal {-self.exit_status}" if self.exit_status < 0 else ""
        return f"{end or f'exit status {self.exit_status}'}\n{self.output[-OUTPUT_TAIL:]}"


def run_case(
    base: Baseline,
    case: Case,
    workdir: Path | None = None,
    *,
    factory: TreeFactory | None = None,
) -> CaseResult:
    """Run ``case`` on a fresh copy of the tree and judge it.

    The copy goes in ``workdir`` (kept afterwards, for a person to look at) or, by default,
    in a temporary directory under :func:`scratch_dir`, removed afterwards.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="mk-explore-case-", dir=scratch_dir()) as tmp:
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
    if inside:
        faulted_run = _run_inprocess(migrator, tree, plan, case)
    else:
        faulted_run = _run_syscall(base, migrator, tree, plan, more)
    faulted = _snapshot(tree)
    rerun = migrator.run(tree, env=more)
    final = _snapshot(tree)
    verdicts = judge(base, case, faulted_run, faulted, rerun, final)
    broken = any(not v.ok for v in verdicts)
    outcome = MISSED if not faulted_run.landed else BROKEN if broken else OK
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


def _run_syscall(
    base: Baseline, migrator: Migrator, tree: Path, plan: FaultPlan, more: dict[str, str] | None
) -> FaultedRun:
    argv, env = process_of(migrator, tree, more)
    injected = inject(
        argv,
        plan,
        base.trace,
        cwd=os.getcwd(),
        env=env,
        timeout=migrator.timeout,
        moved={base.recorded_root: str(tree)},
    )
    run = injected.run
    landed = injected.landed_within(str(tree))
    text = injected.describe()
    if landed and not injected.landed:
        text += " (the same call: only a scratch name outside the data dir differs)"
    return FaultedRun(run.returncode, run.stdout + run.stderr, landed, text)


def _run_inprocess(migrator: Migrator, tree: Path, plan: FaultPlan, case: Case) -> FaultedRun:
    crash: inprocess.SimulatedCrash | None = None
    run: RunResult | None = None
    with inprocess.inject(plan) as fault:
        try:
            run = migrator.run(tree)
        except inprocess.SimulatedCrash as exc:
            crash = exc
    fired = fault.fired
    landed = fired is not None and fired.index == case.index
    where = "did not fire" if fired is None else f"fired at {fired.describe()}"
    text = f"plan: {plan.format()} ({plan.describe()}); {where}"
    if crash is not None or run is None:
        return FaultedRun(-9, f"(simulated kill: {crash})", landed, text)
    return FaultedRun(run.exit_status, run.output, landed, text)


# ---------------------------------------------------------------------------------------------
# The verdicts of one case.


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


__all__ = [
    "ALL_EFFECTS",
    "BACKENDS",
    "DEFAULT_TREE",
    "Baseline",
    "Exploration",
    "ExploreError",
    "FaultedRun",
    "backend_available",
    "baseline",
    "cache_key",
    "case_user",
    "changes_nothing",
    "content_kept",
    "crosses_into_profiles",
    "explore",
    "judge",
    "load_baseline",
    "parse_effects",
    "private_tmp",
    "process_of",
    "record_baseline",
    "run_case",
    "scratch_dir",
]
