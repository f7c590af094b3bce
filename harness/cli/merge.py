"""``migration-kit merge FILE...``: the slices of a CI matrix folded into one run.

Each job of the matrix ran ``migration-kit explore --shard K/N --results FILE`` (or
``explore --power-loss``, or ``checklist``, the same way); this command reads the N files,
refuses, in one line and exit 2, slices that are not the N slices of one run (different
kinds, migrators, trees, effects or options; a shard given twice or missing; slices that
selected different cases, e.g. a different recording on some machine; a case run twice),
then prints the whole run's report as the command itself prints it, and exits with its
status: 0 no rule broken, 1 a rule broken (or, ``--strict-coverage``, a case not judged).
``--json`` / ``--report`` write what the command's own options write.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.contract.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "merge",
        help="fold the slices of a sharded explore or checklist run (--shard K/N --results "
        "FILE) into one report and one exit status",
        description="Read the --results files of every shard of one `explore` or "
        "`checklist` run, check that they are the N slices of one run, print the whole "
        "report as the command prints it. Exit 0: no rule broken; 1: one was; 2: the files "
        "are not the slices of one run.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="one file per shard")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the merged report as JSON")
    p.add_argument(
        "--report", type=Path, metavar="FILE.md", help="checklist: write the Markdown report"
    )
    p.add_argument(
        "--html", type=Path, metavar="FILE.html", help="write the self-contained HTML report"
    )
    p.add_argument(
        "--strict-coverage",
        action="store_true",
        help="exit 1 when a case was not judged, as the command's own option does",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.report.shards import ShardResults

    slices = [ShardResults.load(path) for path in args.files]
    kind = slices[0].kind
    if kind == "checklist":
        return _checklist(slices, args)
    if kind in ("explore", "power-loss"):
        return _explore(slices, args)
    raise UsageError(f"{args.files[0]}: unknown kind of results {kind!r}")


def _explore(slices: list, args: argparse.Namespace) -> int:
    from harness.cli.explore import finish
    from harness.explore.results import ExploreReport, merge_reports
    from harness.report.shards import check
    from harness.store import codec

    reports = [codec.from_data(ExploreReport, s.report) for s in slices]
    check(slices, [[r.case.id for r in report.results] for report in reports])
    merged = merge_reports(reports)
    print(f"{len(merged.results)} case(s) from {len(slices)} shard(s)")
    return finish(merged, args, None)


def _checklist(slices: list, args: argparse.Namespace) -> int:
    from harness.cli.checklist import conclude
    from harness.report.checklist import ChecklistRun, merge_runs
    from harness.report.shards import check
    from harness.store import codec

    runs = [codec.from_data(ChecklistRun, s.report) for s in slices]
    check(slices, [[r.nodeid for r in run.results if "::" in r.nodeid] for run in runs])
    if all(s.selected is None for s in slices):
        raise UsageError("merge: no slice selected a scenario (check -k/-m)")
    merged = merge_runs(runs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(merged.to_json(), encoding="utf-8")
    return conclude(merged, args)
