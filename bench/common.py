"""What every benchmark of the kit shares: samples, medians, targets, the machine, the table.

The machine is shared and noisy (2 cores, a virtual disk whose fsync latency varies 2-10x
from minute to minute), so a single timing says little. Every figure is therefore a list of
samples reported as median and range, and the cases that are compared with each other take
turns (A, B, A, B, ...) so that a slow minute of the disk hits them alike; the *ratios*
are what the targets are about. Benchmarks print; nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIB = 1 << 20


@dataclass
class Figure:
    """One measured quantity: its samples, and the target it is held to (if any).

    ``target`` is an upper bound (every target of the kit is "at most"); ``lower`` turns it
    into a lower bound (a speed-up of at least 1.7x).
    """

    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    target: float | None = None
    lower: bool = False
    note: str = ""
    goal: str = ""  # the key of the issue-16 target it measures (``bench.targets``), if any

    def add(self, value: float) -> None:
        self.samples.append(value)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def met(self) -> bool | None:
        """Whether the median meets the target; None without a target or samples."""
        if self.target is None or self.median is None:
            return None
        return self.median >= self.target if self.lower else self.median <= self.target

    def _fmt(self, value: float) -> str:
        if self.unit == "x":
            return f"{value:.2f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"

    def cells(self) -> tuple[str, ...]:
        """(name, median, range, target, met, note) as printed in the table."""
        if not self.samples:
            return (self.name, "n/a", "", self._target_text(), "", self.note or "not measured")
        low, high = min(self.samples), max(self.samples)
        spread = "" if len(self.samples) == 1 else f"{self._fmt(low)}-{self._fmt(high)}"
        met = {None: "", True: "met", False: "MISSED"}[self.met]
        median = self._fmt(self.median or 0.0)
        if self.met is False and self.target is not None and median == self._fmt(self.target):
            median = f"{self.median:.4f}"  # 1.6996 printed as 1.70 would look like a pass
        return (
            self.name,
            f"{median} {self.unit}",
            spread,
            self._target_text(),
            met,
            self.note,
        )

    def _target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'>=' if self.lower else '<='} {self._fmt(self.target)} {self.unit}"


def ratio(
    name: str, num: Figure, den: Figure, *, target: float | None = None, lower: bool = False
) -> Figure:
    """``num / den`` sample by sample (runs that took turns are paired), as a figure."""
    fig = Figure(name, "x", target=target, lower=lower)
    for a, b in zip(num.samples, den.samples, strict=False):
        if b > 0:
            fig.add(a / b)
    return fig


def against(
    base: str, samples: dict[str, list[float]], *, target: float | None = None
) -> list[Figure]:
    """Cases that took turns, in seconds: ``base`` first, then each other case and its
    ratio to ``base`` (paired run by run, so a slow minute of the disk cancels out)."""
    plain = Figure(base, "s", samples[base])
    figures = [plain]
    for name, values in samples.items():
        if name != base:
            case = Figure(name, "s", values)
            figures += [case, ratio(f"{name} / {base}", case, plain, target=target)]
    return figures


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process reaped so far, grandchildren that
    their parents reaped included: the difference around a run is that run's CPU time,
    which a busy machine inflates far less than its wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def take_turns(cases: dict[str, Callable[[], float]], repeat: int) -> dict[str, list[float]]:
    """Run every case ``repeat`` times, interleaved, each returning its own measurement."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            samples[name].append(case())
    return samples


def print_table(title: str, figures: Sequence[Figure]) -> None:
    """A Markdown table (the README carries it as printed)."""
    print(f"\n{title}\n")
    print(markdown_table(figures))


def markdown_table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table: measure, median, range, target, met, note."""
    header = ("measure", "median", "range", "target", "met?", "note")
    return "\n".join(pipe_table([header, *(f.cells() for f in figures)]))


def pipe_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """``rows`` (the first one the header) as the lines of a Markdown table, columns padded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def child_env() -> dict[str, str]:
    """This environment with the repository first on PYTHONPATH, so that a child process
    (``sys.executable -m ...``) imports this checkout's bench/, fixtures/, harness/."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def python_child(
    args: Sequence[str], *, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run ``sys.executable args...``; (the completed process, wall seconds, peak RSS bytes).

    The peak RSS is the child's own (``os.wait4`` on it), from a fresh interpreter, so that
    nothing the parent imported or cached counts. Stderr goes to a file so that a chatty
    child cannot fill a pipe while stdout is being read.
    """
    full_env = child_env() if env is None else env
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, *args], env=full_env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        errors = err.read()
    wall = time.perf_counter() - start
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, errors)
    return done, wall, usage.ru_maxrss * 1024


def last_json_line(text: str) -> dict:
    """The last line of a child's stdout, parsed: how bench children report figures."""
    return json.loads(text.strip().splitlines()[-1])


def scratch_dir(prefix: str) -> Path:
    """A fresh folder on the disk being measured (the system temp dir's filesystem)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove(path: Path) -> None:
    """Remove a tree the benchmark made, read-only folders (a fixture quirk) included."""

    def unlock(func: Callable[..., object], p: str, _exc: object) -> None:
        os.chmod(os.path.dirname(p), 0o755)
        func(p)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=unlock)


@dataclass(frozen=True)
class Machine:
    """Where the figures come from, as measured (not as advertised)."""

    cores: int
    memory_gib: float
    disk: str
    fsync_ms: float  # median latency of a 4 KiB write + fsync on the scratch disk
    python: str
    load: float

    def describe(self) -> str:
        return (
            f"{self.cores} cores, {self.memory_gib:.0f} GiB RAM, {self.disk}, "
            f"fsync of a 4 KiB write {self.fsync_ms:.1f} ms (median of 50), "
            f"Python {self.python}, load average {self.load:.2f}"
        )


def _disk_of(path: Path) -> str:
    """The filesystem type and device of ``path`` and whether the kernel calls it rotational."""
    st = os.stat(path)
    best = ("?", "?")
    best_len = -1
    with open("/proc/mounts") as mounts:
        for line in mounts:
            dev, mnt, fstype = line.split()[:3]
            if path.as_posix().startswith(mnt) and len(mnt) > best_len:
                try:
                    if os.stat(mnt).st_dev != st.st_dev:
                        continue
                except OSError:
                    continue
                best, best_len = (dev, fstype), len(mnt)
    dev, fstype = best
    kind = "?"
    name = os.path.basename(os.path.realpath(dev))
    for candidate in (name, name.rstrip("0123456789")):
        flag = Path(f"/sys/class/block/{candidate}/queue/rotational")
        if flag.exists():
            kind = "rotational" if flag.read_text().strip() == "1" else "non-rotational"
            break
    virtual = " (virtio)" if name.startswith("vd") else ""
    return f"{fstype} on {dev}{virtual}, kernel says {kind}"


def fsync_latency_ms(where: Path, count: int = 50) -> float:
    """Median ms of writing 4 KiB and fsyncing it: the unit cost of durability here."""
    lat = []
    path = where / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(count):
            os.pwrite(fd, os.urandom(4096), 0)
            start = time.perf_counter()
            os.fsync(fd)
            lat.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(lat) * 1000


def machine(where: Path | None = None) -> Machine:
    """Describe this machine, measuring the disk the benchmarks write to."""
    where = Path(tempfile.gettempdir()) if where is None else where
    with open("/proc/meminfo") as f:
        total_kib = int(f.readline().split()[1])
    return Machine(
        cores=os.cpu_count() or 1,
        memory_gib=total_kib / (1 << 20),
        disk=_disk_of(where),
        fsync_ms=fsync_latency_ms(where),
        python=platform.python_version(),
        load=os.getloadavg()[0],
    )
