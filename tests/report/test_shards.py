"""Shards: the slices of a selection, and the checks that refuse slices of different runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.contract.errors import ExitStatus
from harness.report.shards import Shard, ShardError, ShardResults, check, digest, parse_shard

IDS = [f"{k}:kill" for k in range(11)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 11, 12])
def test_the_n_slices_partition_the_selection_evenly(n: int) -> None:
    slices = [Shard(k, n).pick(IDS) for k in range(1, n + 1)]
    assert sorted(i for s in slices for i in s) == sorted(IDS)  # each id once
    sizes = [len(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1  # round-robin: no fat job in the matrix


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(ShardError, match="shard") as caught:
        parse_shard(text)
    assert caught.value.exit_status == ExitStatus.USAGE


def test_parse_shard() -> None:
    assert parse_shard(" 2/4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"


def _slices(n: int, ids: list[str] = IDS) -> tuple[list[ShardResults], list[list[str]]]:
    out, ran = [], []
    for k in range(1, n + 1):
        picked = Shard(k, n).pick(ids)
        out.append(
            ShardResults("explore", Shard(k, n), {"migrator": "py:m:f"}, len(ids), digest(ids), {})
        )
        ran.append(picked)
    return out, ran


def test_the_slices_of_one_run_pass() -> None:
    check(*_slices(3))


def _refused(slices: list[ShardResults], ran: list[list[str]], match: str) -> None:
    with pytest.raises(ShardError, match=match) as caught:
        check(slices, ran)
    assert caught.value.exit_status == ExitStatus.USAGE
    assert "\n" not in str(caught.value)


def test_slices_of_different_runs_are_refused() -> None:
    slices, ran = _slices(3)
    other = dataclasses.replace(slices[1], target={"migrator": "cmd:other"})
    _refused([slices[0], other, slices[2]], ran, r"different runs \(they differ in migrator\)")
    kind = dataclasses.replace(slices[1], kind="checklist")
    _refused([slices[0], kind, slices[2]], ran, "a checklist slice and a explore slice")


def test_a_missing_or_doubled_shard_is_refused() -> None:
    slices, ran = _slices(3)
    _refused(slices[:2], ran[:2], "shard 3/3 missing")
    _refused([*slices, slices[0]], [*ran, ran[0]], "shard 1/3 given twice")
    _refused([slices[0], *_slices(2)[0]], ran, "slices of 3 and of 2 shards")


def test_slices_that_selected_different_cases_are_refused() -> None:
    slices, ran = _slices(2)
    recorded_elsewhere = [*IDS[:-1], "99:kill"]
    other = dataclasses.replace(slices[1], selection=digest(recorded_elsewhere))
    _refused([slices[0], other], ran, "selected different cases")


def test_a_case_run_twice_or_not_at_all_is_refused() -> None:
    slices, ran = _slices(2)
    _refused(slices, [ran[0], [*ran[1], ran[0][0]]], "0:kill ran in two slices")
    _refused(slices, [ran[0], ran[1][1:]], "ran 10 of 11 selected")


def test_results_round_trip_and_other_files_are_refused(tmp_path: Path) -> None:
    slices, _ = _slices(2)
    path = tmp_path / "s.json"
    slices[0].write(path)
    assert ShardResults.load(path) == slices[0]
    path.write_text(json.dumps({"results": []}))
    with pytest.raises(ShardError, match="not a shard's results"):
        ShardResults.load(path)
