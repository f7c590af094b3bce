"""harness.scenario.parts: a Hypothesis property split into tests that add up to the whole."""

from __future__ import annotations

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from harness.scenario import parts


@pytest.mark.parametrize(("total", "count"), [(12, 4), (25, 5), (6, 5), (7, 3), (3, 3)])
def test_the_parts_examples_add_up_to_the_whole(total: int, count: int) -> None:
    shares = [parts.examples(total, k, count) for k in range(count)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert min(shares) >= 1


def test_a_part_without_an_example_is_refused() -> None:
    with pytest.raises(ValueError):
        parts.examples(2, 0, 3)
    with pytest.raises(ValueError):
        parts.examples(12, 4, 4)


def test_every_part_of_every_seed_searches_from_its_own_seed() -> None:
    seeds = {parts.part_seed(s, k, 4) for s in range(-3, 10) for k in range(4)}
    assert len(seeds) == 13 * 4


def test_ids_name_each_part() -> None:
    assert parts.ids(3) == ["1of3", "2of3", "3of3"]


def test_only_the_first_part_tries_the_simplest_example() -> None:
    numbers = st.integers(0, 1000)
    assert parts.simplest(numbers) == 0
    assert parts.excluding_simplest(numbers, 0) is numbers
    seen: list[int] = []

    @seed(1)
    @settings(max_examples=30, database=None)
    @given(n=parts.excluding_simplest(numbers, 1))
    def collect(n: int) -> None:
        seen.append(n)

    collect()
    assert seen and 0 not in seen
