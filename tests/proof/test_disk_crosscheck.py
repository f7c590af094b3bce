"""The tmpfs model of a full disk and of another file system, cross-checked against real ones.

Checklist item 3 (disk nearly full, R8) and the another-file-system scenario (R12) mount
tmpfs by default. Here the same scenarios run with ``--disk tmpfs``, ``ext4`` and ``xfs``
(loop-mounted images, free space measured by statvfs) on the reference and on the broken
migrators meant for them, and each verdict must be the same on every file system: the
reference passes, the R12 one is reported for R12 everywhere, the R8 one for R8.

One difference is real and pinned, not papered over: xfs (reflink on, mkfs.xfs's default)
shares the blocks of a ``copy_file_range`` copy, so the migrators' copies cost no space and
the big user *fits* on the nearly full xfs; the R8 defect (partial files left after ENOSPC)
then never shows, and the R8 migrator passes there. tests/faults/test_loop_disk.py measures
the cause. A few child runs of ~10 s each: marked ``large`` (``--large``, CI's slow step).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults.mounts import FsKind
from tests.proof.kitrun import run_scenarios
from tests.support.loop import require_loop

pytestmark = [pytest.mark.proof, pytest.mark.large]

SELECT = ("-m", "disk_full or rollback", "-k", "disk_full or another_filesystem")
REFERENCE = "py:migrator.server:migrate"
PASSES = "passes"

# migrator -> the rule it must be reported for on tmpfs (the model), and the file systems
# where its verdict really differs (and what it is there)
CASES = {
    REFERENCE: (PASSES, {}),
    "py:tests.broken.r8_no_space_check:migrate": ("R8", {FsKind.XFS: PASSES}),
    "py:tests.broken.r12_no_exdev_fallback:migrate": ("R12", {}),
}


def verdict(migrator: str, kind: FsKind, tmp_path: Path) -> str:
    """``passes``, or the rules the failed scenarios report broken (sorted, joined)."""
    run = run_scenarios(migrator, (*SELECT, "--disk", str(kind)), tmp_path / f"{kind}.json")
    assert run.report, f"no --checklist-json written\n{run.output[-4000:]}"
    ran = run.with_outcome("passed", "failed", "error")
    assert len(ran) == 2, f"--disk {kind}: expected both scenarios to run\n{run.summary()}"
    if run.returncode == 0:
        return PASSES
    assert not run.with_outcome("error"), run.summary()
    return " ".join(sorted(run.rules_broken())) or run.summary()


@pytest.mark.parametrize("migrator", list(CASES), ids=lambda m: m.split(".")[-1])
def test_every_file_system_gives_the_models_verdict(migrator: str, tmp_path: Path) -> None:
    for kind in (FsKind.EXT4, FsKind.XFS):
        require_loop(kind)
    rule, differs = CASES[migrator]
    found = {kind: verdict(migrator, kind, tmp_path) for kind in FsKind}
    model = found[FsKind.TMPFS]
    assert rule in model.split(), f"on tmpfs: {model!r}, not {rule}"
    assert found == {kind: differs.get(kind, model) for kind in FsKind}
