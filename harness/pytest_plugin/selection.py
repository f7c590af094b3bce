"""Whether ``-k`` and ``-m`` can select any test of a function before its params exist.

The explorer's tests are one per case, and the cases come from a recording of the migrator
(a fault-free run, traced): parametrizing them records it. Recording at collection for a
run whose ``-k``/``-m`` leave none of those tests selected made ``-k small_db`` wait for
the recording (minutes with a hanging migrator) before the one scenario it asked for.

So a parametrization asks :func:`may_select` first. It evaluates the expressions as pytest
will, on what is already known of every future test of the function (its name, its
module's, its markers), with the one unknown left open: the param id in ``name[ID]``. An
id is made of numbers, ``-``, ``_``, ``+`` and the words in ``id_words`` (effects,
operations, tree names); a ``-k`` word that could fall inside such an id is tried both true
and false. Only when no assignment selects a test is the answer False, so a
selection that could reach a case always records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import pytest
from _pytest.mark import KeywordMatcher
from _pytest.mark.expression import Expression

_ID_TEXT = re.compile(r"[a-z0-9_+\-]*")
_WORD = re.compile(r"[a-z]+")
_MAX_TRIES = 256  # more unknown words than this (never in practice): assume selected
# Marks a param may carry of its own (a skipped "unavailable" case), unknown before the params.
_PARAM_MARKS = frozenset({"skip", "skipif", "xfail"})

Matcher = Callable[..., bool]


def may_select(metafunc: pytest.Metafunc, id_words: Iterable[str]) -> bool:
    """False only if ``-k``/``-m`` select no test of ``metafunc``'s function, whatever its
    param ids (made of ``id_words``, numbers and ``-_+``)."""
    try:
        return _may_select(metafunc, id_words)
    except SyntaxError:  # a bad expression: pytest says so, at the selection
        return True


def _may_select(metafunc: pytest.Metafunc, id_words: Iterable[str]) -> bool:
    config, definition = metafunc.config, metafunc.definition
    keyword = (config.option.keyword or "").lstrip()
    markexpr = config.option.markexpr or ""
    if keyword:
        known = KeywordMatcher.from_item(definition)
        words = tuple(w.lower() for w in id_words)
        name = definition.name.lower()

        def keyword_atom(atom: str, **kwargs: object) -> bool | None:
            if kwargs:
                return None
            if known(atom):
                return True
            return None if _could_be_in_id(atom.lower(), name, words) else False

        if not _satisfiable(Expression.compile(keyword), keyword_atom):
            return False
    if markexpr:
        marks = {mark.name for mark in definition.iter_markers()}

        def mark_atom(atom: str, **kwargs: object) -> bool | None:
            if atom in _PARAM_MARKS or (kwargs and atom in marks):
                return None
            return atom in marks

        if not _satisfiable(Expression.compile(markexpr), mark_atom):
            return False
    return True


def _could_be_in_id(atom: str, name: str, words: tuple[str, ...]) -> bool:
    """Whether ``atom`` could be a substring of ``name[ID]`` that overlaps ``[ID]``."""
    if "[" in atom:
        before, _, atom = atom.partition("[")
        if not name.endswith(before):
            return False
    if "]" in atom:
        atom, _, after = atom.partition("]")
        if after:
            return False
    if not _ID_TEXT.fullmatch(atom):
        return False
    return all(any(run in w for w in words) for run in _WORD.findall(atom))


def _satisfiable(expr: Expression, atom_value: Callable[..., bool | None]) -> bool:
    """Whether some truth values of the unknown atoms (``atom_value`` says None) make
    ``expr`` true: a search that fixes one unknown at a time, in the order evaluated."""
    pending: list[dict[str, bool]] = [{}]
    for _ in range(_MAX_TRIES):
        if not pending:
            return False
        fixed = pending.pop()
        fresh: list[str] = []
        if expr.evaluate(_matcher(atom_value, fixed, fresh)):
            return True
        if fresh:
            pending.append({**fixed, fresh[0]: False})
            pending.append({**fixed, fresh[0]: True})
    return bool(pending)  # unknowns left untried (never in practice): assume it selects


def _matcher(
    atom_value: Callable[..., bool | None], fixed: dict[str, bool], fresh: list[str]
) -> Matcher:
    """An atom's known value, else its value in ``fixed``, else False (noted in ``fresh``)."""

    def matcher(atom: str, /, **kwargs: object) -> bool:
        value = atom_value(atom, **kwargs)
        if value is not None:
            return value
        if atom not in fixed:
            fresh.append(atom)
            return False
        return fixed[atom]

    return matcher
