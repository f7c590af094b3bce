"""Every JSON format the kit writes stays byte for byte what it was before the codec.

Other tools parse ``--checklist-json`` and explore reports, fixture manifests and TreeSpec
JSON key caches, and cached baselines hold traces written by older runs: a change in any of
them is a change of contract, never a side effect of refactoring.
"""

from __future__ import annotations

import pytest

from tests.store.format_samples import GOLDEN, Format, formats

# Formats whose writing drops precision on purpose (the checklist rounds its duration).
LOSSY = {"checklist"}


@pytest.mark.parametrize("fmt", formats(), ids=lambda f: f.name)
def test_format_is_written_as_before(fmt: Format) -> None:
    assert fmt.write(fmt.value) == (GOLDEN / f"{fmt.name}.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", formats(), ids=lambda f: f.name)
def test_format_reads_back_what_it_wrote(fmt: Format) -> None:
    golden = (GOLDEN / f"{fmt.name}.json").read_text(encoding="utf-8")
    again = fmt.read(golden)
    assert fmt.write(again) == golden
    if fmt.name not in LOSSY:
        assert again == fmt.value
