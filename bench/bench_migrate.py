"""How fast and how lean the reference migrator is, beside its floor and the Node seed.

    python -m bench.bench_migrate [--quick] [--repeat N] [--users N] [--mib N]

Two workloads, each run on fresh copies of the same cached fixture tree:

- one large user (128 MiB, half its rows only in ``peek.db-wal``): the reference against
  the floor of a verified migration, ``cp`` of ``peek.db`` and its ``-wal``, an fsync of
  the copies and one ``PRAGMA integrity_check`` of the copied database on one core (target
  ratio <= 1.0, issue 16), and against the Node seed migrator;
  with the peak RSS of each (target for the reference <= 64 MB: memory must not grow with
  the DB);
- 10,000 small users (the fixture kit's realistic skewed mix): the reference against the
  Node seed (target: within 2x, and <= 3 ms per user), then one more reference run under
  cProfile to say where the time goes.

Every run goes through the harness (``harness.run.adapters``), as a migrator under test does:
its own process, started by the harness's launcher, which also measures its peak RSS. The
cases take turns, and the disk is flushed (``os.sync``) after each tree copy, so that the
copy's dirty pages are not written back on the migrator's time. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    MIB,
    REPO,
    Figure,
    children_cpu,
    last_json_line,
    print_table,
    python_child,
    ratio,
    remove,
    scratch_dir,
    take_turns,
    timed,
)
from fixtures import variants
from fixtures.factory import TreeFactory
from fixtures.spec import TreeSpec, UserSpec
from harness.run.adapters import DEFAULT_MIGRATOR, Migrator, parse_migrator

NODE_SCRIPT = REPO / "examples" / "node" / "migrate.js"


@dataclass(frozen=True)
class Sizes:
    """How big the workloads are; ``--quick`` picks the small set."""

    large_bytes: int
    users: int
    repeat: int


FULL = Sizes(large_bytes=128 * MIB, users=10_000, repeat=3)
QUICK = Sizes(large_bytes=16 * MIB, users=200, repeat=1)
TINY = Sizes(large_bytes=1 * MIB, users=20, repeat=1)  # that every line prints; no figures


def node_migrator() -> tuple[Migrator | None, str]:
    """The Node seed migrator, or None and the reason it cannot run here."""
    if shutil.which("node") is None:
        return None, "node missing (not installed)"
    if not (NODE_SCRIPT.parent / "node_modules" / "better-sqlite3").is_dir():
        return None, "node missing: examples/node/node_modules (see examples/node/README.md)"
    return parse_migrator(f"cmd:node {shlex.quote(str(NODE_SCRIPT))}"), ""


def large_spec(size: int) -> TreeSpec:
    """One user of ``size`` bytes with half its rows only in the -wal (a killed server)."""
    return TreeSpec(users=(UserSpec("big", target_bytes=size, images=5, wal_share=0.5),))


class Workload:
    """Fresh copies of one cached tree, one per run, removed after the run."""

    def __init__(self, factory: TreeFactory, spec: TreeSpec, scratch: Path, name: str) -> None:
        self.factory = factory
        self.spec = spec
        self.scratch = scratch / name
        self._n = 0

    def prepare(self) -> None:
        """Build (or fetch) the cached tree now, so that no build happens between runs."""
        remove(self.fresh())

    def fresh(self) -> Path:
        self._n += 1
        dest = self.scratch / f"run-{self._n}"
        self.factory.make(self.spec, dest)
        os.sync()  # the copy's dirty pages are written back now, not on the migrator's time
        return dest

    def run(self, migrator: Migrator, seen: dict[str, Figure] | None = None) -> float:
        """Migrate a fresh copy; its wall seconds. Its peak RSS (MB) and CPU seconds go to
        ``seen['rss']`` and ``seen['cpu']`` when given."""
        tree = self.fresh()
        try:
            cpu = children_cpu()
            result = migrator.run(tree)
            if seen is not None:
                seen["cpu"].add(children_cpu() - cpu)
                if result.peak_rss_bytes is not None:
                    seen["rss"].add(result.peak_rss_bytes / 1e6)
            if not result.ok:
                tail = "\n".join(result.output.splitlines()[-5:])
                print(f"  note: {migrator.spec} {result.describe()}:\n{tail}", file=sys.stderr)
            return result.duration_s
        finally:
            remove(tree)

    def floor(self, seen: dict[str, Figure] | None = None) -> float:
        """The floor of a *verified* migration: ``cp`` the old DB and its -wal into a folder
        of their own, fsync the copies, and run one ``PRAGMA integrity_check`` of the copied
        database (its -wal read with it) on one core, in this process. Closing the
        connection (which checkpoints the copy's -wal) is outside the timing."""
        tree = self.fresh()
        cpu, own = children_cpu(), time.process_time()
        try:
            user = tree / self.spec.users[0].user_id
            files = [p for p in (user / "peek.db", user / "peek.db-wal") if p.exists()]
            into = user / "floor"
            into.mkdir()
            copies = [into / p.name for p in files]
            script = " && ".join(
                [
                    *(
                        f"cp {shlex.quote(str(a))} {shlex.quote(str(b))}"
                        for a, b in zip(files, copies, strict=True)
                    ),
                    "sync " + " ".join(shlex.quote(str(c)) for c in copies),
                ]
            )
            checked: list[sqlite3.Connection] = []

            def copy_and_check() -> None:
                subprocess.run(["/bin/sh", "-c", script], check=True)
                conn = sqlite3.connect(into / "peek.db")
                checked.append(conn)
                verdict = conn.execute("PRAGMA integrity_check").fetchall()
                if verdict != [("ok",)]:
                    raise RuntimeError(f"the floor's integrity_check says {verdict[:3]}")

            took = timed(copy_and_check)
            for conn in checked:
                conn.close()
            if seen is not None:
                seen["cpu"].add(children_cpu() - cpu + time.process_time() - own)
            return took
        finally:
            remove(tree)


def large_user(sizes: Sizes, factory: TreeFactory, scratch: Path) -> list[Figure]:
    """The large-user figures: reference, floor, Node, their ratios and peak RSS."""
    mib = sizes.large_bytes // MIB
    work = Workload(factory, large_spec(sizes.large_bytes), scratch, "large")
    work.prepare()
    reference = parse_migrator(DEFAULT_MIGRATOR)
    node, why_not = node_migrator()
    ref_seen = {
        "rss": Figure(f"peak RSS, reference, {mib} MiB user", "MB", target=64, goal="large-rss"),
        "cpu": Figure(f"CPU, reference, {mib} MiB user", "s"),
    }
    node_seen = {
        "rss": Figure(f"peak RSS, Node seed, {mib} MiB user", "MB"),
        "cpu": Figure(f"CPU, Node seed, {mib} MiB user", "s"),
    }
    floor_seen = {"cpu": Figure(f"CPU, cp + fsync + integrity_check floor, {mib} MiB", "s")}
    cases: dict[str, Callable[[], float]] = {
        "floor": lambda: work.floor(floor_seen),
        "reference": lambda: work.run(reference, ref_seen),
    }
    if node is not None:
        cases["node"] = lambda: work.run(node, node_seen)
    samples = take_turns(cases, sizes.repeat)
    ref = Figure(f"migrate one {mib} MiB user (half in -wal), reference", "s", samples["reference"])
    floor = Figure(
        f"cp + fsync of the same files + integrity_check ({mib} MiB)", "s", samples["floor"]
    )
    to_floor = ratio("reference / (cp + fsync + integrity_check) floor", ref, floor, target=1.0)
    to_floor.goal = "large-floor"
    figures = [ref, floor, to_floor]
    if node is not None:
        node_fig = Figure(f"migrate one {mib} MiB user, Node seed (no fsync)", "s", samples["node"])
        figures += [node_fig, ratio("reference / Node seed, large user", ref, node_fig)]
    else:
        figures.append(Figure("Node seed, large user", "s", note=why_not))
    figures += [ref_seen["cpu"], floor_seen["cpu"], ref_seen["rss"]]
    if node is not None:
        figures += [node_seen["cpu"], node_seen["rss"]]
    return figures


def many_users(sizes: Sizes, factory: TreeFactory, scratch: Path) -> list[Figure]:
    """ms per user for ``sizes.users`` small users: reference against the Node seed."""
    n = sizes.users
    work = Workload(factory, variants.many_users(n), scratch, "many")
    work.prepare()
    reference = parse_migrator(DEFAULT_MIGRATOR)
    node, why_not = node_migrator()
    cases: dict[str, Callable[[], float]] = {"reference": lambda: work.run(reference)}
    if node is not None:
        cases["node"] = lambda: work.run(node)
    samples = take_turns(cases, sizes.repeat)
    per_user = {k: [s * 1000 / n for s in v] for k, v in samples.items()}
    ref = Figure(
        f"{n:,} users, reference, per user", "ms", per_user["reference"], target=3.0, goal="many-ms"
    )
    figures = [ref]
    if node is not None:
        node_fig = Figure(f"{n:,} users, Node seed (no fsync), per user", "ms", per_user["node"])
        to_node = ratio(f"reference / Node seed, {n:,} users", ref, node_fig, target=2.0)
        to_node.goal = "many-node"
        figures += [node_fig, to_node]
    else:
        figures.append(
            Figure(
                f"reference / Node seed, {n:,} users",
                "x",
                target=2.0,
                note=f"not measured: {why_not}",
                goal="many-node",
            )
        )
    return figures


# A reference run under cProfile, in its own interpreter, reporting the top costs as JSON.
_PROFILE = """
import cProfile, json, pstats, sys, time
from pathlib import Path
from migrator import log, server
prof = cProfile.Profile()
start = time.perf_counter()
prof.enable()
try:
    server.migrate(Path(sys.argv[1]), log=log.Collect())
except server.MigrationFailed:
    pass
prof.disable()
wall = time.perf_counter() - start
stats = pstats.Stats(prof).stats
rows = []
for (path, line, func), (_cc, calls, tottime, _cum, _callers) in stats.items():
    where = func if path == "~" else f"{Path(path).name}:{line}({func})"
    rows.append((tottime, calls, where))
rows.sort(reverse=True)
print(json.dumps({"wall": wall, "top": rows[:int(sys.argv[2])]}))
"""


def profile(sizes: Sizes, factory: TreeFactory, scratch: Path, top: int = 12) -> str:
    """Where a reference run over the many-users tree spends its time (cProfile, tottime)."""
    n = sizes.users
    tree = Workload(factory, variants.many_users(n), scratch, "profile").fresh()
    try:
        done, _wall, _rss = python_child(["-c", _PROFILE, str(tree), str(top)])
    finally:
        remove(tree)
    if done.returncode:
        return f"profile failed:\n{done.stderr[-2000:]}"
    found = last_json_line(done.stdout)
    wall = found["wall"]
    lines = [
        f"where the time goes: one reference run over {n:,} users under cProfile "
        f"({wall:.1f} s, {wall * 1000 / n:.1f} ms per user with the profiler's overhead)",
        f"  {'self s':>8} {'share':>6} {'calls':>9} {'per user':>9}  function",
    ]
    for tottime, calls, where in found["top"]:
        lines.append(f"  {tottime:8.2f} {tottime / wall:6.1%} {calls:9,} {calls / n:9.2f}  {where}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 MiB, 200 users, one run each")
    parser.add_argument("--repeat", type=int, help="runs per case (default 3, quick 1)")
    parser.add_argument("--users", type=int, help="users in the many-users tree")
    parser.add_argument("--mib", type=int, help="size of the large user in MiB")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        large_bytes=(args.mib * MIB) if args.mib else base.large_bytes,
        users=args.users or base.users,
        repeat=args.repeat or base.repeat,
    )
    factory = TreeFactory()
    scratch = scratch_dir("mk-bench-migrate-")
    try:
        figures = large_user(sizes, factory, scratch)
        figures += many_users(sizes, factory, scratch)
        print_table(f"migration, median of {sizes.repeat}", figures)
        if not args.no_profile:
            print()
            print(profile(sizes, factory, scratch))
    finally:
        remove(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
