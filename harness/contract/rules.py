"""SPEC's contract and correctness rules, shipped with the kit (``rules.md`` beside this file).

The reports name rules by their ids (R1 to R18) and quote their texts; a person reading a
report in any clone or install must find the same words, so the text travels in the package
(package data) rather than as a link to a file outside it. ``migration-kit rules [R8]``
prints it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

RULES_FILE = "rules.md"
_ROW = re.compile(r"^\| (R\d+) \| (.+?) \| (.+?) \|$")


@cache
def text() -> str:
    """The whole shipped text: the migration, the external contract, the rules table."""
    return resources.files(__package__).joinpath(RULES_FILE).read_text(encoding="utf-8")


@cache
def table() -> dict[str, tuple[str, str]]:
    """Each rule of the table: id -> (situation, what a correct migrator leaves), in SPEC's
    words without Markdown's backticks."""
    out = {}
    for line in text().splitlines():
        m = _ROW.match(line.strip())
        if m:
            out[m.group(1)] = (m.group(2).replace("`", ""), m.group(3).replace("`", ""))
    return out


def section(title_start: str) -> str:
    """The section whose ``## `` title starts with ``title_start``, title included."""
    parts = re.split(r"(?m)^(?=## )", text())
    for part in parts:
        if part.startswith(f"## {title_start}"):
            return part.rstrip()
    raise KeyError(title_start)
