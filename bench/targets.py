"""The targets the kit is held to (issue 16), and the one summary ``migration-kit bench`` ends with.

Each section of the suite tags the figure that measures a target with that target's key
(``Figure.goal``); :func:`summary` picks them out of the run's table, in the order below,
and prints each beside its target: the measured median, the target, their ratio (measured /
target: under 1 is inside an upper bound, over 1 beyond a lower one) and "met" or "MISSED".
A target the run did not measure (a section left out, ``--quick``, node missing) still gets
its line, saying "not measured" and why, so the summary always lists every target.
Figures, never assertions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.common import Figure, pipe_table


@dataclass(frozen=True)
class Target:
    """One target: its key (``Figure.goal``), what it says, and how to get it measured."""

    key: str
    text: str
    how: str  # why a run may not have measured it: which option or section measures it


TARGETS: tuple[Target, ...] = (
    Target(
        "large-floor",
        "large user: reference / (cp + fsync + integrity_check) floor <= 1.0x (aim 0.8x)",
        "section 'migrate'",
    ),
    Target("large-rss", "large user: peak RSS of the reference < 64 MB", "section 'migrate'"),
    Target("many-ms", "many users: <= 3 ms per user (10,000 users)", "section 'migrate'"),
    Target(
        "many-node",
        "many users: reference <= 2x the Node seed",
        "section 'migrate' with examples/node/node_modules",
    ),
    Target(
        "explore-rate",
        "exploration: >= 15 cases/s, kill points of the 3-user tree, -n 2",
        "section 'suites' (not in --quick)",
    ),
    Target(
        "explore-30",
        "exploration: exhaustive, 30-user tree, -n 2, < 5 min",
        "--full (or --only explore30)",
    ),
    Target("startup-help", "start-up: migration-kit --help < 0.3 s", "section 'startup'"),
    Target("startup-status", "start-up: migration-kit status DIR < 0.3 s", "section 'startup'"),
    Target(
        "fixture-build",
        "fixture build <= 2.5x a raw SQLite insert of the same bytes",
        "section 'fixtures'",
    ),
)


def summary_lines(table: Sequence[Figure]) -> list[str]:
    """One line per target: text | measured | target | ratio to target | met/MISSED/not measured."""
    by_goal = {f.goal: f for f in table if f.goal}
    rows = [("target", "measured", "bound", "measured/bound", "verdict")]
    for target in TARGETS:
        fig = by_goal.get(target.key)
        if fig is None or fig.median is None or fig.target is None:
            why = (fig.note if fig is not None else "") or f"run {target.how}"
            if not why.startswith("not measured"):
                why = f"not measured: {why}"
            rows.append((target.text, "n/a", "", "", why))
            continue
        verdict = "met" if fig.met else "MISSED"
        ratio = fig.median / fig.target
        note = f" ({fig.note})" if fig.note else ""
        cells = fig.cells()  # (name, median, range, target, met, note)
        rows.append((target.text, cells[1], cells[3], f"{ratio:.2f}", verdict + note))
    return pipe_table(rows)
