"""What a run shows in GitHub Actions: a job summary and a few annotations, worst first.

A CI run is read on the pull request, not in a 2,000-line log: GitHub renders the Markdown a
step appends to ``$GITHUB_STEP_SUMMARY`` on the run's page, and the ``::error`` workflow
commands a step prints as annotations on it. Both have limits a big failing run reaches
(a summary over 1 MiB is refused, only the first 10 error annotations of a step are shown),
so the summary is cut at a line with a note saying so, and the annotations are the distinct
findings (``harness.report.findings``), the most severe first (content lost first): one per
root cause, never one per failing scenario.

Plain functions of text and findings, without pytest, so the checklist and the explorations
share them and a test can drive them with a fake summary file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.report import findings as fnd

GITHUB_ENV = "GITHUB_ACTIONS"  # "true" in every GitHub Actions step
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"  # the file a step appends its job summary to
SUMMARY_LIMIT = 1024 * 1024  # bytes GitHub accepts per step summary
ANNOTATION_LIMIT = 10  # error annotations GitHub shows per step
ANNOTATION_EVIDENCE = 4  # differences quoted per annotation
TRUNCATED = (
    "\n\n> **Truncated here**: a GitHub job summary holds at most 1 MiB. The whole report: "
    "`--report FILE.md` (keep it as an artifact) or the job's log.\n"
)


def in_github_actions(env: Mapping[str, str]) -> bool:
    return env.get(GITHUB_ENV) == "true"


def capped_summary(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """``text`` if it fits in ``limit`` bytes (UTF-8), else its first whole lines and a note
    that it was cut, together within ``limit``."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(TRUNCATED.encode("utf-8"))
    head = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    head = head[: head.rfind("\n")] if "\n" in head else head
    return head + TRUNCATED


def write_summary(text: str, env: Mapping[str, str], limit: int = SUMMARY_LIMIT) -> Path | None:
    """Append ``text`` (capped) to ``$GITHUB_STEP_SUMMARY`` in GitHub Actions; the file, or
    None when not in GitHub Actions or no summary file is set. Appended, as GitHub means:
    other steps' (and other commands') summaries in the same step stay."""
    target = env.get(SUMMARY_ENV)
    if not in_github_actions(env) or not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as out:
        out.write(capped_summary(text, limit))
    return path


def summary_markdown(title: str, verdict: str, findings: Sequence[fnd.Finding], body: str) -> str:
    """A job summary: ``title`` and the run's ``verdict`` line, the distinct findings, then
    ``body`` (the rest of the run's report, which the cap cuts first)."""
    lines = [f"# {title}", "", f"**{verdict}**", "", *fnd.markdown_lines(findings)]
    return "\n".join(lines) + ("\n\n" + body.strip() + "\n" if body.strip() else "\n")


def annotations(findings: Sequence[fnd.Finding], limit: int = ANNOTATION_LIMIT) -> list[str]:
    """One ``::error`` workflow command per finding, at most ``limit``, in the fold's order
    (the most severe first): its title, then its counts, evidence and smallest replay."""
    out = []
    for n, f in enumerate(findings[:limit], 1):
        o, facts = f.smallest
        lines = [f.counts(), *fnd.capped(fnd.evidence(facts), ANNOTATION_EVIDENCE)]
        if o.replay:
            lines.append(f"replay: {o.replay}")
        title = f"migration-kit finding {n} of {len(findings)}: {f.title()}"
        out.append(f"::error title={_property(title)}::{_data(chr(10).join(lines))}")
    return out


def _data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A workflow command's property value (``title=``): also ``:`` and ``,`` escaped."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
