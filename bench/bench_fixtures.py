"""How fast the fixture kit makes trees: prints figures beside their targets, asserts nothing.

    python -m bench.bench_fixtures [--quick]

Every cold measurement runs in a fresh child process (started with ``sys.executable``),
so nothing is cached in memory and the child's peak RSS is its own (``os.wait4``).

- a realistic user DB of 128 MiB built cold, beside a raw SQLite bulk insert of the same
  byte volume (random text, journal_mode=OFF, synchronous=OFF): target ratio <= 2.5;
- a cached copy of that tree: target <= 0.3 s;
- a 10,000-user tree built cold: target <= 30 s;
- peak RSS of the 128 MiB build: target <= 150 MB.

The box may be shared: the load average is printed with the figures, and CPU seconds are
printed beside wall seconds because they suffer less from other people's work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import textwrap

from bench.common import MIB, last_json_line, python_child, remove, scratch_dir

REALISTIC = """
import json, resource, sys, time
from pathlib import Path
from fixtures.content import ContentPlan, make_images, user_rng
from fixtures.datastore import write_datastore
from fixtures.pools import pools_db
from fixtures.sizing import items_for_bytes
t0 = time.perf_counter(); c0 = time.process_time()
pools_db()
items = items_for_bytes(int(sys.argv[2]))
t1 = time.perf_counter(); c1 = time.process_time()
images = tuple(make_images(user_rng(0, "big", "images"), 5))
write_datastore(Path(sys.argv[1]), ContentPlan("bench\\0big", items, images))
t2 = time.perf_counter(); c2 = time.process_time()
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"setup": t1 - t0, "build": t2 - t1, "build_cpu": c2 - c1,
                  "worker_cpu": workers.ru_utime + workers.ru_stime, "items": items}))
"""

RAW = """
import json, random, sqlite3, sys, time
target = int(sys.argv[2])
t0 = time.perf_counter(); c0 = time.process_time()
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = OFF")
conn.execute("PRAGMA synchronous = OFF")
conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
rng = random.Random(1)
conn.execute("BEGIN")
while True:
    rows = [(rng.randbytes(200).hex(),) for _ in range(5000)]
    conn.executemany("INSERT INTO t (body) VALUES (?)", rows)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    if pages * 4096 >= target:
        break
conn.execute("COMMIT")
conn.close()
t1 = time.perf_counter(); c1 = time.process_time()
print(json.dumps({"build": t1 - t0, "build_cpu": c1 - c0}))
"""

TREE = """
import json, sys, time
from pathlib import Path
from fixtures import variants
from fixtures.build import build
spec = variants.many_users(int(sys.argv[2]))
t0 = time.perf_counter()
manifest = build(spec, Path(sys.argv[1]))
t1 = time.perf_counter()
print(json.dumps({"build": t1 - t0, "users": len(manifest.users), "bytes": manifest.total_bytes}))
"""

CACHE_FILL = """
import json, sys, time
from pathlib import Path
from fixtures import variants
from fixtures.factory import TreeFactory
factory = TreeFactory(Path(sys.argv[1]))
spec = variants.large(int(sys.argv[3]))
t0 = time.perf_counter()
factory.make(spec, Path(sys.argv[2]))
t1 = time.perf_counter()
factory.make(spec, Path(sys.argv[2] + "-again"))
t2 = time.perf_counter()
print(json.dumps({"cold": t1 - t0, "copy": t2 - t1}))
"""


def child(code: str, *args: str) -> tuple[dict, float, float]:
    """Run ``code`` in a fresh interpreter; (its JSON line, wall seconds, peak RSS in MB)."""
    done, wall, peak = python_child(["-c", textwrap.dedent(code), *args])
    if done.returncode:
        raise SystemExit(f"benchmark child failed with status {done.returncode}:\n{done.stderr}")
    return last_json_line(done.stdout), wall, peak / MIB


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same figures")
    args = parser.parse_args()
    size = (16 if args.quick else 128) * MIB
    users = 1000 if args.quick else 10_000
    scratch = scratch_dir("mk-bench-")
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        real, _, rss = child(REALISTIC, str(scratch / "real.db"), str(size))
        real_size = (scratch / "real.db").stat().st_size
        raw, _, _ = child(RAW, str(scratch / "raw.db"), str(real_size))
        raw_size = (scratch / "raw.db").stat().st_size
        ratio = real["build"] / raw["build"]
        cpu_ratio = real["build_cpu"] / raw["build_cpu"]
        print(
            f"realistic {real_size / MIB:.0f} MiB DB ({real['items']:,} items): "
            f"{real['build']:.2f} s ({real['build_cpu']:.2f} s CPU "
            f"+ {real['worker_cpu']:.2f} s in the worker process), "
            f"+ {real['setup']:.2f} s pools and sizing"
        )
        print(
            f"raw bulk insert {raw_size / MIB:.0f} MiB: "
            f"{raw['build']:.2f} s ({raw['build_cpu']:.2f} s CPU)"
        )
        print(
            f"ratio realistic/raw: {ratio:.2f} (CPU {cpu_ratio:.2f})  "
            f"target <= 2.5: {verdict(ratio, 2.5)}"
        )
        print(
            f"peak RSS of the {size // MIB} MiB build: {rss:.0f} MB  "
            f"target <= 150: {verdict(rss, 150)}"
        )
        for p in scratch.glob("r*.db*"):
            p.unlink()

        cache, _, cache_rss = child(
            CACHE_FILL, str(scratch / "cache"), str(scratch / "copy"), str(size)
        )
        print(
            f"{size // MIB} MiB tree through the cache: cold {cache['cold']:.2f} s "
            f"(build + manifest, peak RSS {cache_rss:.0f} MB), "
            f"cached copy {cache['copy']:.3f} s  target <= 0.3: {verdict(cache['copy'], 0.3)}"
        )
        shutil.rmtree(scratch / "cache", ignore_errors=True)

        tree, _, tree_rss = child(TREE, str(scratch / "many"), str(users))
        print(
            f"{tree['users']:,}-user tree cold: {tree['build']:.2f} s, "
            f"{tree['bytes'] / MIB:.0f} MiB, peak RSS {tree_rss:.0f} MB  "
            f"target <= 30: {verdict(tree['build'], 30)}"
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        remove(scratch)


if __name__ == "__main__":
    main()
