"""``migration-kit checklist --disk KIND`` reaches the child pytest as ``--disk KIND`` (the
file system the real-disk scenarios mount) and keeps slices on different disks apart."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.cli import checklist
from harness.cli.main import build_parser
from harness.faults.mounts import FsKind

MIGRATOR = SimpleNamespace(spec="py:migrator.server:migrate")


def parse(*argv: str):
    return build_parser().parse_args(["checklist", *argv])


def test_disk_is_passed_to_the_child_and_names_the_slice(tmp_path) -> None:
    args = parse("--disk", "ext4")
    argv = checklist.child_args(args, MIGRATOR, tmp_path / "c.json")
    assert argv[argv.index("--disk") + 1] == "ext4"
    assert checklist.target(args, MIGRATOR)["disk"] == "ext4"


def test_without_disk_the_child_keeps_its_default_and_old_slices_still_merge(tmp_path) -> None:
    args = parse()
    assert "--disk" not in checklist.child_args(args, MIGRATOR, tmp_path / "c.json")
    assert "disk" not in checklist.target(args, MIGRATOR)


def test_the_choices_are_the_backends_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    for kind in FsKind:
        assert parse("--disk", str(kind)).disk == kind
    with pytest.raises(SystemExit):
        parse("--disk", "btrfs")
    assert "invalid choice" in capsys.readouterr().err
