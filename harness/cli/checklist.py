"""``migration-kit checklist``: the seed's testing checklist as one command that gates a deploy.

It runs the scenarios (``pytest --pyargs scenarios``) in a child pytest, the same suite a
person runs by hand, so a checklist failure replays with plain pytest. The child writes
``--checklist-json``; this command reads it back, prints the checklist (items 1-10, then the
items beyond it) with each item's result, the rules broken and the replay commands, and
writes the Markdown report. Exit status, usable as a CI gate as it is:

- 0: every scenario that ran passed (items skipped here, e.g. ``--large`` ones, say why);
- 1: a scenario failed: the migrator broke a rule (or crashed);
- 2: usage: a bad ``--migrator`` spec, a ``-k``/``-m`` that selects no scenario;
- 3: internal: the scenarios could not be collected or the child pytest itself failed.

The child runs ``sys.executable -m pytest`` (the interpreter the kit is installed in) from
the directory holding the ``scenarios`` package, so that a person's own ``pytest.ini`` or
``conftest.py`` in the current directory cannot change what the checklist runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import scenarios
from harness.report.checklist import ChecklistRun, checklist_lines, markdown
from harness.run import serve
from harness.run.adapters import DEFAULT_MIGRATOR, Migrator, MigratorSpecError, parse_migrator
from harness.scenario.replay_command import pythonpath_for

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
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
        f"{{data_dir}} is replaced) or 'serve:<server command>'; default {DEFAULT_MIGRATOR}, "
        "the reference migrator",
    )
    serve.add_options(p.add_argument)
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
    p.set_defaults(handler=run)


def _workers(value: str) -> str:
    if value == "auto" or (value.isdigit() and int(value) >= 0):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers or 'auto'")


# A child pytest (the checklist's, the explorations') loads the kit's plugin and
# pytest-xdist, and no other installed plugin (PYTEST_DISABLE_PLUGIN_AUTOLOAD, set in
# :func:`child_env`): what else a person has installed cannot change what the scenarios run
# (pytest-randomly's order, say), and no process pays for plugins the scenarios do not use.
# They cost every pytest process, the controller and each xdist worker, over a second of
# start-up before any scenario runs: Faker's plugin imports every locale, Hypothesis' imports
# all of Hypothesis for its end-of-run summary (the scenarios' properties run Hypothesis
# inside the test, which its plugin does not see), and pytest rewrites the asserts of every
# module of every distribution that has a plugin, Hypothesis' and the kit's included.
# The cache stays out too: a run must not depend on the one before.
AUTOLOAD_OFF = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
CHILD_PLUGINS = ("migration_kit", "xdist")


def plugin_args() -> list[str]:
    """The ``-p`` options of a child pytest (its environment is :func:`child_env`)."""
    argv = ["-p", "no:cacheprovider"]
    for name in CHILD_PLUGINS:
        argv += ["-p", name]
    return argv


def child_argv(args: argparse.Namespace, migrator: Migrator, json_path: Path) -> list[str]:
    """The child pytest: the scenarios, this migrator, the results to ``json_path``."""
    argv = [sys.executable, "-m", "pytest", "--pyargs", "scenarios", "-q", "--tb=short"]
    argv += plugin_args()
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


def child_env(migrator: Migrator) -> dict[str, str]:
    """This environment, plus the migrator's import root where the child needs it, with
    plugin autoloading off (see :data:`CHILD_PLUGINS`)."""
    env = {**os.environ, AUTOLOAD_OFF: "1"}
    pythonpath = pythonpath_for(migrator)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def run(args: argparse.Namespace) -> int:
    try:
        migrator = parse_migrator(args.migrator)
    except MigratorSpecError as exc:
        print(f"migration-kit checklist: {exc}", file=sys.stderr)
        return EXIT_USAGE
    root = Path(scenarios.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="mk-checklist-") as tmp:
        json_path = args.json.absolute() if args.json else Path(tmp) / "checklist.json"
        done = subprocess.run(
            child_argv(args, migrator, json_path), cwd=root, env=child_env(migrator), check=False
        )
        problem = _child_problem(done.returncode, json_path, args)
        if problem is not None:
            status, message = problem
            print(f"migration-kit checklist: {message}", file=sys.stderr)
            return status
        checklist = ChecklistRun.load(json_path)
    print()
    print("== server migration checklist ==")
    for line in checklist_lines(checklist, replays=True):
        print(line)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(markdown(checklist), encoding="utf-8")
        print(f"report: {args.report}")
    broken_kit = [r.nodeid for r in checklist.outside_items if "::" not in r.nodeid]
    if broken_kit:
        names = ", ".join(broken_kit)
        print(f"migration-kit checklist: could not collect {names}", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_FAILED if checklist.failed else EXIT_PASSED


def _child_problem(code: int, json_path: Path, args: argparse.Namespace) -> tuple[int, str] | None:
    """Why the child's run cannot be read as a checklist result, with the exit status."""
    if code == PYTEST_NO_TESTS:
        options = (("-k", args.keyword), ("-m", args.markexpr))
        chosen = " ".join(f"{o} {v!r}" for o, v in options if v)
        return EXIT_USAGE, f"no scenario selected ({chosen or 'none collected'})"
    if code == PYTEST_USAGE:
        return EXIT_USAGE, "pytest refused the arguments (see above)"
    if code not in (0, 1):
        return EXIT_INTERNAL, f"the scenarios did not run to the end (pytest exit status {code})"
    if not json_path.is_file():
        return EXIT_INTERNAL, f"the scenario run wrote no results ({json_path})"
    return None
