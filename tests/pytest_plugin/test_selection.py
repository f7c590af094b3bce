"""Whether ``-k``/``-m`` can select a test before its param ids exist
(:mod:`harness.pytest_plugin.selection`): a word that could fall in an id is tried both
ways; one that cannot is decided by what is known of the function."""

from __future__ import annotations

import pytest
from _pytest.mark.expression import Expression

from harness.pytest_plugin.selection import _could_be_in_id, _satisfiable

WORDS = ("kill", "eio", "open_write", "rename", "power-loss-synced")
NAME = "test_fault_case"


@pytest.mark.parametrize(
    ("atom", "could"),
    [
        ("3-kill", True),
        ("kill", True),
        ("12", True),
        ("ope", True),  # the start of open_write
        ("case[3", True),
        ("[3-kill]", True),
        ("eio]", True),
        ("small_db", False),
        ("test_01_small_db", False),
        ("idempotency", False),
        ("other[3", False),  # not this function's name before the id
        ("kill]x", False),  # nothing follows the id
        ("kill.py", False),
    ],
)
def test_a_word_could_fall_in_an_id_only_if_made_of_id_words(atom: str, could: bool) -> None:
    assert _could_be_in_id(atom, NAME, WORDS) is could


def known(values: dict[str, bool]):
    """Atoms with these values; any other is unknown (could be in an id)."""

    def value(atom: str, **kwargs: object) -> bool | None:
        return values.get(atom)

    return value


@pytest.mark.parametrize(
    ("expr", "values", "satisfiable"),
    [
        ("small_db", {"small_db": False}, False),
        ("kill", {}, True),
        ("not kill", {}, True),
        ("kill and not kill", {}, False),
        ("fault and (kill or eio)", {"fault": True}, True),
        ("fault and (kill or eio)", {"fault": False}, False),
        ("(a and not b) or (b and not a)", {}, True),
        ("small_db or idempotency", {"small_db": False, "idempotency": False}, False),
    ],
)
def test_unknown_words_are_tried_both_ways(
    expr: str, values: dict[str, bool], satisfiable: bool
) -> None:
    assert _satisfiable(Expression.compile(expr), known(values)) is satisfiable


def test_every_real_case_id_is_made_of_the_words_the_scenarios_name() -> None:
    """The guard against a new kind of id: had a word of a real case id been left out of
    the vocabulary, ``-k`` on it would skip the recording and select nothing."""
    from harness.explore.backends import backend_available
    from harness.explore.baseline import baseline
    from harness.explore.exploration import DEFAULT_TREE, Exploration
    from harness.explore.powerloss.baseline import power_baseline
    from harness.explore.powerloss.explorer import PowerLoss
    from harness.pytest_plugin.explore import ID_WORDS
    from harness.run.adapters import DEFAULT_MIGRATOR
    from scenarios.test_power_loss import POWER_ID_WORDS

    if not backend_available("syscall"):
        pytest.skip("the syscall backend (strace) is unavailable")
    exploration = Exploration(migrator=DEFAULT_MIGRATOR, tree=DEFAULT_TREE, effects=None)
    words = tuple(w.lower() for w in ID_WORDS)
    ids = [f"{c.index}-{c.effect}" for c in baseline(exploration).cases()]
    assert ids and [i for i in ids if not _could_be_in_id(i.lower(), NAME, words)] == []
    power = PowerLoss(power_baseline(exploration))
    words += tuple(w.lower() for w in POWER_ID_WORDS)
    ids = [f"{c.index}-{c.operation}-{c.effect}" for c in power.cases()]
    assert ids and [i for i in ids if not _could_be_in_id(i.lower(), NAME, words)] == []


@pytest.mark.parametrize(
    ("keyword", "selects_cases"),
    [("fault_case and kill", True), ("3-kill", True), ("small_db", False)],
)
def test_collection_records_only_for_a_selection_that_reaches_a_case(
    keyword: str, selects_cases: bool, tmp_path
) -> None:
    """End to end, in a child pytest with a cache of its own: the placeholder never shows,
    and the recording is made exactly when a case can be selected."""
    import os
    import subprocess
    from pathlib import Path

    from harness.cli.child_pytest import AUTOLOAD_OFF, pytest_argv

    repo = Path(__file__).resolve().parents[2]
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {"MIGRATION_KIT_CACHE": str(cache), AUTOLOAD_OFF: "1", "PYTHONPATH": str(repo)}
    argv = pytest_argv(["--pyargs", "scenarios.test_faults_explore", "--collect-only", "-q"])
    done = subprocess.run(
        [*argv, "-k", keyword], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert "mk-not-selected" not in done.stdout
    recorded = [p for p in (cache / "explore").glob("*") if p.name != "locks"]
    if selects_cases:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "test_fault_case[" in done.stdout and len(recorded) == 1
    else:
        assert done.returncode == 5, done.stdout + done.stderr  # nothing selected
        assert recorded == []
