"""Migrators under test, and SPEC's external contract for running them.

A migrator is named by a spec string, the same in the CLI, the pytest option and a replay line:

- ``py:package.module:function``: a callable ``f(data_dir: Path, *, dry_run: bool)`` that raises
  on failure. It runs in a child process (``python -m harness.run.pyrunner``) so that its crash,
  memory and output are its own; ``inprocess=True`` calls it in this process instead, for
  fast runs and in-process fault injection.
- ``cmd:<shell command>``: run by ``/bin/sh -c``; ``{data_dir}`` is replaced by the
  shell-quoted absolute path of the tree.
- ``serve:<shell command>``: a server whose start-up runs the migration and then keeps
  serving. It runs as a command through the launcher :mod:`harness.run.serve`, which ends
  the run when the server is ready (``--ready-line``/``--ready-port``, or its exit) and reads
  a failed user from its output (``--fail-line``). The options live in the spec itself,
  ``serve:[OPTIONS --] COMMAND``, so every later step carries them.

Either way the process runs in the migrator's directory (``cwd``: where the kit was started,
unless told otherwise), so a relative path in a command, or a ``py:`` module beside the
person's project, means what it meant in their shell; it is given ``timeout`` seconds
(:data:`DEFAULT_TIMEOUT` unless told otherwise) and then killed with everything it started.
The process sees exactly SPEC's environment: ``DATA_DIR`` (absolute),
``MIGRATION_DRY_RUN=true`` only for a dry run and ``MIGRATION_BACKUP_GRACE_DAYS`` only when a
grace period is given; both are removed from the inherited environment otherwise, so a
variable left in the developer's shell cannot turn a real run into a dry run.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from harness.contract import layout
from harness.contract.errors import KitError
from harness.contract.settings import DEFAULT_MIGRATOR, DEFAULT_TIMEOUT, TIMEOUT_ENV
from harness.run.process import RunResult, replay_line, run_process
from harness.run.pyrunner import LOG_FORMAT, TargetError, call_kwargs, load_target
from harness.run.sandbox import Protection, candidate_places, extra_writable
from harness.run.serve import PREFIX as SERVE_PREFIX
from harness.run.serve import ServeOptions, ServeSpecError, join_spec, split_spec

__all__ = [
    "DEFAULT_MIGRATOR",
    "CommandMigrator",
    "Migrator",
    "MigratorSpecError",
    "PythonMigrator",
    "RunResult",
    "ServeMigrator",
    "contract_env",
    "parse_migrator",
    "run_together",
]

DRY_RUN_VAR = "MIGRATION_DRY_RUN"
GRACE_VAR = "MIGRATION_BACKUP_GRACE_DAYS"
CONTRACT_VARS = ("DATA_DIR", DRY_RUN_VAR, GRACE_VAR)
ACCEPTED = (
    "'py:package.module:function', 'cmd:<shell command>' (may use {data_dir}) or "
    "'serve:<server command>' (with --ready-line REGEX or --ready-port PORT)"
)
# The launcher runs as a script, isolated (-I: no PYTHONPATH, no user site; -S: no site
# packages; -B: no bytecode written): it needs the standard library only, starts in about
# 30 ms, and makes no file operation of its own that a recording would see.
SERVE_LAUNCHER = [sys.executable, "-I", "-S", "-B", str(Path(__file__).with_name("serve.py"))]
# What a serve: run keeps of its caller's timeout for stopping the server and reporting.
_SERVE_MARGIN_S = 5.0


class MigratorSpecError(KitError, ValueError):
    """A migrator spec string that names no runnable migrator."""


class Migrator(Protocol):
    """Anything the harness can run on a data dir."""

    @property
    def spec(self) -> str: ...

    @property
    def cwd(self) -> str:
        """The directory it runs in (and a ``py:`` target is imported from)."""
        ...

    @property
    def timeout(self) -> float:
        """Seconds one run may take (a run's ``timeout=`` overrides it)."""
        ...

    def run(
        self,
        data_dir: Path,
        *,
        dry_run: bool = False,
        grace_days: float | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,  # None: default_timeout()
    ) -> RunResult: ...


def contract_env(
    data_dir: Path,
    *,
    dry_run: bool,
    grace_days: float | None,
    extra: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str], tuple[str, ...]]:
    """The child's environment per SPEC: (full env, the variables set, the variables unset).

    ``extra`` adds variables (a fault plan's, say) but may not set the contract's own: a
    dry run or a grace period is a parameter of the run, not an accident of the environment.
    """
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(CONTRACT_VARS))
    if clash:
        raise ValueError(f"set {', '.join(clash)} through dry_run=/grace_days=, not env=")
    chosen = {"DATA_DIR": os.path.abspath(data_dir), **extra}
    if dry_run:
        chosen[DRY_RUN_VAR] = "true"
    target = layout.active()
    if grace_days is None and target.grace_days != layout.DEFAULT_GRACE_DAYS:
        grace_days = target.grace_days  # the migrator is told the grace R11 judges by
    if grace_days is not None:
        chosen[GRACE_VAR] = f"{grace_days:g}"
    if target.name != layout.DEFAULT_LAYOUT:  # the kit's addition: the layout in force
        chosen[layout.LAYOUT_ENV] = layout.env_value(target)
    unset = tuple(v for v in (DRY_RUN_VAR, GRACE_VAR) if v not in chosen)
    full = {k: v for k, v in os.environ.items() if k not in unset}
    full.update(chosen)
    return full, chosen, unset


@dataclass(frozen=True)
class ChildProcess:
    """The process an adapter's ``run`` starts: its argv, full environment and directory,
    and the contract variables it sets and unsets (what a replay line states)."""

    argv: list[str]
    env: dict[str, str]
    chosen: dict[str, str]
    unset: tuple[str, ...]
    cwd: str

    @property
    def replay(self) -> str:
        return replay_line(self.argv, env=self.chosen, unset=self.unset, cwd=Path(self.cwd))


@dataclass(frozen=True)
class CommandMigrator:
    """A shell command following SPEC's external contract (any language)."""

    command: str
    cwd: str = field(default_factory=os.getcwd)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def spec(self) -> str:
        return f"cmd:{self.command}"

    def argv(self, data_dir: Path) -> list[str]:
        quoted = shlex.quote(os.path.abspath(data_dir))
        return ["/bin/sh", "-c", self.command.replace("{data_dir}", quoted)]

    def process(
        self,
        data_dir: Path,
        *,
        dry_run: bool = False,
        grace_days: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ChildProcess:
        """The process :meth:`run` starts with these arguments (for a tracer to start)."""
        full, chosen, unset = contract_env(
            data_dir, dry_run=dry_run, grace_days=grace_days, extra=env
        )
        return ChildProcess(self.argv(data_dir), full, chosen, unset, self.cwd)

    def run(
        self,
        data_dir: Path,
        *,
        dry_run: bool = False,
        grace_days: float | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,  # None: default_timeout()
    ) -> RunResult:
        child = self.process(data_dir, dry_run=dry_run, grace_days=grace_days, env=env)
        given = self.timeout if timeout is None else timeout
        return _run_child(child, command=child.argv[-1], timeout=given, dry_run=dry_run)


@dataclass(frozen=True)
class ServeMigrator(CommandMigrator):
    """A server whose start-up runs the migration: a command run through the launcher
    :mod:`harness.run.serve` (see there), so it is a process like any ``cmd:`` migrator and
    tracing, fault injection, power loss and rehearsals work on it unchanged."""

    options: ServeOptions = field(default_factory=ServeOptions)

    @property
    def spec(self) -> str:
        return join_spec(self.options, self.command)

    def argv(self, data_dir: Path) -> list[str]:
        return [*SERVE_LAUNCHER, *self.options.argv(), "--", *super().argv(data_dir)]

    def run(
        self,
        data_dir: Path,
        *,
        dry_run: bool = False,
        grace_days: float | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """As a command, with the readiness timeout inside ``timeout``: a server that never
        gets ready is stopped and reported by the launcher, not killed blind."""
        timeout = self.timeout if timeout is None else timeout
        room = timeout - self.options.stop_grace - _SERVE_MARGIN_S
        ready_timeout = min(self.options.ready_timeout, max(room, 1.0))
        bounded = replace(self, options=replace(self.options, ready_timeout=ready_timeout))
        child = bounded.process(data_dir, dry_run=dry_run, grace_days=grace_days, env=env)
        return _run_child(child, command=self.spec, timeout=timeout, dry_run=dry_run)


@dataclass(frozen=True)
class PythonMigrator:
    """A callable ``f(data_dir, *, dry_run)`` that raises on failure."""

    target: str  # "package.module:function"
    inprocess: bool = False
    # Where the target's top-level package was found, so that a child process imports the
    # same code the harness resolved (a test module on pytest's sys.path, say).
    import_root: str | None = None
    cwd: str = field(default_factory=os.getcwd)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def spec(self) -> str:
        return f"py:{self.target}"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "harness.run.pyrunner", self.target]

    def _child_env(self) -> dict[str, str]:
        """What the child needs beyond the contract: unbuffered output, the same import path."""
        extra = {"PYTHONUNBUFFERED": "1"}  # so stdout and stderr interleave as written
        if self.import_root:
            inherited = os.environ.get("PYTHONPATH")
            extra["PYTHONPATH"] = os.pathsep.join(p for p in (self.import_root, inherited) if p)
        return extra

    def process(
        self,
        data_dir: Path,
        *,
        dry_run: bool = False,
        grace_days: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ChildProcess:
        """The process :meth:`run` starts with these arguments (for a tracer to start):
        the contract's environment plus unbuffered output and the same import path."""
        full, chosen, unset = contract_env(
            data_dir,
            dry_run=dry_run,
            grace_days=grace_days,
            extra={**self._child_env(), **(env or {})},
        )
        return ChildProcess(self.argv(), full, chosen, unset, self.cwd)

    def run(
        self,
        data_dir: Path,
        *,
        dry_run: bool = False,
        grace_days: float | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,  # None: default_timeout()
    ) -> RunResult:
        if self.inprocess:
            return self._run_here(data_dir, dry_run=dry_run, grace_days=grace_days, env=env)
        child = self.process(data_dir, dry_run=dry_run, grace_days=grace_days, env=env)
        given = self.timeout if timeout is None else timeout
        return _run_child(child, command=shlex.join(child.argv), timeout=given, dry_run=dry_run)

    def _run_here(
        self,
        data_dir: Path,
        *,
        dry_run: bool,
        grace_days: float | None,
        env: Mapping[str, str] | None,
    ) -> RunResult:
        """Call the target in this process, capturing its prints and log records.

        The environment is not touched (that would be global state), so ``env`` is refused
        and ``grace_days`` reaches only a callable that takes it. ``Exception`` means the
        migration failed (status 1), ``SystemExit`` carries its own status; anything else
        (a fault injector's simulated kill, KeyboardInterrupt) propagates to the caller.
        """
        if env:
            raise ValueError("an in-process run cannot set environment variables")
        func = load_target(self.target)
        grace = None if grace_days is None else float(grace_days)
        kwargs = call_kwargs(func, dry_run=dry_run, grace_days=grace)
        if grace_days is not None and "grace_days" not in kwargs:
            raise ValueError(f"{self.target} takes no grace_days; run it in a child process")
        child = self.process(data_dir, dry_run=dry_run, grace_days=grace_days)
        buf, err = io.StringIO(), io.StringIO()
        started_at, start = time.time(), time.monotonic()
        with _captured(buf, err):
            try:
                func(Path(os.path.abspath(data_dir)), **kwargs)
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc(file=_Both(buf, err))
                status = 1
        return RunResult(
            exit_status=status,
            output=buf.getvalue(),
            stderr=err.getvalue(),
            duration_s=time.monotonic() - start,
            peak_rss_bytes=None,
            command=f"{self.target}({os.path.abspath(data_dir)!r}, **{kwargs!r})",
            replay=child.replay,
            dry_run=dry_run,
            started_at=started_at,
            protection=f"{Protection.NONE} (in-process run)",
        )


def default_timeout() -> float:
    """Seconds a migrator run may take before it is killed: ``$MIGRATION_KIT_TIMEOUT`` (what
    ``--timeout`` and ``timeout`` in ``[tool.migration-kit]`` set, so that child pytests and
    their xdist workers inherit it), else :data:`DEFAULT_TIMEOUT`."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise KitError(f"${TIMEOUT_ENV}={text!r}: expected a number of seconds above 0")
    return seconds


def _run_child(
    child: ChildProcess, *, command: str, timeout: float | None, dry_run: bool
) -> RunResult:
    """Run ``child`` in the sandbox: it may write its tree and its own ``TMPDIR`` only.

    A caller that chose the ``TMPDIR`` (a case's, kept with it) keeps it; otherwise the run
    gets a fresh private one, removed afterwards, so that what it leaves in temporary space
    is its own and SPEC's "its own temporary space" has a place the sandbox can leave open.
    """
    own_tmp = None if "TMPDIR" in child.chosen else tempfile.mkdtemp(prefix="mk-run-tmp-")
    env = child.env if own_tmp is None else {**child.env, "TMPDIR": own_tmp}
    writable = [env["DATA_DIR"], env["TMPDIR"], *extra_writable()]
    try:
        return run_process(
            child.argv,
            env=env,
            cwd=child.cwd,
            timeout=default_timeout() if timeout is None else timeout,
            command=command,
            replay=child.replay,
            dry_run=dry_run,
            writable=writable,
            watch=candidate_places(Path(env["DATA_DIR"]), child.cwd),
        )
    finally:
        if own_tmp is not None:
            shutil.rmtree(own_tmp, ignore_errors=True)


@contextlib.contextmanager
def _captured(buf: io.StringIO, err: io.StringIO):
    """Send prints and log records (INFO and up) to ``buf`` for the duration, and what goes
    to stderr (log records included, as in a child process) to ``err`` as well."""
    root = logging.getLogger()
    to_stderr = _Both(buf, err)
    handler = logging.StreamHandler(to_stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))  # as the child process logs
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(old_level or logging.INFO, logging.INFO))
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(to_stderr):
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


class _Both(io.TextIOBase):
    """A text stream writing to two others: stderr is part of the output and kept apart."""

    def __init__(self, *streams: io.StringIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)


def _import_root(target: str) -> str | None:
    """The sys.path entry the target's module was imported from, if it can be told."""
    module = sys.modules.get(target.partition(":")[0])
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).absolute()
    depth = target.partition(":")[0].count(".") + (1 if path.stem == "__init__" else 0)
    return str(path.parents[depth])


def parse_migrator(
    spec: str | None = None,
    *,
    inprocess: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
) -> Migrator:
    """Turn a spec string into a migrator, failing early and clearly on a bad one.

    ``cwd`` is the directory it runs in (default: this process's); ``timeout`` the seconds
    one run may take (default :data:`DEFAULT_TIMEOUT`). A ``py:`` target is imported now,
    in the harness, from ``cwd`` as well as from ``sys.path``, so that a typo or a callable
    without the contract's signature is a usage error before any tree is built rather than
    a "migration failure" inside every scenario.
    """
    where = os.path.abspath(cwd if cwd is not None else os.getcwd())
    given = default_timeout() if timeout is None else float(timeout)
    if not given > 0:
        raise MigratorSpecError(f"the timeout must be a number of seconds > 0, not {timeout!r}")
    spec = DEFAULT_MIGRATOR if spec is None else spec.strip()
    kind, sep, rest = spec.partition(":")
    rest = rest.strip()
    if not sep or not rest or kind not in ("py", "cmd", SERVE_PREFIX.rstrip(":")):
        raise MigratorSpecError(f"unknown migrator {spec!r}: expected {ACCEPTED}")
    if kind != "py" and inprocess:
        raise MigratorSpecError(f"{spec!r}: only a py: migrator can run in-process")
    if kind == "cmd":
        return CommandMigrator(rest, cwd=where, timeout=given)
    if kind != "py":
        try:
            options, command = split_spec(rest)
        except ServeSpecError as exc:
            raise MigratorSpecError(f"migrator {spec!r}: {exc}") from None
        return ServeMigrator(command, cwd=where, timeout=given, options=options)
    if where not in sys.path:
        # Like ``python -m`` there: a module beside the person's project imports, also in
        # this process (an in-process run imports its siblings late), without PYTHONPATH=.
        sys.path.append(where)
    try:
        load_target(rest)
    except TargetError as exc:
        raise MigratorSpecError(
            f"the migrator could not start: {spec!r}: {exc}; expected {ACCEPTED}"
        ) from exc
    return PythonMigrator(
        rest, inprocess=inprocess, import_root=_import_root(rest), cwd=where, timeout=given
    )


def run_together(migrators: Sequence[Migrator], data_dir: Path, **kwargs: Any) -> list[RunResult]:
    """Start every migrator on ``data_dir`` at once (R15) and wait for all of them.

    Each run gets its own thread; a barrier releases them together so the processes really
    overlap instead of running one after the other. Results come back in the given order.
    """
    barrier = threading.Barrier(len(migrators))

    def start(migrator: Migrator) -> RunResult:
        barrier.wait()
        return migrator.run(data_dir, **kwargs)

    with ThreadPoolExecutor(max_workers=len(migrators)) as pool:
        return list(pool.map(start, migrators))
