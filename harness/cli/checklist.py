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
  and always when an item judged nothing (every scenario of it not judged, e.g. a fault
  exploration of a run that changed nothing): an item that judged nothing is never a pass;
- 2: usage: a bad ``--migrator`` spec, a migrator that cannot start (said once, before any
  scenario, with its output: ``harness.scenario.preflight``), a ``-k``/``-m`` that selects
  no scenario;
- 3: internal: the scenarios could not be collected or the child pytest itself failed.

``--html FILE`` writes the same run as one self-contained page (:mod:`harness.report.html`).
For CI: ``--junitxml FILE`` is pytest's own JUnit XML of the child run (each failure's
message opens with the rules and users broken and holds the replay command); in GitHub
Actions (``GITHUB_ACTIONS=true``) the run also appends a job summary to
``$GITHUB_STEP_SUMMARY`` (the findings first, under 1 MiB) and prints one ``::error``
annotation per distinct finding, at most 10, the most severe first (``harness.report.ci``).
Every option defaults from the project's ``[tool.migration-kit]`` table
(:mod:`harness.contract.config`), the command line overriding it.

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
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.explore import add_shard_arguments, check_shard_arguments
from harness.cli.options import (
    after_check_option,
    layout_option,
    open_after_check,
    open_migrator,
    timeout_option,
)
from harness.contract.errors import ExitStatus, InternalError, UsageError
from harness.contract.settings import DEFAULT_MIGRATOR
from harness.run import serve

if TYPE_CHECKING:
    from harness.report.checklist import ChecklistRun
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
        f"{{data_dir}} is replaced) or 'serve:<server command>'; default {DEFAULT_MIGRATOR}, "
        "the reference migrator",
    )
    timeout_option(p)
    layout_option(p)
    serve.add_options(p.add_argument)
    after_check_option(p)
    p.add_argument("--large", action="store_true", help="also run the > 100 MB scenarios (minutes)")
    p.add_argument(
        "--disk",
        choices=["tmpfs", "ext4", "xfs"],
        default=None,
        help="the file system the disk-full and another-file-system scenarios mount: tmpfs "
        "(default) or a loop-mounted ext4 or xfs image (root, /dev/loop-control)",
    )
    p.add_argument("--report", type=Path, metavar="FILE.md", help="write the Markdown report")
    p.add_argument(
        "--json", type=Path, metavar="FILE", help="keep the per-scenario results as JSON"
    )
    p.add_argument(
        "--junitxml",
        type=Path,
        metavar="FILE.xml",
        help="write JUnit XML (pytest's), each failure's message naming the rules, the users "
        "and the replay command",
    )
    p.add_argument(
        "--html",
        type=Path,
        metavar="FILE.html",
        help="write a self-contained HTML report: the findings with their evidence, each "
        "item and scenario, the rules",
    )
    p.add_argument(
        "--field-dir",
        type=Path,
        metavar="DIR",
        help="field specs (migration-kit capture) replayed as regression scenarios "
        "(default $MIGRATION_KIT_FIELD_DIR, else scenarios/field/)",
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
        action=argparse.BooleanOptionalAction,
        default=False,
        help="exit 1 when a fault case was not judged (its fault could not be placed)",
    )
    add_shard_arguments(p, "selected scenarios")
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
    argv += ["--no-checklist-summary", "-n", args.workers, "--mk-progress", "checklist"]
    if args.large:
        argv.append("--large")
    if getattr(args, "after_check", None):
        argv += ["--after-check", args.after_check]
    if getattr(args, "disk", None):
        argv += ["--disk", args.disk]
    if args.seed is not None:
        argv += ["--mk-seed", str(args.seed)]
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.markexpr:
        argv += ["-m", args.markexpr]
    if getattr(args, "junitxml", None):
        argv += ["--junitxml", str(Path(args.junitxml).absolute())]
    if getattr(args, "field_dir", None):
        argv += ["--field-dir", str(Path(args.field_dir).absolute())]
    if getattr(args, "shard", None) is not None:
        argv += ["--mk-shard", str(args.shard)]
    return argv


def target(args: argparse.Namespace, migrator: Migrator) -> dict[str, object]:
    """What a slice ran (``--results``): slices that differ in any of it never merge."""
    return {
        "migrator": migrator.spec,
        "large": bool(args.large),
        "seed": args.seed,
        "keyword": args.keyword,
        "markexpr": args.markexpr,
        # Only when given, so slices written before the option existed still merge.
        **({"after_check": args.after_check} if getattr(args, "after_check", None) else {}),
        **({"disk": args.disk} if getattr(args, "disk", None) else {}),
    }


def run(args: argparse.Namespace) -> int:
    import scenarios
    from harness.cli.child_pytest import run_pytest
    from harness.report.checklist import ChecklistRun

    check_shard_arguments(args)
    # A bad spec or a migrator that cannot start: usage, said once, before any scenario.
    migrator = open_migrator(args.migrator, args)
    open_after_check(args, migrator)  # a bad --after-check: usage, before any scenario
    root = Path(scenarios.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="mk-checklist-") as tmp:
        json_path = args.json.absolute() if args.json else Path(tmp) / "checklist.json"
        status = run_pytest(child_args(args, migrator, json_path), migrator, cwd=root)
        if status == PYTEST_NO_TESTS and args.shard is not None:
            # More shards than scenarios: this slice is empty, not the selection (merge
            # says so when every slice is).
            print(f"shard {args.shard}: no scenario in this slice")
            checklist = ChecklistRun(migrator.spec, 0.0, ())
        else:
            _check_child(status, json_path, args)
            checklist = ChecklistRun.load(json_path)
    if args.results:
        _write_results(args, migrator, checklist)
    return conclude(checklist, args)


def _write_results(args: argparse.Namespace, migrator: Migrator, checklist: ChecklistRun) -> None:
    from harness.report.shards import Shard, ShardResults
    from harness.store import codec

    found = checklist.shard
    selected, selection = (found.selected, found.selection) if found else (None, "")
    if found is None and args.shard is None:  # a whole run: all of its own selection
        selected = len([r for r in checklist.results if "::" in r.nodeid])
    data = codec.to_data(checklist)
    shard = args.shard or Shard(1, 1)
    ShardResults("checklist", shard, target(args, migrator), selected, selection, data).write(
        args.results
    )


def conclude(checklist: ChecklistRun, args: argparse.Namespace) -> int:
    """The run printed as the checklist (and ``--report`` written): its exit status."""
    from harness.report.checklist import markdown, summary_lines

    print()
    print("== server migration checklist ==")
    for line in summary_lines(checklist):
        print(line)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(markdown(checklist), encoding="utf-8")
        print(f"report: {args.report}")
    if getattr(args, "junitxml", None):  # `merge` has none: the jobs' XML are theirs
        print(f"junit xml: {args.junitxml}")
    if getattr(args, "html", None):
        from harness.report import html

        print(f"html report: {html.write(args.html, html.checklist_html(checklist))}")
    _github(checklist)
    broken_kit = [r.nodeid for r in checklist.outside_items if "::" not in r.nodeid]
    if broken_kit:
        raise InternalError(f"could not collect {', '.join(broken_kit)}")
    if checklist.failed or checklist.unjudged_items:
        return ExitStatus.FINDINGS
    if args.strict_coverage and checklist.not_judged:
        count = len(checklist.not_judged)
        print(
            f"migration-kit checklist: {count} fault case(s) not judged (--strict-coverage)",
            file=sys.stderr,
        )
        return ExitStatus.FINDINGS
    return ExitStatus.OK


def _github(checklist: ChecklistRun) -> None:
    """In GitHub Actions: the job summary and the findings' annotations (see the module)."""
    from harness.report import ci
    from harness.report.checklist import markdown, verdict_line

    if not ci.in_github_actions(os.environ):
        return
    findings = checklist.findings
    text = ci.summary_markdown(
        "migration-kit checklist",
        verdict_line(checklist),
        findings,
        markdown(checklist, with_findings=False),
    )
    ci.write_summary(text, os.environ)
    for line in ci.annotations(findings):
        print(line)


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
