"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) renders it,
its in-page links land on elements it has, and a screenshot is not blank.

Three browser starts in all (a second or two each). Where Chromium is not installed these
tests skip, except with ``MK_REQUIRE_CHROMIUM=1`` (CI, ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from harness.explore.pictures import explore_html
from harness.report.html import checklist_html
from tests.report.html_samples import HOSTILE, checklist_run, explore_report

BROWSER_TIMEOUT = 120  # seconds; a loaded CI machine starts a browser slowly
LOST_RED = (0xC9, 0x30, 0x2C)  # the "content lost" colour of the page's CSS


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("MK_REQUIRE_CHROMIUM") == "1":
            pytest.fail("MK_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    return found


def browse(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``page`` with a private profile in ``tmp``."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp / 'profile'}",
        "--no-first-run",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=True
    )


@pytest.fixture
def explore_page(tmp_path: Path) -> Path:
    page = tmp_path / "explore.html"
    page.write_text(explore_html(explore_report()), encoding="utf-8")
    return page


@pytest.mark.parametrize("which", ["explore", "checklist"])
def test_the_browser_renders_the_findings_and_every_link_lands(which: str, tmp_path: Path) -> None:
    page = tmp_path / f"{which}.html"
    text = explore_html(explore_report()) if which == "explore" else checklist_html(checklist_run())
    page.write_text(text, encoding="utf-8")
    dom = browse(page, tmp_path, "--dump-dom").stdout
    assert "distinct finding" in dom and "R10: rows lost" in dom
    ids = set(re.findall(r'\sid="([^"]+)"', dom))
    links = re.findall(r'\shref="#([^"]*)"', dom)
    assert links and [x for x in links if x not in ids] == []
    # The hostile user's name is text in the browser's DOM, never an element.
    assert "<script" not in dom and "&lt;script&gt;" in dom
    assert HOSTILE.replace("<", "&lt;").replace(">", "&gt;") in dom


def test_a_screenshot_of_the_page_is_not_blank(explore_page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    browse(explore_page, tmp_path, "--window-size=1000,1400", f"--screenshot={shot}")
    width, height, pixels = decode_png(shot.read_bytes())
    assert (width, height) == (1000, 1400)
    colours = set(pixels)
    assert len(colours) > 1, "a blank page"
    assert LOST_RED in colours, "the content-lost colour is nowhere on screen"


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """An 8-bit RGB(A) PNG's width, height and pixels (RGB), by the PNG spec: its IDAT
    chunks inflated, each row's filter undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), f"unexpected PNG: depth {depth}, colour {colour}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, row = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[i] = (row[i] + guess) & 0xFF
        rows.append(bytes(row))
        previous = row
    pixels = [tuple(r[x : x + 3]) for r in rows for x in range(0, stride, bpp)]
    return width, height, pixels
