"""The progress reporter (:mod:`harness.report.progress`): plain lines with counts when
stderr is not a terminal, not one per case when there are thousands; a live line that is
cleared at the end on a terminal."""

from __future__ import annotations

import io

from harness.report.progress import Progress, elapsed_text, progress


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_name_the_step_and_count_what_is_done() -> None:
    out = io.StringIO()
    with progress("rehearse", 3, unit="runs", stream=out) as shown:
        shown.start("dry run")
        shown.done("dry run")
        shown.start("run")
        shown.done("run", findings=1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "rehearse: 0/3 runs done, 0 s, 0 findings; running dry run"
    assert "rehearse: 2/3 runs done, 0 s, 1 finding" in lines
    assert "\r" not in out.getvalue()


def test_thousands_of_cases_give_a_few_dozen_lines_not_one_per_case() -> None:
    out = io.StringIO()
    with progress("explore", 5000, stream=out) as shown:
        for n in range(5000):
            shown.start(f"case {n}")
            shown.done(f"case {n}", findings=n % 2)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 30, len(lines)
    assert lines[-1] == "explore: 5000/5000 cases done, 0 s, 2500 findings"


def test_on_a_terminal_one_line_rewritten_then_cleared() -> None:
    out = FakeTty()
    shown = Progress("checklist", 2, unit="scenarios", stream=out)
    assert shown.live
    shown.start("test_small")
    shown.done("test_small")
    shown.close()
    text = out.getvalue()
    assert "\n" not in text
    assert text.endswith("\r\x1b[K")
    assert "checklist: 1/2 scenarios done" in text


def test_elapsed_reads_short() -> None:
    assert [elapsed_text(s) for s in (4.2, 65, 3725)] == ["4 s", "1m05s", "1h02m"]


def test_what_is_printed_aside_does_not_land_in_the_live_line() -> None:
    out = FakeTty()
    shown = Progress("explore", 1, stream=out)
    shown.start("case 3:kill")
    with shown.aside():
        out.write("case 3:kill: ok\n")
    shown.done()
    shown.close()
    text = out.getvalue()
    assert "running case 3:kill\r\x1b[Kcase 3:kill: ok\n" in text
    assert "explore: 1/1 cases done, 0 s, 0 findings\r\x1b[K" in text
