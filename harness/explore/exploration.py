"""What to explore: the plain data that names one exploration, the same in the CLI, the
pytest options and a replay command.

An exploration is a migrator, a tree, a backend and the effects to try (SPEC's faults: an
errno, or a kill just before an operation). Everything else (the recording, the cases, the
verdicts) follows from it, in the modules beside this one: ``backends`` (how a run is
recorded or faulted), ``baseline`` (the fault-free run, recorded once and kept on disk),
``verdicts`` (what one case is held to) and ``cases`` (one case run and judged).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures.spec import TreeSpec, UserSpec, spec_to_json
from harness.contract import layout
from harness.contract.errors import KitError
from harness.contract.settings import EXPLORE_TIMEOUT
from harness.faults.availability import Backend
from harness.faults.plan import Operation, applicable_effects
from harness.run.adapters import DEFAULT_MIGRATOR, Migrator, parse_migrator
from harness.scenario.replay_command import pythonpath_for

BACKENDS: tuple[Backend, ...] = tuple(Backend)
# The default tree: small, but the kinds of user a real data dir has. alice is a busy
# legacy user (half her rows only in peek.db-wal, three images), bob a quiet legacy user,
# carol was migrated by an earlier run (a re-run must leave her alone).
DEFAULT_TREE = TreeSpec(
    users=(
        UserSpec("alice", items=30, images=3, wal_share=0.5),
        UserSpec("bob", items=12, images=1),
        UserSpec("carol", state="migrated", items=8, images=1),
    ),
)

ALL_EFFECTS = tuple(dict.fromkeys(e for op in Operation for e in applicable_effects(op)))


class ExploreError(KitError, ValueError):
    """An exploration that cannot be set up as asked (bad effect, unknown case, ...)."""


def parse_effects(text: str | None) -> tuple[str, ...] | None:
    """``"EIO,kill"`` -> ``("EIO", "kill")``; ``None``, ``""`` or ``"all"`` -> None (all).

    Only effects some operation can suffer are accepted: any other would select no case
    and make an exploration that tests nothing look like one that passed.
    """
    if text is None or text.strip().lower() in ("", "all"):
        return None
    effects = tuple(dict.fromkeys(e.strip() for e in text.split(",") if e.strip()))
    for effect in effects:
        if effect not in ALL_EFFECTS:
            known = ", ".join(ALL_EFFECTS)
            raise ExploreError(f"effect {effect!r} is tried at no operation (known: {known})")
    return effects or None


@dataclass(frozen=True)
class Exploration:
    """What to explore: plain data, the same in the CLI, the pytest options and a replay."""

    migrator: str = DEFAULT_MIGRATOR
    tree: TreeSpec = DEFAULT_TREE
    backend: Backend = Backend.SYSCALL
    effects: tuple[str, ...] | None = None  # None: every applicable effect
    every_write: bool = False  # every write a case, not only the first of a run of writes
    # Leave out a kill before an operation that changes nothing a snapshot sees (an fsync,
    # a call that failed in the recording): it leaves the very tree the kill before the
    # next operation leaves, so it can only repeat that case. Not for power loss (R17),
    # where an fsync is everything.
    distinct_kills: bool = False
    timeout: float = EXPLORE_TIMEOUT  # seconds one run may take; not what is explored

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            known = ", ".join(BACKENDS)
            raise ExploreError(f"backend must be one of {known}, not {self.backend!r}")
        object.__setattr__(self, "backend", Backend(self.backend))  # the CLI gives a str
        if self.effects is not None:
            parse_effects(",".join(self.effects))

    def open_migrator(self) -> Migrator:
        """The migrator, in this process for the in-process backend."""
        return parse_migrator(
            self.migrator, inprocess=self.backend == Backend.INPROCESS, timeout=self.timeout
        )

    def target(self) -> dict[str, Any]:
        """What a report says was explored."""
        return {
            "migrator": self.migrator,
            "tree": spec_to_json(self.tree),
            "backend": self.backend,
            "effects": list(self.effects) if self.effects is not None else None,
            "every_write": self.every_write,
            "distinct_kills": self.distinct_kills,
        }

    def replay(self, case_id: str) -> str:
        """One shell command that runs exactly case ``case_id`` again (from this directory),
        with the ``PYTHONPATH`` a ``py:`` migrator outside the installed packages needs."""
        args = [*kit_argv(), "explore", "--migrator", self.migrator]
        if self.tree != DEFAULT_TREE:
            args += ["--tree", spec_to_json(self.tree)]
        if self.backend != "syscall":
            args += ["--backend", self.backend]
        if self.timeout != EXPLORE_TIMEOUT:
            args += ["--timeout", f"{self.timeout:g}"]
        if layout.replay_value():
            args += ["--layout", str(layout.replay_value())]
        args += ["--case", case_id]
        line = shlex.join(args)
        pythonpath = pythonpath_for(self.open_migrator())
        if pythonpath:
            line = f"PYTHONPATH={shlex.quote(pythonpath)} {line}"
        return f"cd {shlex.quote(os.getcwd())} && {line}"


def kit_argv() -> list[str]:
    """``migration-kit`` when this interpreter has the script and PATH finds one (directly
    or through a version manager's shim), else ``<python> -m harness.cli.main``."""
    mine = Path(sys.executable).parent / "migration-kit"
    if mine.is_file() and shutil.which("migration-kit"):
        return ["migration-kit"]
    return [sys.executable, "-m", "harness.cli.main"]
