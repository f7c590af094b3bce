"""The deploy commands: ``plan``, ``capture``, ``replay``, ``rehearse``.

What a person does with a real data dir before and after a deploy (the seed's deployment
strategy and Immediate Action): preview the run, rehearse it on a copy, and turn a field
failure into a test. Exit status: 0 fine, 1 something needs a person (a warning, a rule
broken), 2 bad input. Bad input (a ``KitError``, a data dir that is none, a file that cannot
be read) becomes one line on stderr naming the path and what to do at ``migration-kit``'s
one boundary (:func:`harness.cli.main.guard`), never a traceback, and nothing is written to
the data dir in any case. Registering imports none of :mod:`harness.deploy`: the handlers do.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from harness.cli.options import (
    after_check_option,
    layout_option,
    open_after_check,
    open_migrator,
    timeout_option,
)
from harness.contract.errors import ExitStatus, UsageError
from harness.contract.settings import (
    CAPTURE_SALT_ENV,
    DEFAULT_MIGRATOR,
    DEFAULT_TIMEOUT,
    FIELD_DIR_ENV,
)
from harness.run import serve


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan",
        help="preview a production run: per user what would happen, warnings first",
        description="Read-only preview of a migration run on DATA_DIR: warnings a person "
        "must see first (users that would fail, WAL backlog, free space, symlinks), then per "
        "user what would happen. Changes nothing.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--workers", type=int, default=None, metavar="N", help="processes (default: auto)"
    )
    layout_option(p)
    p.set_defaults(handler=run_plan)

    p = subparsers.add_parser(
        "capture",
        help="write an anonymised spec of a real data dir (for replay and CI)",
        description="Describe DATA_DIR as a TreeSpec (FIELD.json) plus measured facts "
        "(FIELD.measured.json). No row, file name or user id leaves the machine: ids are "
        "salted hashes.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--out", required=True, metavar="FIELD.json", help="where to write the spec")
    p.add_argument(
        "--salt-file",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"secret salt for ids (default: ${CAPTURE_SALT_ENV} or "
        "~/.config/migration-kit/capture-salt, created on first use)",
    )
    layout_option(p)
    p.set_defaults(handler=run_capture)

    p = subparsers.add_parser(
        "replay",
        help="rebuild a field spec's look-alike and judge a migrator on it",
        description="Build the look-alike tree FIELD.json describes and judge the migrator "
        "with every applicable rule (dry run, run, second run). Field specs in "
        f"scenarios/field/ (or ${FIELD_DIR_ENV}) run as regression scenarios.",
    )
    p.add_argument("field", metavar="FIELD.json")
    _migrator_options(p)
    p.add_argument(
        "--explore",
        action="store_true",
        help="also run the fault exploration (migration-kit explore) on the look-alike",
    )
    p.set_defaults(handler=run_replay)

    p = subparsers.add_parser(
        "rehearse",
        help="run the migration on a scratch copy of a real data dir and judge it",
        description="Copy DATA_DIR to scratch space (mtimes and symlinks kept), run the "
        "migrator on the copy (dry run, run, second run), judge every applicable rule. The "
        "original is only read.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    _migrator_options(p)
    p.set_defaults(handler=run_rehearse)


def _migrator_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--migrator",
        default=None,
        metavar="SPEC",
        help=f"'py:module:function', 'cmd:<shell command>' or 'serve:<server command>' "
        f"(default: {DEFAULT_MIGRATOR})",
    )
    serve.add_options(p.add_argument)
    p.add_argument(
        "--scratch",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the tree is made (default: the system temp dir)",
    )
    p.add_argument("--keep", action="store_true", help="keep the tree afterwards")
    after_check_option(p)
    timeout_option(p)
    layout_option(p)


def run_plan(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be 1 or more")
    from harness.deploy import plan

    found = plan.collect(Path(args.data_dir), workers=args.workers)
    (plan.render_json if args.json else plan.render_text)(found, sys.stdout)
    return ExitStatus.FINDINGS if found.needs_person else ExitStatus.OK


def run_capture(args: argparse.Namespace) -> int:
    from harness.deploy import capture

    data_dir = Path(args.data_dir).absolute()
    out = Path(args.out).absolute()
    capture.check_out(out, data_dir)  # before anything is read
    salt_file = args.salt_file or capture.default_salt_file()
    salt = capture.load_salt(salt_file, data_dir)
    result = capture.capture(data_dir, salt=salt)
    spec_path, side = capture.write(result, out, data_dir)
    states = Counter(u.state for u in result.spec.users)
    listed = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    print(f"wrote {spec_path}: {len(result.spec.users)} users" + (f" ({listed})" if listed else ""))
    print(f"wrote {side}: measured facts and {len(result.measured['approximations'])} note(s)")
    print(
        f"user ids are salted hashes (salt {salt_file}, salt id {result.measured['salt_id']}); "
        "keep the salt private"
    )
    print(f"replay it: migration-kit replay {spec_path}")
    return ExitStatus.OK


def run_replay(args: argparse.Namespace) -> int:
    from harness.deploy import field_replay, rehearse

    migrator = open_migrator(args.migrator, args)
    check = open_after_check(args, migrator)
    result = field_replay.replay(
        args.field, migrator, scratch=args.scratch, keep=args.keep, after_check=check
    )
    rehearse.render_text(result, sys.stdout)
    status = ExitStatus.OK if result.ok else ExitStatus.FINDINGS
    if args.explore:
        from harness.cli import explore

        sys.stdout.flush()
        tree = str(Path(args.field).absolute())
        options = ["--tree", tree, "--migrator", migrator.spec, "-n", "auto"]
        if args.timeout != DEFAULT_TIMEOUT:  # else explore's own default, for small trees
            options += ["--timeout", f"{args.timeout:g}"]
        status = max(status, explore.run(explore.parse(options)))
    return status


def run_rehearse(args: argparse.Namespace) -> int:
    from harness.deploy import rehearse

    migrator = open_migrator(args.migrator, args)
    check = open_after_check(args, migrator)
    result = rehearse.rehearse(
        args.data_dir, migrator, scratch=args.scratch, keep=args.keep, after_check=check
    )
    rehearse.render_text(result, sys.stdout)
    return ExitStatus.OK if result.ok else ExitStatus.FINDINGS
