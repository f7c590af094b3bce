"""The codec on its own: what it writes, what it reads back, and how it refuses bad data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import pytest

from harness.store.codec import ALWAYS, CodecError, from_data, from_json, to_data, to_json


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Leaf:
    name: str
    colour: Colour = Colour.RED
    size: float = 1.0


@dataclass(frozen=True)
class Tree:
    leaves: tuple[Leaf, ...]
    where: Path
    by_id: Mapping[int, str] = field(default_factory=dict)
    pair: tuple[str, int] | None = None
    tags: list[str] = field(default_factory=list)
    result: int | str | None = None
    version: int = field(default=1, metadata=ALWAYS)


def test_round_trip_of_every_kind_of_field() -> None:
    tree = Tree(
        (Leaf("a"), Leaf("b", Colour.BLUE, 2)),
        Path("/x/ü"),
        {3: "three"},
        ("p", 2),
        ["t"],
        "ENOSPC",
    )
    data = to_data(tree)
    assert data == json.loads(json.dumps(data))  # plain JSON data, keys included
    assert data["by_id"] == {"3": "three"} and data["leaves"][1]["colour"] == "blue"
    again = from_data(Tree, json.loads(json.dumps(data)))
    assert again == tree
    assert isinstance(again.leaves[1].colour, Colour) and isinstance(again.where, Path)
    assert list(again.by_id) == [3] and again.pair == ("p", 2)
    assert from_json(Tree, to_json(tree)) == tree


def test_an_int_stays_an_int_where_a_float_is_declared() -> None:
    """So reading and writing a hand-made file gives back its text (``2``, not ``2.0``)."""
    leaf = from_data(Leaf, {"name": "a", "size": 2})
    assert to_json(leaf) == '{"name": "a", "colour": "red", "size": 2}'


def test_missing_fields_take_their_defaults() -> None:
    """JSON written before a field existed still loads."""
    assert from_data(Tree, {"leaves": [{"name": "a"}], "where": "/x"}) == Tree(
        (Leaf("a"),), Path("/x")
    )


def test_omit_defaults_keeps_required_and_always_fields() -> None:
    tree = Tree((Leaf("a"), Leaf("b", size=3.0)), Path("/x"))
    assert to_data(tree, omit_defaults=True) == {
        "leaves": [{"name": "a"}, {"name": "b", "size": 3.0}],
        "where": "/x",
        "version": 1,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"where": "/x"}, "Tree needs leaves"),
        ({"leaves": [], "where": "/x", "when": 3}, "unknown field(s) when of Tree"),
        ({"leaves": [{"name": 1}], "where": "/x"}, "leaves[0].name: expected str, got 1"),
        ({"leaves": [{"name": "a", "colour": "green"}], "where": "/x"}, "leaves[0].colour: "),
        ({"leaves": [], "where": "/x", "by_id": {"x": "y"}}, "by_id.x: key 'x' is not"),
        ({"leaves": [], "where": "/x", "pair": ["p"]}, "pair: "),
        ({"leaves": [], "where": "/x", "result": 1.5}, "result: 1.5 is none of int | str"),
        ({"leaves": {}, "where": "/x"}, "leaves: expected an array, got an object"),
        ({"leaves": [], "where": "/x", "version": True}, "version: expected int, got True"),
    ],
)
def test_bad_data_is_refused_with_its_path(data: dict, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        from_data(Tree, data)
    assert message in str(caught.value)


def test_a_hint_the_codec_cannot_read_is_a_programming_error() -> None:
    @dataclass(frozen=True)
    class Odd:
        x: set[int]

    with pytest.raises(TypeError, match="cannot read"):
        from_data(Odd, {"x": []})
