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

The trace is recorded once, here, before the child starts (so a migrator that cannot even
start fails fast), and kept in the cache the child's workers read.

Exit status: 0 no case broke a rule; 1 a case broke a rule, a case was missed (the fault did
not land on the recorded call, so the exploration has a hole), or the fault-free run itself
lost content; 2 usage (bad migrator, tree, effect or case; a backend that cannot run here);
3 internal (the child pytest did not run to the end).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixtures.validate import SpecError
from harness.cli.checklist import child_env, plugin_args
from harness.explore import engine as explore
from harness.explore.results import OK, ExploreReport
from harness.pytest_plugin.explore import load_reports, load_tree
from harness.run import serve
from harness.run.adapters import DEFAULT_MIGRATOR, MigratorSpecError

EXIT_OK, EXIT_BROKEN, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
SCENARIO = "scenarios.test_faults_explore::test_fault_case"


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
        choices=explore.BACKENDS,
        default="syscall",
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
        "--power-loss",
        action="store_true",
        help="instead of faults, a power cut at every durability point (R17): only what was "
        "fsynced survives, or directory changes did and unsynced data did not; cases "
        "K:power-loss-synced / K:power-loss-committed (harness.explore.powerloss)",
    )
    p.set_defaults(handler=run)


def _workers(value: str) -> str:
    if value == "auto" or (value.isdigit() and int(value) >= 1):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers (>= 1) or 'auto'")


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"migration-kit explore: {message}", file=sys.stderr)
    return status


def exploration_from_args(args: argparse.Namespace) -> explore.Exploration:
    """The exploration the arguments name; ``ValueError`` (usage) when they name none."""
    tree = load_tree(args.tree) if args.tree else explore.DEFAULT_TREE
    exploration = explore.Exploration(
        migrator=args.migrator.strip(),
        tree=tree,
        backend=args.backend,
        effects=explore.parse_effects(args.effects),
        every_write=args.every_write,
        distinct_kills=args.distinct_kills,
    )
    exploration.open_migrator()  # a typo in the spec is a usage error, before any work
    return exploration


def run(args: argparse.Namespace) -> int:
    if args.power_loss:
        from harness.cli.powerloss import run_explore

        return run_explore(args)
    try:
        exploration = exploration_from_args(args)
    except (OSError, SpecError, TypeError, MigratorSpecError, explore.ExploreError) as exc:
        return _fail(str(exc))
    available = explore.backend_available(exploration.backend)
    if not available:
        return _fail(f"{available.backend} fault backend unavailable: {available.reason}")
    started = time.monotonic()
    base = explore.baseline(exploration)
    if args.list:
        for case in base.cases():
            print(f"{case.id:>10}  {case.describe_op()}")
        print(f"{len(base.cases())} case(s); {base.not_explored() or 'every operation explored'}")
        return EXIT_OK
    if args.cases:
        try:
            chosen = [base.case(c) for c in args.cases]
        except explore.ExploreError as exc:
            return _fail(str(exc))
        report = _run_here(base, chosen)
    else:
        outcome = run_child(exploration, args, len(base.cases()))
        if isinstance(outcome, int):
            return outcome
        report = outcome
    return finish(report, args, started)


def finish(report: ExploreReport, args: argparse.Namespace, started: float) -> int:
    """The report printed (and written to ``--json``) with the time since ``started``: its
    exit status."""
    print()
    print(report.render())
    print(f"({time.monotonic() - started:.1f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.to_json(), encoding="utf-8")
    return report.exit_status


def _run_here(base: explore.Baseline, cases: list) -> ExploreReport:
    """The replay: each case in this process, its whole failure text printed."""
    results = []
    for case in cases:
        result = explore.run_case(base, case)
        results.append(result)
        print(f"case {case.id}: {case.describe()}: {result.outcome}")
        if result.outcome != OK:
            print(f"\n{result.error()}\n")
    return base.report(results)


def child_argv(
    exploration: explore.Exploration,
    args: argparse.Namespace,
    out: Path,
    scenario: str = SCENARIO,
) -> list[str]:
    """The child pytest: this exploration's cases as xdist-spread tests of ``scenario``,
    results to ``out``."""
    argv = [sys.executable, "-m", "pytest", "--pyargs", scenario]
    argv += ["-q", "--tb=no", "-rN", *plugin_args()]
    argv += ["--no-checklist-summary", "-n", args.workers, "--explore-json", str(out)]
    argv += ["--migrator", exploration.migrator, "--explore-backend", exploration.backend]
    argv += ["--effects", ",".join(exploration.effects) if exploration.effects else "all"]
    if exploration.tree != explore.DEFAULT_TREE:
        argv += ["--explore-tree", exploration.tree.to_json()]
    if exploration.every_write:
        argv.append("--explore-every-write")
    if not exploration.distinct_kills:
        argv.append("--explore-every-kill")
    return argv


def run_child(
    exploration: explore.Exploration,
    args: argparse.Namespace,
    case_count: int,
    scenario: str = SCENARIO,
) -> ExploreReport | int:
    """The ``case_count`` cases as xdist tests of ``scenario`` in a child pytest: its one
    report, or :data:`EXIT_INTERNAL` (said on stderr) when it did not run to the end."""
    print(f"{case_count} case(s) with -n {args.workers}", flush=True)
    # The child runs in this directory, as the recording did: a cmd: migrator's relative
    # paths mean the same thing, and the recorded trace's working directory is the same.
    with tempfile.TemporaryDirectory(prefix="mk-explore-") as tmp:
        out = Path(tmp) / "explore.json"
        migrator = exploration.open_migrator()
        done = subprocess.run(
            child_argv(exploration, args, out, scenario), env=child_env(migrator), check=False
        )
        if done.returncode not in (0, 1) or not out.is_file():
            return _fail(
                f"the cases did not run to the end (pytest exit {done.returncode})", EXIT_INTERNAL
            )
        reports = load_reports(out)
    if len(reports) != 1:
        return _fail(
            f"expected one exploration in the child's results, got {len(reports)}", EXIT_INTERNAL
        )
    return reports[0]
