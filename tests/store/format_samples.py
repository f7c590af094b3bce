"""One value of every JSON format the kit writes, and how each format is written and read.

``golden/`` holds each format's text as the hand-written ``to_dict``/``to_json`` code wrote
it before :mod:`harness.store.codec` replaced them; a deliberate format change rewrites the
file and says so in its commit. The values use every corner the old
code treated specially: defaults, ``None``, non-ASCII text, int keys, nested tuples.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures.build import BuiltUser
from fixtures.cache import manifest_from_json, manifest_to_json
from fixtures.desktop import DesktopManifest
from fixtures.manifest import DbFacts, Manifest, UserManifest
from fixtures.spec import DesktopSpec, TreeSpec, UserSpec, spec_from_json, spec_to_json
from harness.explore.powerloss.judge import Judgement
from harness.explore.results import Case, CaseResult, ExploreReport, Loss
from harness.faults.plan import FaultPlan, Operation
from harness.faults.straceout import SyscallEvent
from harness.faults.trace import Trace, TraceOp
from harness.judge.verdict import Verdict
from harness.report.checklist import ChecklistRun, ScenarioResult
from harness.store.codec import from_data, to_data

GOLDEN = Path(__file__).parent / "golden"


@dataclass(frozen=True)
class Format:
    """A format: a sample value, how the kit writes it and how it reads it back."""

    name: str
    value: Any
    write: Callable[[Any], str]
    read: Callable[[str], Any]


def _verdicts() -> tuple[Verdict, ...]:
    return (
        Verdict("R1", "alice", True, "3 rows", "3 rows"),
        Verdict("R9", None, False, "nothing lost", "1 row lost", "items: 1 missing\nmore"),
    )


def _db(path: str, digest: str | None = "d1") -> DbFacts:
    return DbFacts(path, digest, {"items": 3, "tags": 0}, "ok" if digest else None, True)


def _user_manifest(user_id: str) -> UserManifest:
    return UserManifest(
        user_id=user_id,
        state="legacy",
        digest="abc",
        row_counts={"items": 3},
        images={"f00.png": "f00"},
        files=(f"{user_id}/peek.db", f"{user_id}/images/f00.png"),
        dbs=(_db(f"{user_id}/peek.db"), _db(f"{user_id}/x.db", None)),
        has_users_row=True,
        has_profile_row=False,
        damage=None,
        quirks=("readonly_db",),
        backup_age_days=40,  # an int where a float is declared: must stay "40"
        wal_items=2,
    )


def _manifest() -> Manifest:
    return Manifest(
        spec_json='{"users": []}',
        kit_version="0.1.0",
        users=(_user_manifest("alice"), _user_manifest("zoë")),
        tree_files=("system.db",),
        symlinks={"link": "/elsewhere"},
        system_users=("alice", "zoë"),
        profile_rows=(),
        aged={"alice/peek.db.pre-migration-backup": 40.5},
        epoch=1_700_000_000,
        total_bytes=12345,
    )


def _desktop_manifest() -> DesktopManifest:
    return DesktopManifest(
        spec_json="{}",
        kit_version="0.1.0",
        folders=(_db("default/datastore.sqlite"),),
        profile_rows=("default",),
        has_profiles_db=True,
        files=("default/datastore.sqlite", "profiles.db"),
        epoch=1_700_000_000,
    )


def _tree_spec() -> TreeSpec:
    return TreeSpec(
        users=(
            UserSpec("alice"),
            UserSpec(
                "zoë", state="migrated", items=7, backup_age_days=3.0, quirks=("readonly_dir",)
            ),
            UserSpec("w", wal_share=0.5, target_bytes=65536),
        ),
        seed=7,
        extras=("dot_entries",),
    )


def _trace() -> Trace:
    ops = (
        TraceOp(0, Operation.RENAME, "renameat2", ("/d/a", "/d/b"), 12, 0, ("AT_FDCWD",), event=3),
        TraceOp(1, Operation.WRITE, "write", ("/d/b",), 13, "ENOSPC", (), 0, 4096, 5),
        TraceOp(2, Operation.UNLINK, "os.unlink", ("/d/ü",), 12, None),
    )
    events = (
        SyscallEvent(3, 12, "renameat2", ("AT_FDCWD", '"a"'), 0),
        SyscallEvent(5, 13, "write", ("3</d/b>",), -1, "ENOSPC", None, True),
        SyscallEvent(6, 12, "openat", ("AT_FDCWD",), 3, None, "/d/b"),
    )
    return Trace(ops, events, "/d", {12: "exited with 0", 13: "killed by SIGKILL"}, False)


def _case_result(outcome: str = "broken") -> CaseResult:
    return CaseResult(
        case=Case(4, "EIO", "rename", ("alice/peek.db", "/abs"), "renameat2", "rename#1:EIO"),
        outcome=outcome,
        verdicts=_verdicts(),
        replay="migration-kit explore --case 4:EIO",
        lost=(Loss("alice", {"items": 2}, ("f00.png",), None), Loss("bob", note="gone")),
        fault="landed on #4",
        output="exit status 1\nTraceback…",
        blocks=(("Diff", "a\nb"), ("More", "")),
        seconds=1.5,
    )


def _explore_report() -> ExploreReport:
    return ExploreReport(
        target={"migrator": "py:m:f", "tree": {"users": 2}, "backend": "strace", "effects": []},
        baseline=_verdicts(),
        results=(_case_result(), _case_result("ok")),
        not_explored="fsync: none",
    )


def _checklist() -> ChecklistRun:
    return ChecklistRun(
        migrator="py:migrator:run",
        duration_s=12.34567,
        results=(
            ScenarioResult("scenarios/test_a.py::test_x", "passed", ("dry_run",), (3,)),
            ScenarioResult(
                "scenarios/test_b.py::test_y[ü]",
                "failed",
                ("disk_full", "large"),
                (6,),
                ("R8", "R1"),
                ("alice",),
                42,
                "migration-kit replay …",
                "R8 BROKEN\nfor alice",
            ),
        ),
    )


def formats() -> list[Format]:
    """Every format, written and read the way the kit does it."""
    return [
        Format("checklist", _checklist(), lambda v: v.to_json(), ChecklistRun.from_json),
        Format("manifest", _manifest(), lambda v: v.to_json(), Manifest.from_json),
        Format("manifest_indented", _manifest(), lambda v: v.to_json(indent=2), Manifest.from_json),
        Format("cached_manifest", _manifest(), manifest_to_json, manifest_from_json),
        Format(
            "desktop_manifest",
            _desktop_manifest(),
            lambda v: v.to_json(),
            DesktopManifest.from_json,
        ),
        Format("cached_desktop", _desktop_manifest(), manifest_to_json, manifest_from_json),
        Format("tree_spec", _tree_spec(), spec_to_json, spec_from_json),
        Format(
            "tree_spec_indented", _tree_spec(), lambda v: spec_to_json(v, indent=2), spec_from_json
        ),
        Format(
            "desktop_spec",
            DesktopSpec(profiles_db=True, profile_rows=("dev",)),
            spec_to_json,
            spec_from_json,
        ),
        Format("default_spec", TreeSpec(users=()), spec_to_json, spec_from_json),
        Format("trace", _trace(), lambda v: v.to_json(), Trace.from_json),
        Format(
            "built_user", BuiltUser(_user_manifest("alice"), "alice/b", 3), *_dict_io(BuiltUser)
        ),
        Format(
            "fault_plan", FaultPlan(Operation.RENAME, 3, "EXDEV", "*/p/*"), *_dict_io(FaultPlan)
        ),
        Format("fault_plan_any", FaultPlan(Operation.FSYNC), *_dict_io(FaultPlan)),
        Format("case_result", _case_result(), *_dict_io(CaseResult)),
        Format("explore_report", _explore_report(), lambda v: v.to_json(), ExploreReport.from_json),
        Format(
            "judgement",
            Judgement(_verdicts(), (Loss("a"),), "crashed", "rerun"),
            *_dict_io(Judgement),
        ),
    ]


def _dict_io(cls: Any) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    """Formats the kit writes as ``json.dumps(to_data(x))`` (once ``json.dumps(x.to_dict())``)."""
    return (lambda v: json.dumps(to_data(v))), (lambda text: from_data(cls, json.loads(text)))
