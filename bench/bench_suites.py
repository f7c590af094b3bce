"""How long the kit's own suites take, with one and two pytest-xdist workers.

    python -m bench.bench_suites [--repeat N]

A kit that takes too long is not run before a deploy, so two wall times matter:

- ``migration-kit checklist`` against the reference migrator (target <= 90 s with
  ``-n auto``, which is ``-n 2`` on this 2-core machine);
- ``migration-kit explore --effects kill`` over the default 3-user tree, every kill point
  (target <= 60 s with ``-n 2``), timed by the exploration engineer's
  ``bench.bench_explore.explore_seconds`` after the fault-free recording is made;

each with ``-n 1`` and ``-n 2``: the speed-up (target >= 1.7x) shows that the work scales
out over xdist workers. Both run as the commands a person types, in child processes. The
``-n 2`` run goes first, so the fixture cache a first run may fill is paid by the faster
configuration and the speed-up is, if anything, understated. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Callable

from bench.common import Figure, child_env, print_table, ratio, take_turns, timed
from harness.adapters import DEFAULT_MIGRATOR

WORKERS = ("2", "1")  # -n 2 first: see the module docstring


def _command_available(module: str) -> str:
    """'' when the subcommand's module imports, else why it cannot be measured."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"not available yet ({exc})"
    return ""


def checklist_seconds(workers: str, status: list[int]) -> float:
    """Wall seconds of ``migration-kit checklist -n workers`` (its exit status to ``status``)."""
    argv = [sys.executable, "-m", "harness.cli", "checklist", "--migrator", DEFAULT_MIGRATOR]
    argv += ["-n", workers]

    def run() -> None:
        done = subprocess.run(argv, env=child_env(), stdout=subprocess.DEVNULL, check=False)
        status.append(done.returncode)

    return timed(run)


def checklist(repeat: int) -> list[Figure]:
    """The checklist with -n 2 and -n 1, and the speed-up."""
    why_not = _command_available("harness.checklist_cli")
    names = {w: f"checklist vs reference, -n {w}" for w in WORKERS}
    if why_not:
        return [Figure(names["2"], "s", target=90.0, note=why_not)]
    status: list[int] = []
    samples = take_turns({w: (lambda w=w: checklist_seconds(w, status)) for w in WORKERS}, repeat)
    two = Figure(names["2"] + " (= auto on 2 cores)", "s", samples["2"], target=90.0)
    one = Figure(names["1"], "s", samples["1"])
    failed = sum(1 for s in status if s != 0)
    if failed:
        two.note = one.note = f"{failed} of {len(status)} runs exited non-zero: {sorted(status)}"
    return [two, one, ratio("checklist speed-up, -n 2 over -n 1", one, two, target=1.7, lower=True)]


def exploration(repeat: int) -> list[Figure]:
    """Every kill point of the default 3-user tree with -n 2 and -n 1, and the speed-up."""
    names = {w: f"kill-point exploration, 3 users, -n {w}" for w in WORKERS}
    try:
        from bench.bench_explore import explore_seconds
        from harness import explore
    except ImportError as exc:
        return [Figure(names["2"], "s", target=60.0, note=f"not available yet ({exc})")]
    explore.baseline(explore.Exploration(migrator=DEFAULT_MIGRATOR, effects=("kill",)))
    cases: list[int] = []
    broken: list[int] = []

    def run(workers: str) -> Callable[[], float]:
        def once() -> float:
            took, report = explore_seconds(DEFAULT_MIGRATOR, workers)
            results = report.get("results", [])
            cases.append(len(results))
            broken.append(sum(r.get("outcome") != "ok" for r in results))
            return took

        return once

    samples = take_turns({w: run(w) for w in WORKERS}, repeat)
    note = f"{max(cases, default=0)} cases per run, {max(broken, default=0)} not ok"
    two = Figure(names["2"], "s", samples["2"], target=60.0, note=note)
    one = Figure(names["1"], "s", samples["1"], note=note)
    return [
        two,
        one,
        ratio("exploration speed-up, -n 2 over -n 1", one, two, target=1.7, lower=True),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count")
    args = parser.parse_args(argv)
    figures = checklist(args.repeat) + exploration(args.repeat)
    print_table(f"the kit's suites, median of {args.repeat}", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
