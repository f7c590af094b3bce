"""GitHub Actions output (``harness.report.ci``): a summary that fits, annotations worst
first, nothing at all outside GitHub Actions."""

from __future__ import annotations

from pathlib import Path

from harness.judge.verdict import Damage, Verdict
from harness.report import ci
from harness.report import findings as fnd


def observation(source: str, verdict: Verdict) -> fnd.Observation:
    return fnd.Observation(
        source, fnd.Source.SCENARIO, (verdict,), replay=f"pytest --pyargs {source}", size=(1, 5)
    )


LEFT = Verdict("R1", "bob", False, "no -wal left", "left: peek.db-wal", damage=Damage.LEFT_OVER,
               place="peek.db-wal")  # fmt: skip
LOST = Verdict("R1", "alice", False, "new DB with the old content", "rows missing: items 3",
               damage=Damage.ROWS_LOST, place="new DB", rows=(("items", 3),))  # fmt: skip
FINDINGS = fnd.fold([observation("s::leftover", LEFT), observation("s::lost", LOST)])

GITHUB = {"GITHUB_ACTIONS": "true"}


def test_annotations_are_the_findings_content_lost_first_escaped() -> None:
    lines = ci.annotations(FINDINGS)
    assert len(lines) == 2
    first, second = lines
    assert first.startswith("::error title=migration-kit finding 1 of 2%3A R1%3A rows lost")
    assert "::1 scenario; 1 user: alice%0Aalice: rows missing: items 3%0A" in first
    assert first.endswith("replay: pytest --pyargs s::lost")
    assert "files left over" in second
    assert all("\n" not in line for line in lines)


def test_at_most_ten_annotations() -> None:
    many = [
        observation(f"s::{n}", Verdict(f"R{n}", "u", False, "x", "y", damage=Damage.LEFT_OVER))
        for n in range(1, 15)
    ]
    found = fnd.fold(many)
    assert len(found) == 14
    lines = ci.annotations(found)
    assert len(lines) == ci.ANNOTATION_LIMIT == 10
    assert "finding 10 of 14" in lines[-1]


def test_summary_opens_with_the_findings_and_is_appended(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    text = ci.summary_markdown("migration-kit checklist", "FAILED: x", FINDINGS, "## Items\n")
    assert ci.write_summary(text, {**GITHUB, "GITHUB_STEP_SUMMARY": str(summary)}) == summary
    written = summary.read_text()
    assert written.startswith("earlier step\n# migration-kit checklist\n\n**FAILED: x**\n\n")
    assert written.index("## 2 distinct findings") < written.index("## Items")


def test_no_summary_outside_github_actions(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    assert ci.write_summary("x", {"GITHUB_STEP_SUMMARY": str(summary)}) is None
    assert ci.write_summary("x", {**GITHUB, "GITHUB_ACTIONS": "false"}) is None
    assert not summary.exists()


def test_a_summary_over_the_limit_is_cut_at_a_line_with_a_note() -> None:
    text = "".join(f"line {n} é\n" for n in range(200_000))  # ~2.4 MB, not all ASCII
    cut = ci.capped_summary(text)
    assert len(cut.encode("utf-8")) <= ci.SUMMARY_LIMIT
    assert cut.startswith("line 0 é\n") and cut.endswith(ci.TRUNCATED)
    assert cut[: -len(ci.TRUNCATED)].splitlines()[-1].endswith("é")  # a whole line
    assert ci.capped_summary("small\n") == "small\n"
