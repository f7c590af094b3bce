"""How long ``migration-kit`` takes to start: ``--help`` and ``status DIR`` on a small tree.

Run: ``python -m bench.bench_startup [--repeat N]`` (or the 'startup' section of
``migration-kit bench``). Both are what a person (or a deploy script) types often and waits
for, so each is held to 0.3 s of wall time, the interpreter's own start included (its floor,
``python -c pass``, is printed next to them). Each run is a fresh ``sys.executable`` (not a
version manager's shim, which adds its own start-up); the runs take turns so that a busy
minute of the machine hits them alike. They run as an installed kit does, with compiled
bytecode: the environment may say ``PYTHONDONTWRITEBYTECODE`` (then every run compiles
every module again, a cost no installed copy pays), so the children write and read theirs
under a private ``PYTHONPYCACHEPREFIX`` (never in the checkout), after one warm-up run.

The note says how many modules the command imported (``-X importtime``) and whether pytest
or Hypothesis was among them: they cost most of a second, and only the commands that run
scenarios need them. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import (
    Figure,
    child_env,
    markdown_table,
    python_child,
    remove,
    scratch_dir,
    take_turns,
)
from fixtures.factory import TreeFactory
from fixtures.variants import demo

TARGET_S = 0.3
KIT = ("-m", "harness.cli")
HEAVY = ("pytest", "_pytest", "hypothesis")


def _env(scratch: Path) -> dict[str, str]:
    """The children's environment: bytecode cached under ``scratch`` (see above)."""
    env = child_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    return env


def _wall(args: list[str], env: dict[str, str]) -> float:
    done, wall, _rss = python_child(args, env=env)
    if done.returncode not in (0, 1):  # status exits 1 when a user needs a person
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return wall


def _imports(args: list[str], env: dict[str, str]) -> str:
    """'N modules, no pytest' (or which of them) for a run of ``args`` under ``-X importtime``."""
    done, _wall, _rss = python_child(["-X", "importtime", *args], env=env)
    names = [
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    ]
    heavy = sorted({n.split(".")[0] for n in names} & set(HEAVY))
    return f"{len(names)} modules, " + (f"imports {', '.join(heavy)}" if heavy else "no pytest")


def startup(repeat: int, factory: TreeFactory, scratch: Path) -> list[Figure]:
    """The interpreter's floor, ``--help`` and ``status DIR``: wall seconds, ``repeat`` x 5
    runs each (a start-up is short and noisy; more samples cost little)."""
    data_dir, _manifest = factory.make(demo(), scratch / "startup-tree")
    commands = {
        "floor": ["-c", "pass"],
        "help": [*KIT, "--help"],
        "status": [*KIT, "status", str(data_dir)],
    }
    env = _env(scratch)
    for args in commands.values():
        _wall(args, env)  # the warm-up: compiles the bytecode the measured runs read
    samples = take_turns({k: (lambda a=a: _wall(a, env)) for k, a in commands.items()}, repeat * 5)
    return [
        Figure("python -c pass (the interpreter's floor)", "s", samples["floor"]),
        Figure(
            "migration-kit --help",
            "s",
            samples["help"],
            target=TARGET_S,
            note=_imports(commands["help"], env),
            goal="startup-help",
        ),
        Figure(
            "migration-kit status DIR (demo tree)",
            "s",
            samples["status"],
            target=TARGET_S,
            note=_imports(commands["status"], env),
            goal="startup-status",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of 5 runs (default 3)")
    args = parser.parse_args(argv)
    scratch = scratch_dir("mk-bench-startup-")
    try:
        print(markdown_table(startup(args.repeat, TreeFactory(), scratch)))
    finally:
        remove(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
