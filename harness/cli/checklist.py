"""``migration-kit checklist``: the seed's testing checklist as one command that gates a deploy.

It runs the scenarios (``pytest --pyargs scenarios``) in a child pytest, the same suite a
person runs by hand, so a checklist failure replays with plain pytest. The child writes
``--checklist-json``; this command reads it back, prints the checklist (items 1-10, then the
items beyond it) with each item's result, the rules broken and the replay commands, and
writes the Markdown report. Exit status, usable as a CI gate as it is:

- 0: every scenario that ran passed (items skipped here, e.g. ``--large`` ones, say why);
- 1: a scenario failed: the migrator broke a rule (or crashed); with ``--strict-coverage``,
  also when a fault case was not judged (its fault could not be placed on the recorded
  call; by default such cases are counted next to their item, "judged 499 of 531");
- 2: usage: a bad ``--migrator`` spec, a migrator that cannot start (said once, before any
  scenario, with its output: ``harness.scenario.preflight``), a ``-k``/``-m`` that selects
  no scenario;
- 3: internal: the scenarios could not be collected or the child pytest itself failed.

The child runs ``sys.executable -m pytest`` (the interpreter the kit is installed in) from
the directory holding the ``scenarios`` package, so that a person's own ``pytest.ini`` or
``conftest.py`` in the current directory cannot change what the checklist runs; the
migrator itself runs in the current directory (``--migrator-cwd``), so that
``cmd:node server/migrate.js`` means there what it means in the person's shell.

Registering the command imports nothing of the kit but its names; the handler imports the
report and the adapters when it runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.options import open_migrator, timeout_option
from harness.contract.errors import ExitStatus, InternalError, UsageError
from harness.contract.settings import DEFAULT_MIGRATOR

if TYPE_CHECKING:
    from harness.run.adapters import Migrator

PYTEST_NO_TESTS, PYTEST_USAGE = 5, 4


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "checklist",
        help="run the seed's testing checklist against a migrator (exit 1 if any item fails)",
        description="Run the scenarios of the seed's testing checklist (and beyond it) "
        "against a migrator, print each item's result and the rules broken, and write a "
        "Markdown report. Exit 0: every scenario passed; 1: a scenario failed; 2: usage.",
    )
    p.add_argument(
        "--migrator",
        metavar="SPEC",
        default=None,
        help="'py:package.module:function' or 'cmd:<shell command>' (DATA_DIR is set, "
        f"{{data_dir}} is replaced); default {DEFAULT_MIGRATOR}, the reference migrator",
    )
    timeout_option(p)
    p.add_argument("--large", action="store_true", help="also run the > 100 MB scenarios (minutes)")
    p.add_argument("--report", type=Path, metavar="FILE.md", help="write the Markdown report")
    p.add_argument(
        "--json", type=Path, metavar="FILE", help="keep the per-scenario results as JSON"
    )
    p.add_argument(
        "-n",
        dest="workers",
        type=_workers,
        default="auto",
        metavar="N",
        help="parallel worker processes (pytest-xdist): a number, 0 for none, or 'auto' "
        "(the default: one per CPU)",
    )
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only scenarios matching EXPR")
    p.add_argument(
        "-m", dest="markexpr", metavar="EXPR", help="only scenarios with these markers (items)"
    )
    p.add_argument(
        "--seed", type=int, default=None, metavar="N", help="generate the trees from seed N"
    )
    p.add_argument(
        "--strict-coverage",
        action="store_true",
        help="exit 1 when a fault case was not judged (its fault could not be placed)",
    )
    p.set_defaults(handler=run)


def _workers(value: str) -> str:
    if value == "auto" or (value.isdigit() and int(value) >= 0):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers or 'auto'")


def child_args(args: argparse.Namespace, migrator: Migrator, json_path: Path) -> list[str]:
    """The child pytest's arguments: the scenarios, this migrator, the results to
    ``json_path``."""
    argv = ["--pyargs", "scenarios", "-q", "--tb=short"]
    argv += ["--migrator", migrator.spec, "--checklist-json", str(json_path)]
    argv += ["--no-checklist-summary", "-n", args.workers]
    if args.large:
        argv.append("--large")
    if args.seed is not None:
        argv += ["--mk-seed", str(args.seed)]
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.markexpr:
        argv += ["-m", args.markexpr]
    return argv


def run(args: argparse.Namespace) -> int:
    import scenarios
    from harness.cli.child_pytest import run_pytest
    from harness.report.checklist import ChecklistRun, markdown, summary_lines

    # A bad spec or a migrator that cannot start: usage, said once, before any scenario.
    migrator = open_migrator(args.migrator, args)
    root = Path(scenarios.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="mk-checklist-") as tmp:
        json_path = args.json.absolute() if args.json else Path(tmp) / "checklist.json"
        status = run_pytest(child_args(args, migrator, json_path), migrator, cwd=root)
        _check_child(status, json_path, args)
        checklist = ChecklistRun.load(json_path)
    print()
    print("== server migration checklist ==")
    for line in summary_lines(checklist):
        print(line)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(markdown(checklist), encoding="utf-8")
        print(f"report: {args.report}")
    broken_kit = [r.nodeid for r in checklist.outside_items if "::" not in r.nodeid]
    if broken_kit:
        raise InternalError(f"could not collect {', '.join(broken_kit)}")
    if checklist.failed:
        return ExitStatus.FINDINGS
    if args.strict_coverage and checklist.not_judged:
        count = len(checklist.not_judged)
        print(
            f"migration-kit checklist: {count} fault case(s) not judged (--strict-coverage)",
            file=sys.stderr,
        )
        return ExitStatus.FINDINGS
    return ExitStatus.OK


def _check_child(code: int, json_path: Path, args: argparse.Namespace) -> None:
    """Raise why the child's run cannot be read as a checklist result, if it cannot."""
    if code == PYTEST_NO_TESTS:
        options = (("-k", args.keyword), ("-m", args.markexpr))
        chosen = " ".join(f"{o} {v!r}" for o, v in options if v)
        raise UsageError(f"no scenario selected ({chosen or 'none collected'})")
    if code == PYTEST_USAGE:
        raise UsageError("pytest refused the arguments (see above)")
    if code not in (0, 1):
        raise InternalError(f"the scenarios did not run to the end (pytest exit status {code})")
    if not json_path.is_file():
        raise InternalError(f"the scenario run wrote no results ({json_path})")
