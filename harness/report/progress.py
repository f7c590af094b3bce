"""Progress while the kit runs: what runs now, how many are done of how many, the time, the
findings so far.

A hanging migrator used to leave the kit silent for minutes (``rehearse``: three runs of up
to 600 s each), and a person cannot tell a slow run from a stuck one. Every command that
runs migrators reports through :class:`Progress`, on stderr (stdout keeps the report that
scripts read):

- on a terminal, one live line, rewritten in place (``\\r``) every second and cleared at
  the end, so that what is printed after it starts on a clean line;
- otherwise (a CI log, a pipe), plain lines, and not one per case: a line when a run
  starts, then one every :data:`LINE_EVERY_S` seconds or every twentieth of the cases,
  whichever comes first, and one at the end.

Kept free of pytest: the pytest plugin (``harness.pytest_plugin.progress``), ``rehearse``
and ``replay`` all use it.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

LINE_EVERY_S = 10.0  # not a terminal: at most this long between two lines while it runs
LIVE_EVERY_S = 1.0  # a terminal: how often the live line's clock moves
LINES_PER_RUN = 20  # not a terminal: about this many lines for the cases, however many
_CLEAR = "\r\x1b[K"


def elapsed_text(seconds: float) -> str:
    """``42 s``, ``3m05s``, ``1h02m``: short enough for one line."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """The progress of one command: ``total`` steps (cases, scenarios, runs) named ``unit``.

    Call :meth:`start` when a step begins (it names what runs now), :meth:`done` when it
    ends, and :meth:`close` at the end (or use :func:`progress`). Thread-safe: a clock
    thread redraws the line while a step runs, so a hang still shows time passing.
    """

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        unit: str = "cases",
        stream: TextIO | None = None,
        live: bool | None = None,
        line_every_s: float = LINE_EVERY_S,
    ) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_tty(self.stream) if live is None else live
        self.line_every_s = line_every_s
        self.done_count = 0
        self.findings = 0
        self.running: dict[str, None] = {}  # the steps begun and not ended, oldest first
        self._started = time.monotonic()
        self._last_line = float("-inf")
        self._last_count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._clock: threading.Thread | None = None
        self._drawn = False

    # -- what the caller says ----------------------------------------------------------------

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = total

    def start(self, name: str) -> None:
        """Step ``name`` begins: shown at once (a plain line too, when it is a long step)."""
        with self._lock:
            self.running[name] = None
            self._show(force=not self.live and self._few_steps())
        self._ensure_clock()

    def done(self, name: str = "", *, findings: int = 0, counted: bool = True) -> None:
        """Step ``name`` (by default the oldest one running) ended, with ``findings`` new
        findings (failed scenarios, broken rules); ``counted=False``: a step that is not one
        of the ``total`` (the collection before the tests)."""
        with self._lock:
            self.done_count += int(counted)
            self.findings += findings
            if not name and self.running:
                name = next(iter(self.running))
            self.running.pop(name, None)
            self._show(force=self._due_by_count())

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """Write something else (a result on stdout) without it landing in the live line:
        the line is cleared, and drawn again at the next tick."""
        with self._lock:
            if self.live and self._drawn:
                self._write(_CLEAR)
                self._drawn = False
            yield

    def close(self) -> None:
        """Stop the clock; clear the live line, or write the last plain line (once)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._clock is not None:
            self._clock.join()
        with self._lock:
            if self.live:
                if self._drawn:
                    self._write(_CLEAR)
            elif self.done_count != self._last_count:
                self.running.clear()
                self._show(force=True)

    # -- drawing -----------------------------------------------------------------------------

    def line(self) -> str:
        """The progress as one line (no newline)."""
        count = f"{self.done_count}" if self.total is None else f"{self.done_count}/{self.total}"
        parts = [f"{count} {self.unit} done", elapsed_text(time.monotonic() - self._started)]
        parts.append(f"{self.findings} finding{'s' if self.findings != 1 else ''}")
        text = f"{self.what}: " + ", ".join(parts)
        if not self.running:
            return text
        *others, latest = self.running
        more = f" (+{len(others)} more)" if others else ""
        return f"{text}; running {latest}{more}"

    def _few_steps(self) -> bool:
        return self.total is not None and self.total <= LINES_PER_RUN

    def _due_by_count(self) -> bool:
        if self.total is None or self.done_count >= self.total:
            return True
        step = max(1, self.total // LINES_PER_RUN)
        return self.done_count - self._last_count >= step

    def _show(self, *, force: bool) -> None:
        now = time.monotonic()
        if self.live:
            self._write(_CLEAR + self.line()[: _width() - 1])
            self._drawn = True
        elif force or now - self._last_line >= self.line_every_s:
            self._write(self.line() + "\n")
            self._last_count = self.done_count
        else:
            return
        self._last_line = now

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stderr: no progress
            self.stream.write(text)
            self.stream.flush()

    def _ensure_clock(self) -> None:
        if self._clock is None:
            self._clock = threading.Thread(target=self._tick, daemon=True, name="mk-progress")
            self._clock.start()

    def _tick(self) -> None:
        every = LIVE_EVERY_S if self.live else min(self.line_every_s, LIVE_EVERY_S)
        while not self._stop.wait(every):
            with self._lock:
                self._show(force=False)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width() -> int:
    return max(20, shutil.get_terminal_size((100, 24)).columns)


@contextlib.contextmanager
def progress(
    what: str, total: int | None = None, *, unit: str = "cases", stream: TextIO | None = None
) -> Iterator[Progress]:
    """A :class:`Progress` closed at the end, however the block ends."""
    shown = Progress(what, total, unit=unit, stream=stream)
    try:
        yield shown
    finally:
        shown.close()
