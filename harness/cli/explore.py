"""``migration-kit explore``: every single fault at every file operation of one migration.

Three modes, one exploration (``--migrator``, ``--tree``, ``--backend``, ``--effects``):

- the whole exploration (default): the cases run as the tests of
  ``scenarios/test_faults_explore.py`` in a child pytest with ``-n N`` xdist workers (the
  parallelism is pytest-xdist's, as in the suite); the child writes ``--explore-json``,
  this command prints the report: each failing case with its operation, effect, the rule
  broken, what was lost, and the one command that replays it;
- ``--case K:EFFECT`` (repeatable): run exactly those cases here, one after the other,
  with the whole failure text; this is the replay command a report prints;
- ``--list``: the cases, without running any.

``--power-loss`` runs the power-cut exploration (R17) in the same three modes, with the
same options: the same child pytest on ``scenarios/test_power_loss.py``, ``--case
K:power-loss-synced`` replayed here. ``replay --explore`` runs this command's handler on
:func:`parse`'s arguments.

``--html FILE`` writes the report as one self-contained page (:mod:`harness.explore.
pictures`): the findings, each user's timeline of the recorded run's operations with every
case coloured by its outcome, and the operations x effects matrix.

The trace is recorded once, here, before the child starts (so a migrator that cannot even
start fails fast), and kept in the cache the child's workers read. Registering the command
imports nothing of the engines: the handler does, when it runs.

Exit status: 0 no case broke a rule; 1 a case broke a rule, or the fault-free run itself
lost content, or (``--strict-coverage``) a case was not judged (its fault could not be placed
on the recorded call: the exploration has a hole, shown as "judged 499 of 531"); 2 usage
(bad migrator, tree, effect or case; a backend that cannot run here);
3 internal (the child pytest did not run to the end).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from harness.cli.options import layout_option, timeout_option
from harness.contract.errors import ExitStatus, InternalError, UsageError
from harness.contract.settings import DEFAULT_FS, DEFAULT_MIGRATOR, EXPLORE_TIMEOUT, FS_PROFILES
from harness.run import serve

if TYPE_CHECKING:
    from harness.explore.baseline import Baseline
    from harness.explore.exploration import Exploration
    from harness.explore.results import Case, CaseResult, ExploreReport, Step
    from harness.report.shards import Shard

T = TypeVar("T")
SCENARIO = "scenarios.test_faults_explore::test_fault_case"
POWER_LOSS_SCENARIO = "scenarios.test_power_loss::test_power_loss"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explore",
        help="fail or kill every file operation of a migration in turn (exit 1 if any case "
        "breaks a rule)",
        description="Record a migrator's file operations on a tree, then run it once per "
        "operation and effect with exactly that fault (an errno, or a kill just before the "
        "operation); after each, check that no content is lost and that a clean re-run "
        "reaches the fault-free result. Exit 0: no case broke a rule; 1: one did; 2: usage.",
    )
    add_arguments(p)
    p.set_defaults(handler=run)


def parse(argv: list[str]) -> argparse.Namespace:
    """``migration-kit explore ARGV``'s arguments, for a command that runs an exploration
    itself (``replay --explore``): the defaults are this command's, whatever they become."""
    parser = argparse.ArgumentParser(prog="migration-kit explore")
    add_arguments(parser)
    return parser.parse_args(argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--migrator",
        metavar="SPEC",
        default=DEFAULT_MIGRATOR,
        help=f"'py:package.module:function', 'cmd:<shell command>' or 'serve:<server command>'; "
        f"default {DEFAULT_MIGRATOR}",
    )
    serve.add_options(p.add_argument)
    p.add_argument(
        "--tree",
        metavar="SPEC.json",
        default=None,
        help="the tree: a TreeSpec JSON file (`migration-kit fixtures spec`) or the JSON "
        "itself; default: a small realistic tree (two legacy users, WAL rows, images, one "
        "user already migrated)",
    )
    p.add_argument(
        "--effects",
        metavar="LIST",
        default=None,
        help="comma-separated errno names and/or kill (EIO,ENOSPC,EACCES,EXDEV,kill); "
        "default: every effect that applies to each operation",
    )
    p.add_argument(
        "-n",
        dest="workers",
        type=_workers,
        default="1",
        metavar="N",
        help="pytest-xdist worker processes running cases in parallel (a number or 'auto'; "
        "default 1)",
    )
    p.add_argument(
        "--backend",
        default="syscall",  # the exploration checks the name (usage error if unknown)
        help="syscall: strace, any migrator process (default); inprocess: a py: callable "
        "in this process, Python's file calls only, kills simulated",
    )
    p.add_argument(
        "--case",
        dest="cases",
        action="append",
        metavar="K:EFFECT",
        help="run only case K:EFFECT (operation K of the trace; repeatable), here, with the "
        "full failure text: what a report's replay command does",
    )
    timeout_option(p, default=EXPLORE_TIMEOUT)
    layout_option(p)
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument(
        "--every-write",
        action="store_true",
        help="every write a case (default: the first of each run of writes to one file)",
    )
    p.add_argument(
        "--distinct-kills",
        action="store_true",
        help="leave out kills before operations that change nothing on disk (fsyncs, failed "
        "calls): each leaves the tree the kill before the next operation leaves",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    p.add_argument(
        "--html",
        type=Path,
        metavar="FILE.html",
        help="also write a self-contained HTML report: the findings, each user's timeline of "
        "operations and faults, the operations x effects matrix, every case",
    )
    add_shard_arguments(p, "cases")
    p.add_argument(
        "--strict-coverage",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="exit 1 when a case was not judged (its fault could not be placed on the "
        "recorded call); by default such cases are counted and shown, not a failure",
    )
    p.add_argument(
        "--power-loss",
        action="store_true",
        help="instead of faults, a power cut at every durability point (R17): only what was "
        "fsynced survives, or directory changes did and unsynced data did not (or part of "
        "it), or one directory's changes did ahead of the others (--fs says which); cases "
        "K:power-loss-synced / K:power-loss-committed / ...; and each fsync of a file failed "
        "with EIO, then a power cut at the end of the run, its lost pages never on disk "
        "even if a retry succeeded: K:EIO+power-loss (harness.explore.powerloss)",
    )
    p.add_argument(
        "--fs",
        choices=FS_PROFILES,
        default=DEFAULT_FS,
        help="with --power-loss: the file system whose crash states are built (docs/"
        "power-loss.md): ext4-ordered (no directory reordering; a rename over a file "
        "flushes it, auto_da_alloc), xfs and btrfs (no reordering, no such flush), "
        "posix-minimal (only what POSIX promises: also one directory's changes on disk "
        f"ahead of another's); default {DEFAULT_FS}, the strictest the reference passes",
    )


def add_shard_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """``--shard K/N`` and ``--results FILE``: one job of a CI matrix (``explore`` and
    ``checklist`` alike)."""
    p.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help=f"run only slice K of N of the {what} (every N-th, from the K-th; the same "
        "slice on every machine) and write it to --results: one job of a CI matrix",
    )
    p.add_argument(
        "--results",
        type=Path,
        metavar="FILE",
        help="write this run's (or slice's) results for `migration-kit merge FILE...`",
    )


def _shard(value: str) -> Shard:
    from harness.contract.errors import KitError
    from harness.report.shards import parse_shard

    try:
        return parse_shard(value)
    except KitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_shard_arguments(args: argparse.Namespace) -> None:
    """A usage error for ``--shard`` without ``--results`` (the slice would be lost)."""
    if args.shard is not None and args.results is None:
        raise UsageError("--shard K/N needs --results FILE: what `migration-kit merge` reads")


def _workers(value: str) -> str:
    if value == "auto" or (value.isdigit() and int(value) >= 1):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers (>= 1) or 'auto'")


def exploration_from_args(args: argparse.Namespace) -> Exploration:
    """The exploration the arguments name; a usage error (a ``KitError``) when they name
    none, and when its backend cannot run here."""
    from fixtures.spec import TreeSpec
    from harness.explore.backends import backend_available
    from harness.explore.exploration import DEFAULT_TREE, Exploration, parse_effects
    from harness.scenario.preflight import preflight

    tree = TreeSpec.load(args.tree) if args.tree else DEFAULT_TREE
    exploration = Exploration(
        migrator=args.migrator.strip(),
        tree=tree,
        backend=args.backend,
        effects=parse_effects(args.effects),
        every_write=args.every_write,
        distinct_kills=args.distinct_kills,
        timeout=args.timeout,
    )
    # A typo in the spec, or a migrator that cannot start, is a usage error before any work.
    preflight(exploration.open_migrator())
    available = backend_available(exploration.backend)
    if not available:
        raise UsageError(f"{available.backend} fault backend unavailable: {available.reason}")
    return exploration


def run(args: argparse.Namespace) -> int:
    """The handler: the fault exploration, or with ``--power-loss`` the power-cut one."""
    check_shard_arguments(args)
    if args.shard is not None and (args.list or args.cases):
        raise UsageError("--shard runs a slice of the whole exploration: not with --list or --case")
    if args.power_loss:
        return _run_power_loss(args)
    from harness.explore.baseline import baseline
    from harness.explore.results import nothing_judged_report

    exploration = exploration_from_args(args)
    started = time.monotonic()
    base = recorded("explore", lambda: baseline(exploration))
    if args.list:
        for case in base.cases():
            print(f"{case.id:>10}  {case.describe_op()}")
        print(f"{len(base.cases())} case(s); {base.not_explored() or 'every operation explored'}")
        return ExitStatus.OK
    if args.cases:
        chosen = [base.case(c) for c in args.cases]  # an unknown case: ExploreError, usage
        report = _run_here(base, chosen)
    else:
        unjudged = nothing_judged_report(
            exploration.target(), base.before, base.reference, base.exit_status, base.verdicts
        )
        report = run_slice(
            exploration, args, base.cases(), base.report, unjudged=unjudged, steps=base.steps()
        )
    return finish(report, args, started)


def recorded(what: str, record: Callable[[], T]) -> T:
    """``record()``, the fault-free recording (or its copy in the cache), with progress on
    stderr: a migrator that hangs there is seen to."""
    from harness.report.progress import progress

    with progress(what, 1, unit="recordings") as shown:
        shown.start("the fault-free run, recorded")
        made = record()
        shown.done("the fault-free run, recorded")
    return made


def _run_power_loss(args: argparse.Namespace) -> int:
    """``--power-loss``: every durability point's power cut, in the modes of the faults."""
    from harness.explore.powerloss.baseline import power_baseline
    from harness.explore.powerloss.explorer import PowerLoss, explore_power_loss
    from harness.explore.powerloss.profiles import Fs
    from harness.explore.results import OK, nothing_judged_report
    from harness.report.progress import progress

    started = time.monotonic()
    exploration = exploration_from_args(args)
    if exploration.backend != "syscall":
        raise UsageError("power loss replays a syscall trace: --backend syscall")
    fs = Fs(args.fs)
    power = PowerLoss(recorded("power loss", lambda: power_baseline(exploration)), fs=fs)
    print(f"file system profile: {fs} ({', '.join(power.profile.kinds)})", flush=True)
    chosen = [power.case(c) for c in args.cases] if args.cases else None
    if args.list:
        for case in power.cases():
            print(f"{case.id:>24}  {case.describe_op()}")
        print(f"{len(power.cases())} case(s); {power.not_explored()}")
        return ExitStatus.OK
    if chosen is not None:
        ids = [c.id for c in chosen]
        with progress("power loss", 1, unit="replays") as shown:
            shown.start(f"case(s) {', '.join(ids)}")
            report = explore_power_loss(exploration, cases=ids, fs=fs)
            shown.done(findings=sum(r.outcome != OK for r in report.results))
        for result in report.results:
            print(f"case {result.case.id}: {result.fault}: {result.outcome}")
            if result.outcome != OK:
                print(f"\n{result.error()}\n")
    else:
        unjudged = nothing_judged_report(
            power.target(),
            power.base.before,
            power.base.reference,
            power.base.exit_status,
            power.base.verdicts,
        )
        report = run_slice(
            exploration,
            args,
            power.cases(),
            power.report,
            POWER_LOSS_SCENARIO,
            unjudged,
            steps=power.steps(),
        )
    return finish(report, args, started)


def run_slice(
    exploration: Exploration,
    args: argparse.Namespace,
    cases: Sequence[Case],
    empty: Callable[[Sequence[CaseResult]], ExploreReport],
    scenario: str = SCENARIO,
    unjudged: ExploreReport | None = None,
    steps: Sequence[Step] = (),
) -> ExploreReport:
    """The whole exploration, or with ``--shard K/N`` its slice (the child pytest runs the
    same slice of the same cases: :class:`~harness.report.shards.Shard`); ``--results``
    writes it for ``merge``. ``empty`` makes the report of a slice with no case (more
    shards than cases), which runs no child; ``unjudged`` is the report of an exploration
    that can judge nothing, every slice's alike (no case runs anywhere). ``steps``, the
    recorded run's operations (the child's report has none), join the report for the
    pictures of ``--html``."""
    import dataclasses

    from harness.report.shards import Shard, ShardResults, digest
    from harness.store import codec

    shard = args.shard or Shard(1, 1)
    if unjudged is not None:
        cases = []
    chosen = shard.pick(cases)
    if unjudged is not None:
        report = unjudged
    elif chosen:
        report = run_child(exploration, args, len(chosen), scenario)
    else:
        print(f"shard {shard}: no case in this slice of {len(cases)}", flush=True)
        report = empty([])
    if steps and not report.steps:
        report = dataclasses.replace(report, steps=tuple(steps))
    ran, wanted = [r.case.id for r in report.results], sorted(c.id for c in chosen)
    if sorted(ran) != wanted:  # the child collected other cases than this recording's
        odd = sorted(set(ran) ^ set(wanted))
        raise InternalError(
            f"shard {shard}: the child ran {len(ran)} case(s), not the slice's {len(wanted)} "
            f"(differing: {', '.join(odd[:8]) or 'the same ids, some twice'})"
        )
    if args.results:
        kind = "power-loss" if scenario == POWER_LOSS_SCENARIO else "explore"
        ids = [c.id for c in cases]
        data = codec.to_data(report)
        ShardResults(kind, shard, report.target, len(ids), digest(ids), data).write(args.results)
    return report


def finish(report: ExploreReport, args: argparse.Namespace, started: float | None) -> int:
    """The report printed (and written to ``--json``) with the time since ``started``
    (``None``: a merge of slices, timed elsewhere): its exit status."""
    print()
    print(report.render())
    if started is not None:
        print(f"({time.monotonic() - started:.1f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.to_json(), encoding="utf-8")
    status = report.status(strict_coverage=getattr(args, "strict_coverage", False))
    if getattr(args, "html", None):  # `merge` may have none
        from harness.explore.pictures import explore_html
        from harness.report import html

        print(f"html report: {html.write(args.html, explore_html(report, status))}")
    _github(report, status)
    return status


def _github(report: ExploreReport, status: int) -> None:
    """In GitHub Actions: a job summary (the findings first, then the report as the
    terminal shows it) and one annotation per distinct finding, the most severe first."""
    from harness.report import ci

    if not ci.in_github_actions(os.environ):
        return
    verdict = report.verdict_line(status)
    body = "~~~text\n" + report.render() + "\n~~~"
    findings = report.findings
    text = ci.summary_markdown("migration-kit explore", verdict, findings, body)
    ci.write_summary(text, os.environ)
    for line in ci.annotations(findings):
        print(line)


def _run_here(base: Baseline, cases: list) -> ExploreReport:
    """The replay: each case in this process, its whole failure text printed."""
    from harness.explore.cases import run_case
    from harness.explore.results import OK
    from harness.report.progress import progress

    results = []
    with progress("explore", len(cases)) as shown:
        for case in cases:
            shown.start(f"case {case.id}")
            result = run_case(base, case)
            results.append(result)
            shown.done(f"case {case.id}", findings=int(result.outcome != OK))
            with shown.aside():
                print(f"case {case.id}: {case.describe()}: {result.outcome}", flush=True)
                if result.outcome != OK:
                    print(f"\n{result.error()}\n", flush=True)
    return base.report(results)


def child_args(
    exploration: Exploration,
    args: argparse.Namespace,
    out: Path,
    scenario: str = SCENARIO,
) -> list[str]:
    """The child pytest's own arguments: this exploration's cases as xdist-spread tests of
    ``scenario``, results to ``out``."""
    from harness.explore.exploration import DEFAULT_TREE

    argv = ["--pyargs", scenario, "-q", "--tb=no", "-rN"]
    argv += ["--no-checklist-summary", "-n", args.workers, "--explore-json", str(out)]
    argv += ["--mk-progress", "power loss" if scenario == POWER_LOSS_SCENARIO else "explore"]
    argv += ["--migrator", exploration.migrator, "--explore-backend", exploration.backend]
    argv += ["--effects", ",".join(exploration.effects) if exploration.effects else "all"]
    if exploration.tree != DEFAULT_TREE:
        argv += ["--explore-tree", exploration.tree.to_json()]
    if exploration.every_write:
        argv.append("--explore-every-write")
    if getattr(args, "shard", None) is not None:
        argv += ["--mk-shard", str(args.shard)]
    if not exploration.distinct_kills:
        argv.append("--explore-every-kill")
    if scenario == POWER_LOSS_SCENARIO:
        argv += ["--fs", getattr(args, "fs", None) or DEFAULT_FS]
    return argv


def run_child(
    exploration: Exploration,
    args: argparse.Namespace,
    case_count: int,
    scenario: str = SCENARIO,
) -> ExploreReport:
    """The ``case_count`` cases as xdist tests of ``scenario`` in a child pytest: its one
    report; an :class:`InternalError` when it did not run to the end."""
    from harness.cli.child_pytest import run_pytest
    from harness.explore.results import load_reports

    print(f"{case_count} case(s) with -n {args.workers}", flush=True)
    # The child runs in this directory, as the recording did: a cmd: migrator's relative
    # paths mean the same thing, and the recorded trace's working directory is the same.
    with tempfile.TemporaryDirectory(prefix="mk-explore-") as tmp:
        out = Path(tmp) / "explore.json"
        migrator = exploration.open_migrator()
        status = run_pytest(child_args(exploration, args, out, scenario), migrator)
        if status not in (0, 1) or not out.is_file():
            raise InternalError(f"the cases did not run to the end (pytest exit {status})")
        reports = load_reports(out)
    if len(reports) != 1:
        raise InternalError(f"expected one exploration in the child's results, got {len(reports)}")
    return reports[0]
