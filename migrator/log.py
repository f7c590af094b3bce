"""Monitoring output: one event per user and step, as text or as JSON lines.

The seed's deploy strategy says "monitor logs for migration errors"; JSON lines make that a
``jq`` filter instead of a regex. Every event has the same keys (user, step, outcome, error)
so a log pipeline need not know the steps.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TextIO

OK = "ok"
SKIPPED = "skipped"
FAILED = "failed"
WOULD = "would"  # dry run: what a real run would do


@dataclass(frozen=True)
class Event:
    user: str | None  # None for run-wide events (lock, summary)
    step: str
    outcome: str
    error: str | None = None
    detail: str | None = None
    dry_run: bool = False


EventSink = Callable[[Event], None]


class TextLog:
    """``U: step: outcome (detail)``; dry-run lines start with ``[DRY RUN]``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        stream = self.stream or sys.stdout
        prefix = "[DRY RUN] " if event.dry_run else ""
        if event.step == "plan" and event.outcome == WOULD:
            line = f"{prefix}would {event.detail}"
        else:
            who = f"{event.user}: " if event.user is not None else ""
            line = f"{prefix}{who}{event.step}: {event.outcome}"
            if event.detail:
                line += f" ({event.detail})"
            if event.error:
                line += f": {event.error}"
        write_line(line, stream)


def write_line(line: str, stream: TextIO) -> None:
    """``print``, except that a user folder name that is not UTF-8 (a str with surrogate
    escapes, ``os.fsdecode``) is written as the bytes it has on disk, as ``ls`` shows it:
    in a strict UTF-8 locale (``en_US.UTF-8``) print would raise and stop the run."""
    try:
        print(line, file=stream, flush=True)
    except UnicodeEncodeError:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            print(line.encode("utf-8", "backslashreplace").decode(), file=stream, flush=True)
            return
        buffer.write(line.encode(stream.encoding or "utf-8", "surrogateescape") + b"\n")
        buffer.flush()


class JsonLog:
    """One JSON object per line: {"user", "step", "outcome", "error", "detail", "dry_run"}."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        stream = self.stream or sys.stdout
        print(json.dumps(asdict(event), sort_keys=False), file=stream, flush=True)


class Collect:
    """Keeps events in a list (tests, and callers that want the log as data)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)


def make(fmt: str, stream: TextIO | None = None) -> EventSink:
    if fmt == "json":
        return JsonLog(stream)
    if fmt == "text":
        return TextLog(stream)
    raise ValueError(f"unknown log format {fmt!r} (text or json)")
