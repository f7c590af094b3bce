"""Run the kit's scenarios on a migrator in a child pytest and read its ``--checklist-json``.

The child is ``sys.executable -m pytest --pyargs scenarios`` started in the repository root,
so that ``py:tests.broken.<module>:migrate`` imports, with ``-n 0`` (the proof tests spread
over processes themselves) and a time limit: a scenario that hangs must fail the proof, not
stall it.

Where ``PYTHONDONTWRITEBYTECODE`` is set (it keeps ``__pycache__`` out of the checkout), each
child would redo pytest's assertion rewriting of every module of the kit (about 10 s a run);
the children write their bytecode under a prefix in the temp dir instead, out of the checkout
all the same. The migrators' traced runs set it again themselves (``harness.faults``).

At its time limit a child is stopped as a person would stop it (:func:`run_bounded`):
SIGTERM first, which the kit answers by stopping its own children (strace, xdist workers,
servers) and removing its scratch, then SIGKILL to its whole process group, so nothing it
started outlives the proof test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 900
STOP_GRACE_S = 10.0  # after SIGTERM at the time limit, before SIGKILL to the group


@dataclass(frozen=True)
class KitRun:
    """One child pytest run: its exit status, its output and the checklist JSON."""

    returncode: int
    output: str
    report: dict

    @property
    def results(self) -> list[dict]:
        return self.report.get("results", [])

    def with_outcome(self, *outcomes: str) -> list[dict]:
        return [r for r in self.results if r["outcome"] in outcomes]

    def rules_broken(self) -> set[str]:
        """Every rule a failed scenario reports broken."""
        return {rule for r in self.with_outcome("failed") for rule in r["rules_broken"]}

    def summary(self) -> str:
        """What a person needs when a proof assertion fails: each result, then the tail."""
        lines = [
            f"{r['outcome']:8} {r['nodeid']} rules_broken={r['rules_broken']} "
            f"{(r.get('message') or '').splitlines()[:1]}"
            for r in self.results
        ]
        return "\n".join([*lines, "--- output (tail) ---", self.output[-4000:]])


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        default = Path(tempfile.gettempdir()) / "migration-kit-proof-pycache"
        env.setdefault("PYTHONPYCACHEPREFIX", str(default))
    return env


def run_bounded(
    argv: Sequence[str],
    *,
    timeout: float,
    grace: float = STOP_GRACE_S,
    stderr: int = subprocess.PIPE,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(argv)`` from the checkout, in a process group of its own, whose time
    limit stops it with SIGTERM, then after ``grace`` seconds SIGKILLs the group (a bare
    SIGKILL to the child would orphan its children); raises ``TimeoutExpired`` as ``run``."""
    with subprocess.Popen(
        list(argv),
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        process_group=0,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:  # the time limit, or a ^C the child's own group did not get
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):  # a pipe held elsewhere
                proc.communicate(timeout=grace)
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_kit(*args: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """``migration-kit ARGS`` as a child of this interpreter, from the checkout, as a person
    would run it: its exit status and its output (never raises for a failure)."""
    return run_bounded([sys.executable, "-m", "harness.cli.main", *args], timeout=timeout)


def run_scenarios(migrator: str, select: Sequence[str], json_path: Path) -> KitRun:
    """Run the scenarios chosen by ``select`` (``-m``/``-k``/``--large``) on ``migrator``."""
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "scenarios",
        *select,
        "--migrator",
        migrator,
        "--checklist-json",
        str(json_path),
        "-p",
        "no:cacheprovider",
        "-q",
        "-n",
        "0",
    ]
    proc = run_bounded(argv, timeout=TIMEOUT_S, stderr=subprocess.STDOUT)
    report = json.loads(json_path.read_text()) if json_path.is_file() else {}
    return KitRun(proc.returncode, proc.stdout, report)
