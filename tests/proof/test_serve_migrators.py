"""``serve:`` migrators through the whole kit: a server whose start-up migrates, then listens.

The reference migrator wrapped as such a server (``tests/run/serve_server.py``) passes the
scenarios, the same migrator with a defect (``tests/broken``) is caught for its rule, and the
Node server example (``examples/node-server``) passes ``migration-kit checklist`` through the
spec scripts use: ``--migrator 'serve:node .../server.js' --ready-line ...``. The Node test
needs ``node`` and ``examples/node-server/node_modules`` and skips without them, unless
``MK_REQUIRE_NODE=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from harness.run.serve import fold_spec
from tests.proof.kitrun import ROOT, run_kit, run_scenarios

pytestmark = pytest.mark.proof

SERVER = ROOT / "tests" / "run" / "serve_server.py"
READY = "listening on"
NODE_EXAMPLE = ROOT / "examples" / "node-server"
NODE_READY = r"\[server\] ready on"
NODE_BACKUP_FAILS = "No database found for user"  # its backup's warning: the app failing
# The scenarios a server's start-up is judged by here; the exhaustive explorations run in CI
# as `migration-kit explore` on the Node server.
SELECT = ("-m", "dry_run or wal or integrity or idempotency or concurrency or skip_migrated")


def _served(target: str) -> str:
    return fold_spec(f"serve:{sys.executable} {SERVER} {target}", {"ready_line": READY}) or ""


def test_the_reference_as_a_server_passes(tmp_path) -> None:
    run = run_scenarios(_served("migrator.server:migrate"), SELECT, tmp_path / "out.json")
    assert run.returncode == 0, run.summary()
    assert run.with_outcome("passed"), run.summary()


def test_a_server_that_loses_wal_rows_is_caught(tmp_path) -> None:
    spec = _served("tests.broken.r1_wal_dropped:migrate")
    run = run_scenarios(spec, ("-m", "wal"), tmp_path / "out.json")
    assert run.returncode == 1, run.summary()
    assert "R1" in run.rules_broken(), run.summary()
    assert run.report["migrator"] == spec  # the options travelled with it


def _node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (NODE_EXAMPLE / "node_modules" / "better-sqlite3").is_dir():
        return (
            "examples/node-server/node_modules is missing: run "
            "`cd examples/node-server && npm_config_nodedir=... npm ci` (see its README)"
        )
    return None


def test_the_node_server_example_passes_the_checklist(tmp_path) -> None:
    missing = _node_missing()
    if missing:
        if os.environ.get("MK_REQUIRE_NODE") == "1":
            pytest.fail(f"MK_REQUIRE_NODE=1 but {missing}")
        pytest.skip(missing)
    argv = ["checklist", "-n", "0"]
    argv += ["--migrator", f"serve:node {NODE_EXAMPLE / 'server.js'}", "--ready-line", NODE_READY]
    argv += [
        "-k",
        "not test_fault_case and not test_power_loss",
        "--report",
        str(tmp_path / "r.md"),
    ]
    done = run_kit(*argv, timeout=1800)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "none fails" in done.stdout


def test_the_node_servers_old_path_backup_is_caught_under_r18(tmp_path) -> None:
    """R18 on the Node server example: started once more on the migrated tree, its daily
    backup finds every user where the new layout puts them; with ``BACKUP_READS_OLD_PATH=1``
    (the Peek server's defect after the seed's migration) it warns "No database found for
    user ..., skipping backup" and serves on (exit 0), as the Peek server does: the check's
    ``--fail-line`` says that warning is the app failing, and it is R18 alone (the migration
    itself is unchanged). Without it a warning is chatter, not a finding."""
    missing = _node_missing()
    if missing:
        if os.environ.get("MK_REQUIRE_NODE") == "1":
            pytest.fail(f"MK_REQUIRE_NODE=1 but {missing}")
        pytest.skip(missing)
    select = ("-m", "after_check or small_db or skip_migrated")
    for name, env in (("correct", ""), ("broken", "env BACKUP_READS_OLD_PATH=1 ")):
        command = f"{env}node {NODE_EXAMPLE / 'server.js'}"
        migrator = fold_spec(f"serve:{command}", {"ready_line": NODE_READY}) or ""
        check = ("--after-check", f"serve:--fail-line {NODE_BACKUP_FAILS!r} -- {command}")
        run = run_scenarios(migrator, (*select, *check), tmp_path / f"{name}.json")
        if name == "correct":
            assert run.returncode == 0, run.summary()
            assert run.with_outcome("passed"), run.summary()
        else:
            assert run.returncode == 1, run.summary()
            assert run.rules_broken() == {"R18"}, run.summary()
            assert "No database found for user" in run.output, run.summary()
