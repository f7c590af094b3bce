"""A long Hypothesis property as several tests: parts of one search, for pytest-xdist.

A property with N examples is one test, so pytest-xdist runs it on one worker, however long
it takes, and when it comes last the other workers wait for it. Split into parts, each part
is its own test (a ``part`` parameter) that runs its share of the N examples, and the
workers share the search. What is checked stays the same:

- the parts' examples add up to N (:func:`examples`);
- each part searches from its own seed, derived from the run's (:func:`part_seed`), so a
  seeded run is exactly as reproducible as before and a failing part replays on its own;
- Hypothesis tries the simplest example first in every run: only the first part keeps it
  (:func:`excluding_simplest`), so the other parts do not spend examples repeating it.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import Phase, find, settings
from hypothesis import strategies as st

T = TypeVar("T")


def ids(parts: int) -> list[str]:
    """The parts' test ids: ``1of4`` ... ``4of4``."""
    return [f"{k + 1}of{parts}" for k in range(parts)]


def examples(total: int, part: int, parts: int) -> int:
    """Part ``part``'s share of ``total`` examples (the first parts take the remainder)."""
    if not 0 <= part < parts or total < parts:
        raise ValueError(f"part {part} of {parts} cannot share {total} examples")
    return total // parts + (1 if part < total % parts else 0)


def part_seed(seed: int, part: int, parts: int) -> int:
    """The seed part ``part`` searches from: distinct for every (seed, part)."""
    return seed * parts + part


def simplest(strategy: st.SearchStrategy[T]) -> T:
    """The example Hypothesis tries first: the simplest the strategy can draw."""
    only_the_first = settings(database=None, max_examples=1, phases=(Phase.generate,))
    return find(strategy, lambda _: True, settings=only_the_first)


def excluding_simplest(strategy: st.SearchStrategy[T], part: int) -> st.SearchStrategy[T]:
    """``strategy`` for part ``part``: the first part tries the simplest example, the
    others never draw it."""
    if part == 0:
        return strategy
    first = simplest(strategy)
    return strategy.filter(lambda value: value != first)
