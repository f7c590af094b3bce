"""The HTML report (``--html``), rendered without a browser: what it says, in what order,
that its links land, and that the tree's names reach it escaped.

(``tests/report/test_html_browser.py`` opens the same pages in headless Chromium.)
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

from harness.explore.pictures import explore_html, steps_of
from harness.explore.results import ExploreReport, Shade, owner_of
from harness.report.html import checklist_html
from tests.report.html_samples import HOSTILE, checklist_run, explore_report


class Page(HTMLParser):
    """The page's element ids, in-page links, tags and text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name == "href" and value:
                self.links.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def dead_links(page: Page) -> list[str]:
    return [h for h in page.links if not h.startswith("#") or h[1:] not in page.ids]


def test_the_explore_page_opens_with_its_findings_content_lost_first() -> None:
    page = explore_html(explore_report())
    text = re.sub(r"<[^>]+>", " ", page)
    assert "2 distinct findings, 1 losing content (content lost first)" in text
    lost, leftover = text.index("R10: rows lost"), text.index("R9: files left over")
    assert lost < leftover < text.index("Timelines")
    assert "migration-kit explore --case 0:kill" in text  # the smallest replay
    assert 'href="#rule-R10"' in page and 'id="rule-R10"' in page  # the rule's text inline


def test_every_in_page_link_lands_and_no_id_repeats() -> None:
    for text in (explore_html(explore_report()), checklist_html(checklist_run())):
        page = Page(text)
        assert page.links, "a page without links proves nothing"
        assert dead_links(page) == []
        assert len(page.ids) == len(set(page.ids))


def test_the_matrix_and_the_timelines_colour_each_case_by_its_outcome() -> None:
    report = explore_report()
    page = explore_html(report)
    assert [r.shade for r in report.results] == [
        Shade.OK,
        Shade.CONTENT_LOST,
        Shade.LEFT_OVER,
        Shade.NOT_JUDGED,
    ]
    for cls, case in (("ok", "0-EIO"), ("lost", "0-kill"), ("left", "2-kill"), ("nj", "3-ENOSPC")):
        assert f'<td class="cell {cls}"><a href="#case-{case}"' in page  # matrix
        assert re.search(rf'<a href="#case-{case}"><circle class="{cls}"', page)  # timeline
    assert page.count('class="timeline-svg"') == 3  # alice, the hostile user, the data dir


def test_a_hostile_user_name_reaches_the_page_escaped() -> None:
    for text in (explore_html(explore_report()), checklist_html(checklist_run())):
        assert "<script" not in text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
        page = Page(text)
        assert "script" not in page.tags
        assert any(HOSTILE in t for t in page.text)  # shown as the text it is


def test_the_checklist_page_has_the_findings_items_and_a_link_to_each_scenario() -> None:
    page = checklist_html(checklist_run())
    text = re.sub(r"<[^>]+>", " ", page)
    assert "1 distinct finding, 1 losing content" in text
    assert text.index("1 distinct finding") < text.index("Checklist items")
    assert 'id="item-11"' in page and 'href="#item-11"' in page
    assert re.search(r'href="#(scenario-[^"]+)"', page)


def test_a_report_without_recorded_steps_draws_the_operations_its_cases_name() -> None:
    old = dataclasses.replace(explore_report(), steps=())
    assert [s.index for s in steps_of(old)] == [0, 2, 3]
    assert 'class="timeline-svg"' in explore_html(old)


def test_steps_travel_in_the_report_json_and_an_empty_list_keeps_the_old_format() -> None:
    report = explore_report()
    assert ExploreReport.from_json(report.to_json()) == report
    assert '"steps"' not in dataclasses.replace(report, steps=()).to_json()


def test_an_operation_belongs_to_the_user_whose_folder_it_touches() -> None:
    assert owner_of(("alice/peek.db",)) == "alice"
    assert owner_of(("system.db", "bob/x")) == "bob"
    assert owner_of(("system.db",)) == ""
    assert owner_of(("backups/alice/1.zip",)) == ""
    assert owner_of(("/dev/shm/tmp/x",)) == ""
    assert owner_of((".",)) == ""


def test_the_templates_are_package_data() -> None:
    """An installed kit (not this checkout) must find its templates, as it finds rules.md."""
    repo = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["*"]
    templates = sorted((repo / "harness" / "report" / "templates").glob("*.html.j2"))
    assert templates
    for t in templates:
        assert any(fnmatch(f"templates/{t.name}", p) for p in patterns), t.name
    assert any(r.startswith("jinja2") for r in pyproject["project"]["dependencies"])


def test_the_page_says_failed_when_strict_coverage_fails_the_run() -> None:
    """Cases not judged and no rule broken: exit 0 by default, 1 under --strict-coverage;
    the page must say what the exit status says (it once said PASSED beside an exit 1)."""
    sample = explore_report()
    lenient = dataclasses.replace(sample, results=sample.results[:1] + sample.results[3:])
    assert "PASSED" in explore_html(lenient)
    strict = explore_html(lenient, lenient.status(strict_coverage=True))
    assert "FAILED: 1 case(s) not judged (--strict-coverage)" in strict
    assert "PASSED" not in strict
