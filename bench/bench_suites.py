"""How long the kit's own suites take, with one and two pytest-xdist workers.

    python -m bench.bench_suites [--repeat N]

A kit that takes too long is not run before a deploy, so two wall times matter:

- ``migration-kit checklist`` against the reference migrator (target <= 90 s with
  ``-n auto``, which is ``-n 2`` on this 2-core machine);
- ``migration-kit explore --effects kill`` over the default 3-user tree, every kill point
  (target <= 60 s with ``-n 2``), timed by the exploration engineer's
  ``bench.bench_explore.explore_seconds`` after the fault-free recording is made;

each with ``-n 1`` and ``-n 2``: the speed-up (target >= 1.7x) shows that the work scales
out over xdist workers. Both run as the commands a person types, in child processes, and
each figure notes the 1-minute load average at the start of its runs: on a shared 2-core
machine, work on the second core takes it from the second worker. Before
the timed checklist runs, one untimed run fills what a first run fills (fixture trees the
cache lacks; the fault and power-loss recordings, made again after every change to the
migrator), so that neither configuration pays for it and the figures are the steady state.
Figures, never assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from bench.common import Figure, child_env, print_table, ratio, take_turns, timed
from fixtures.spec import TreeSpec, spec_to_json
from harness.run.adapters import DEFAULT_MIGRATOR

WORKERS = ("2", "1")


def checklist_seconds(workers: str, status: list[int]) -> float:
    """Wall seconds of ``migration-kit checklist -n workers`` (its exit status to ``status``)."""
    argv = [sys.executable, "-m", "harness.cli.main", "checklist", "--migrator", DEFAULT_MIGRATOR]
    argv += ["-n", workers]

    def run() -> None:
        done = subprocess.run(argv, env=child_env(), stdout=subprocess.DEVNULL, check=False)
        status.append(done.returncode)

    return timed(run)


def _loaded(cases: dict[str, Callable[[], float]]) -> tuple[dict[str, Callable[[], float]], dict]:
    """``cases`` that each note the load average as they start, and those notes per case."""
    loads: dict[str, list[float]] = {name: [] for name in cases}

    def noting(name: str) -> Callable[[], float]:
        def once() -> float:
            loads[name].append(os.getloadavg()[0])
            return cases[name]()

        return once

    return {name: noting(name) for name in cases}, loads


def _load_note(loads: list[float]) -> str:
    return f"load {min(loads):.1f}-{max(loads):.1f} at the starts" if loads else ""


def _notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def checklist(repeat: int) -> list[Figure]:
    """The checklist with -n 2 and -n 1, and the speed-up."""
    names = {w: f"checklist vs reference, -n {w}" for w in WORKERS}
    status: list[int] = []
    checklist_seconds("2", status)  # untimed: fills the caches (see the module docstring)
    runs, loads = _loaded({w: (lambda w=w: checklist_seconds(w, status)) for w in WORKERS})
    samples = take_turns(runs, repeat)
    failed = sum(1 for s in status if s != 0)
    exits = f"{failed} of {len(status)} runs exited non-zero: {sorted(status)}" if failed else ""
    two = Figure(
        names["2"] + " (= auto on 2 cores)",
        "s",
        samples["2"],
        target=90.0,
        note=_notes(exits, _load_note(loads["2"])),
    )
    one = Figure(names["1"], "s", samples["1"], note=_notes(exits, _load_note(loads["1"])))
    return [two, one, ratio("checklist speed-up, -n 2 over -n 1", one, two, target=1.7, lower=True)]


def exploration(repeat: int) -> list[Figure]:
    """Every kill point of the default 3-user tree with -n 2 and -n 1, and the speed-up."""
    from bench.bench_explore import explore_seconds  # imports the explorer: only when run
    from harness.explore.baseline import baseline
    from harness.explore.exploration import Exploration

    names = {w: f"kill-point exploration, 3 users, -n {w}" for w in WORKERS}
    baseline(Exploration(migrator=DEFAULT_MIGRATOR, effects=("kill",)))
    cases: list[int] = []
    broken: list[int] = []
    rate = Figure(
        "kill-point exploration, 3 users, -n 2, throughput",
        "cases/s",
        target=15.0,
        lower=True,
        goal="explore-rate",
    )

    def run(workers: str) -> Callable[[], float]:
        def once() -> float:
            took, report = explore_seconds(DEFAULT_MIGRATOR, workers)
            results = report.get("results", [])
            if workers == "2" and results:
                rate.add(len(results) / took)
            cases.append(len(results))
            broken.append(sum(r.get("outcome") != "ok" for r in results))
            return took

        return once

    runs, loads = _loaded({w: run(w) for w in WORKERS})
    samples = take_turns(runs, repeat)
    note = f"{max(cases, default=0)} cases per run, {max(broken, default=0)} not ok"
    two = Figure(
        names["2"], "s", samples["2"], target=60.0, note=_notes(note, _load_note(loads["2"]))
    )
    one = Figure(names["1"], "s", samples["1"], note=_notes(note, _load_note(loads["1"])))
    return [
        two,
        rate,
        one,
        ratio("exploration speed-up, -n 2 over -n 1", one, two, target=1.7, lower=True),
    ]


EXHAUSTIVE_USERS = 30
EXHAUSTIVE_LIMIT_S = 300.0


def exhaustive_tree(users: int) -> TreeSpec:
    """The default 3-user tree's mix (a legacy user with WAL rows and images, a plain legacy
    one, a migrated one) repeated to ``users`` users."""
    from harness.explore.exploration import DEFAULT_TREE

    pattern = DEFAULT_TREE.users
    return TreeSpec(
        users=tuple(
            dataclasses.replace(pattern[i % len(pattern)], user_id=f"user-{i:02d}")
            for i in range(users)
        )
    )


def exhaustive(users: int = EXHAUSTIVE_USERS, stop_after: float = 2 * EXHAUSTIVE_LIMIT_S) -> Figure:
    """The exhaustive exploration (every operation x every effect) of a ``users``-user tree
    with -n 2, the recording included (it is part of what a person waits for). A run still
    going at ``stop_after`` seconds (past the target: MISSED whatever it would have taken) is
    stopped and reported as that long."""
    argv = [sys.executable, "-m", "harness.cli.main", "explore", "--migrator", DEFAULT_MIGRATOR]
    argv += ["--tree", spec_to_json(exhaustive_tree(users)), "-n", "2"]
    fig = Figure(
        f"exhaustive exploration, {users} users, -n 2 (recording included)",
        "s",
        target=EXHAUSTIVE_LIMIT_S,
        goal="explore-30",
    )
    listed = subprocess.run(
        [*argv, "--list"], env=child_env(), capture_output=True, text=True, check=False
    )
    count = sum(1 for line in listed.stdout.splitlines() if re.match(r"\s*\d+:", line))
    load = os.getloadavg()[0]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, env=child_env(), stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        status = proc.wait(timeout=stop_after)
        fig.add(time.monotonic() - start)
        fig.note = f"about {count} cases (--list lines), exit {status}, load {load:.1f} at start"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the explorer and its workers: a group we started
        proc.wait()
        fig.add(stop_after)
        fig.note = f"stopped after {stop_after:.0f} s, not finished; about {count} cases"
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count")
    args = parser.parse_args(argv)
    figures = checklist(args.repeat) + exploration(args.repeat)
    print_table(f"the kit's suites, median of {args.repeat}", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
