"""``migration-kit``: one command, a subcommand per job.

Each command module contributes its subcommands through a ``register(subparsers)`` function
that only sets up argparse: what a handler needs (the fixture builder, the fault engines,
pytest) is imported inside the handler, so ``migration-kit --help`` and ``migration-kit
status DIR`` start without importing the rest of the kit.

A handler takes the parsed arguments and returns an exit status (:class:`ExitStatus`), or
raises a :class:`KitError` that carries its own. :func:`guard` is the one place an error
becomes an exit status.

The commands that judge a migrator (:data:`CONFIGURED`) take their options' defaults from the
project's ``[tool.migration-kit]`` table (:mod:`harness.contract.config`), so that in a
project that has one, ``migration-kit checklist`` needs no flags; the command line still
overrides every key. Other commands never read the file: a typo in it cannot break
``migration-kit status``.

Every command runs in a :func:`~harness.run.session.kit_session`: whatever it starts ends
with it, also when SIGINT (130) or SIGTERM (143) stops it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.cli.options import apply_layout, apply_timeout
from harness.contract.errors import ExitStatus, KitError
from harness.run.session import Terminated, kit_session

# Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "migrator.cli",
    "migrator.desktop_cli",
    "fixtures.cli",
    "harness.cli.checklist",
    "harness.cli.explore",
    "harness.cli.merge",
    "harness.cli.rules",
    "harness.cli.deploy",
    "harness.cli.bench",
)
if TYPE_CHECKING:
    from harness.contract import config as project_config

PROG = "migration-kit"
# The commands whose options default from ``[tool.migration-kit]``.
CONFIGURED = ("checklist", "explore", "rehearse", "replay", "plan", "capture")
INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a process stopped by Ctrl-C
READER_GONE = 128 + signal.SIGPIPE  # ... and for one whose reader went away (`| head`)
TERMINATED = 128 + signal.SIGTERM  # ... and for one stopped by SIGTERM
Handler = Callable[[argparse.Namespace], int]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or, given the ``command`` about to run, the commands up to the
    module that adds it: ``status DIR`` then imports the reference's commands only, not the
    fixture specs, the rules or the explorers the other modules' options name (a quarter of
    its start-up). ``--help``, a mistyped command, or None: every module."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Test a data migration before it runs on production data.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
        if command is not None and command in sub.choices:
            break
    return parser


def command_named(argv: list[str]) -> str | None:
    """The command ``argv`` runs (its first word: the top level has no options but
    ``--help``), or None."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_named(argv))
    try:
        if _subparser(parser, argv) is not None:  # other commands never read the file
            configure(parser, argv)
    except KitError as exc:
        return _fail(str(exc), exc.exit_status)
    args = parser.parse_args(argv)
    names_as_on_disk()  # a user folder named in no UTF-8 prints as its bytes, not a traceback
    if hasattr(args, "migrator"):  # a command that runs one (not status: socket, subprocess)
        from harness.run import serve

        serve.fold_args(args, parser)  # --migrator 'serve:CMD' --ready-line R: one spec
    apply_timeout(args)
    try:
        apply_layout(args)
    except KitError as exc:
        return _fail(str(exc), exc.exit_status)
    try:
        with kit_session():  # nothing the command starts outlives it, stopped or not
            return guard(args.handler, args)
    except Terminated:  # not an Exception: guard lets it through, the session unwinds it
        return _fail("terminated", TERMINATED)


def configure(
    parser: argparse.ArgumentParser,
    argv: list[str],
    config: project_config.Config | None = None,
) -> project_config.Config:
    """Make ``[tool.migration-kit]`` (``config``, default: the one found from here) the
    defaults of the command ``argv`` names, when it is one of :data:`CONFIGURED`.

    A key becomes the default of the option of its name (``field-dir``: ``--field-dir``),
    converted and checked by that option's own type, so a value the command would refuse on
    its command line is refused here, naming the file and the key. A key the command has no
    option for is left alone: it belongs to another command (``layout``, ``timeout``). The
    project's folder goes first on ``sys.path``, so a ``py:`` migrator in it is found from
    any directory below it, as pytest's rootdir makes a project's modules importable.
    """
    from harness.contract import config as project_config  # tomllib: not for status, --help

    sub = _subparser(parser, argv)
    if sub is None:
        return project_config.Config()
    config = project_config.load() if config is None else config
    if not config:
        return config
    defaults: dict[str, object] = {}
    for key in project_config.KEYS:
        dest = project_config.dest(key)
        action = _option(sub, key)
        if dest not in config.values or action is None:
            continue
        if sub.prog.split()[-1] not in project_config.ONLY_FOR.get(key, (sub.prog.split()[-1],)):
            continue
        value = config.values[dest]
        if isinstance(value, str) and callable(action.type):
            try:
                value = action.type(value)
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                raise project_config.ConfigError(
                    f"{config.path}: [tool.migration-kit] {key}: {exc}"
                ) from None
        defaults[action.dest] = value
    sub.set_defaults(**defaults, config_path=config.path)
    if config.root is not None and str(config.root) not in sys.path:
        sys.path.insert(0, str(config.root))
    return config


def _option(sub: argparse.ArgumentParser, key: str) -> argparse.Action | None:
    """The option a table key sets: ``--KEY`` whatever its destination (``--ready-line``
    may keep its value in ``mk_ready_line``), else the option keeping its value under the
    key's name (``workers``: ``-n``)."""
    from harness.contract import config as project_config

    for action in sub._actions:
        if f"--{key}" in action.option_strings:
            return action
    return next((a for a in sub._actions if a.dest == project_config.dest(key)), None)


def _subparser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser | None:
    """The subcommand's parser when ``argv`` names one of :data:`CONFIGURED`, else None."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in CONFIGURED:
        return None
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command)
    return None


def guard(handler: Handler, args: argparse.Namespace) -> int:
    """``handler(args)``'s exit status, whatever it raises: the kit's one error boundary.

    - a :class:`KitError`: its one-line message on stderr and the status it carries (the
      migrator's own commands, which import nothing of the kit, answer for their errors);
    - an ``OSError`` that escaped a command (a path it could not read or write): one line
      naming the path, usage (2);
    - Ctrl-C: "interrupted", 130; the reader of stdout gone (``| head``): quiet, 141;
    - anything else is a bug in the kit: its traceback, then internal (3), never 1, which
      a CI gate reads as "the migrator broke a rule".
    """
    try:
        status = int(handler(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except KitError as exc:
        return _fail(str(exc), exc.exit_status)
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    except BrokenPipeError:
        # Python's documented answer (library/signal, "Note on SIGPIPE"): point stdout at
        # devnull so that the flush at exit does not raise again, and stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return READER_GONE
    except OSError as exc:
        where = exc.filename or "a file"
        return _fail(
            f"{where}: {exc.strerror or exc}; check that the path exists and that you may "
            "use it (run as the data's owner), then retry",
            ExitStatus.USAGE,
        )
    except Exception as exc:
        import traceback  # here only: a bug's page, not every command's start-up

        traceback.print_exc()
        return _fail(f"internal error (a bug in the kit): {exc!r}", ExitStatus.INTERNAL)


def names_as_on_disk() -> None:
    """Print a user folder name that is not UTF-8 with the bytes it has on disk (as Python
    read it, ``os.fsdecode``), as ``ls`` would, whatever the locale: in a strict UTF-8
    locale such a name in a report would otherwise end the command in a traceback. (The
    reference migrator does the same for its own commands; it imports nothing of the kit.)"""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
