"""``[tool.migration-kit]``: one configuration, read by the commands and by the plugin.

The unit tests drive :mod:`harness.contract.config` and :func:`harness.cli.main.configure`
in this process; the end-to-end ones run ``migration-kit checklist`` and pytest as a person
would, in a temporary project whose pyproject.toml names a migrator in its own folder.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli import main as cli
from harness.contract import config
from harness.contract.errors import ExitStatus
from harness.contract.settings import DEFAULT_TIMEOUT
from harness.run.sandbox import ALSO_WRITABLE_ENV
from tests.support.childrun import checklist_argv, run

RECORDING = '''
"""A migrator that does nothing but note that it ran (in this folder's ran.txt)."""
from pathlib import Path


def migrate(data_dir, *, dry_run=False):
    with open(Path(__file__).with_name("ran.txt"), "a") as out:
        out.write(f"dry_run={dry_run}\\n")
'''


def project(tmp_path: Path, table: str, *, name: str = "proj") -> Path:
    """A project folder: a pyproject.toml with ``table`` and the module ``projmig``."""
    root = tmp_path / name
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "theirs"\n\n[tool.migration-kit]\n' + textwrap.dedent(table)
    )
    (root / "projmig.py").write_text(RECORDING)
    return root


# ---------------------------------------------------------------------------------------------
# Reading the table.


def test_found_walking_up_paths_relative_to_the_file(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        """
        migrator = "py:projmig:migrate"
        report = "build/report.md"
        junitxml = "/abs/junit.xml"
        strict-coverage = true
        workers = 2
        timeout = 90
        layout = "per-profile"
        ready-port = 8080
        """,
    )
    found = config.load(root / "sub" / "deeper")
    assert found.path == root / "pyproject.toml" and found.root == root
    assert found.get("migrator") == "py:projmig:migrate"
    assert found.get("report") == root / "build" / "report.md"
    assert found.get("junitxml") == Path("/abs/junit.xml")
    assert found.get("strict_coverage") is True and found.get("workers") == "2"
    assert found.get("timeout") == 90.0 and found.get("layout") == "per-profile"
    assert found.get("ready_port") == 8080


def test_a_pyproject_without_the_table_is_passed_over(tmp_path: Path) -> None:
    outer = project(tmp_path, 'migrator = "py:projmig:migrate"\n')
    inner = outer / "sub"
    # It names the kit, but has no table for it.
    (inner / "pyproject.toml").write_text('[project]\ndependencies = ["migration-kit"]\n')
    assert config.load(inner).path == outer / "pyproject.toml"
    assert not config.load(tmp_path)  # above the project: none


@pytest.mark.parametrize(
    ("table", "names"),
    [
        ('migratr = "py:x:y"\n', "unknown key 'migratr'"),
        ("timeout = -1\n", "timeout = -1: expected a number of seconds above 0"),
        ('strict-coverage = "yes"\n', "strict-coverage = 'yes': expected true or false"),
        ("workers = 1.5\n", "workers = 1.5"),
        ('report = ""\n', "report = ''"),
        ("ready-port = 70000\n", "ready-port = 70000"),
        ('fs = "ext5"\n', "fs = 'ext5': expected a persistence profile"),
        ("[tool.migration-kit.nested]\n", "unknown key 'nested'"),
    ],
)
def test_a_bad_key_or_value_is_one_line_naming_file_and_key(
    tmp_path: Path, table: str, names: str
) -> None:
    root = project(tmp_path, table)
    with pytest.raises(config.ConfigError) as raised:
        config.load(root)
    message = str(raised.value)
    assert message.startswith(f"{root / 'pyproject.toml'}: ") and names in message
    assert "\n" not in message
    assert raised.value.exit_status == ExitStatus.USAGE


def test_not_toml_is_a_usage_error(tmp_path: Path) -> None:
    root = project(tmp_path, "migrator = \n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(root)


# ---------------------------------------------------------------------------------------------
# The commands' defaults: the table, overridden by the command line.


def parsed(argv: list[str], found: config.Config):
    parser = cli.build_parser()
    cli.configure(parser, argv, found)
    return parser.parse_args(argv)


def test_the_command_line_overrides_the_table(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = project(
        tmp_path, 'migrator = "py:projmig:migrate"\nworkers = 3\nreport = "r.md"\nfield-dir = "f"\n'
    )
    found = config.load(root)
    args = parsed(["checklist"], found)
    assert (args.migrator, args.workers, args.report) == ("py:projmig:migrate", "3", root / "r.md")
    assert args.field_dir == root / "f" and args.config_path == root / "pyproject.toml"
    assert str(root) in sys.path  # a py: migrator in the project is importable
    args = parsed(["checklist", "--migrator", "cmd:true", "-n", "0", "--report", "x.md"], found)
    assert (args.migrator, args.workers, args.report) == ("cmd:true", "0", Path("x.md"))
    # explore takes the keys it has options for; rehearse too; other commands never read it.
    assert parsed(["explore"], found).workers == "3"
    assert parsed(["rehearse", "DIR"], found).migrator == "py:projmig:migrate"
    assert not hasattr(parsed(["status", "DIR"], found), "config_path")
    assert parsed(["replay", "F.json"], found).migrator == "py:projmig:migrate"
    strict = config.load(project(tmp_path, "strict-coverage = true\n", name="strict"))
    assert parsed(["checklist"], strict).strict_coverage is True
    assert parsed(["explore", "--no-strict-coverage"], strict).strict_coverage is False


def test_the_html_key_is_the_checklists_page_only(tmp_path: Path, monkeypatch) -> None:
    """``explore --html`` with the checklist's path would overwrite its page in a CI job
    that runs both: the table's ``html`` is the checklist's; explore takes it from its
    command line."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = project(tmp_path, 'html = "build/report.html"\n')
    found = config.load(root)
    assert parsed(["checklist"], found).html == root / "build" / "report.html"
    assert parsed(["explore"], found).html is None
    assert parsed(["explore", "--html", "e.html"], found).html == Path("e.html")


def test_the_power_loss_profile_from_the_table_or_the_command_line(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    found = config.load(project(tmp_path, 'fs = "ext4-ordered"\n'))
    assert parsed(["explore", "--power-loss"], found).fs == "ext4-ordered"
    assert parsed(["explore", "--power-loss", "--fs", "xfs"], found).fs == "xfs"
    assert parsed(["explore"], config.Config()).fs == "posix-minimal"


def test_timeout_from_the_table_or_the_command_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    found = config.load(project(tmp_path, "timeout = 90\n"))
    assert parsed(["checklist"], found).timeout == 90.0
    assert parsed(["rehearse", "DIR", "--timeout", "5"], found).timeout == 5.0
    assert parsed(["checklist"], config.Config()).timeout == DEFAULT_TIMEOUT


def test_a_key_sets_the_option_of_its_name_whatever_its_dest(tmp_path: Path, monkeypatch) -> None:
    """``--ready-line`` (a serve: migrator's option) may keep its value as ``mk_ready_line``."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    found = config.load(project(tmp_path, 'ready-line = "listening"\n'))
    parser = cli.build_parser()  # checklist has --ready-line (a serve: option), dest mk_ready_line
    cli.configure(parser, ["checklist"], found)
    assert parser.parse_args(["checklist"]).mk_ready_line == "listening"


def test_a_value_the_command_refuses_names_file_and_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    found = config.load(project(tmp_path, "workers = 0\n"))
    assert parsed(["checklist"], found).workers == "0"  # 0: no xdist, fine for checklist
    with pytest.raises(config.ConfigError, match=r"pyproject.toml: \[tool.migration-kit\] workers"):
        parsed(["explore"], found)  # explore needs at least one worker


# ---------------------------------------------------------------------------------------------
# End to end.


def test_checklist_needs_no_flags_in_a_configured_project(tmp_path: Path) -> None:
    """The configured migrator, found from a folder below the project, is the one judged;
    the report goes where the table says, relative to the project."""
    root = project(
        tmp_path,
        """
        migrator = "py:projmig:migrate"
        report = "build/checklist.md"
        workers = 0
        """,
    )
    # ran.txt is outside every tree: the sandbox must leave it open (what it notes is the test's)
    env = {**os.environ, ALSO_WRITABLE_ENV: str(root / "ran.txt")}
    (root / "ran.txt").touch()
    done = run(checklist_argv("-m", "dry_run"), cwd=root / "sub" / "deeper", env=env)
    assert done.returncode in (0, 1), done
    assert "dry_run=True" in (root / "ran.txt").read_text(), done
    report = (root / "build" / "checklist.md").read_text()
    assert "- Migrator: `py:projmig:migrate`" in report


# Quick on an empty data dir (the kit's start-up check), slow on a tree with users.
SLOW = """
import os
import time


def migrate(data_dir, *, dry_run=False):
    if any(e.is_dir() for e in os.scandir(data_dir)):
        time.sleep(20)
"""


def test_the_configured_timeout_reaches_the_scenarios(tmp_path: Path) -> None:
    """``timeout`` bounds each migrator run inside the child pytest (through the
    environment); ``--timeout`` on the command line would override it."""
    root = project(tmp_path, 'migrator = "py:slowmig:migrate"\ntimeout = 1\nworkers = 0\n')
    (root / "slowmig.py").write_text(SLOW)
    done = run(checklist_argv("-m", "dry_run", "--report", "r.md"), cwd=root)
    assert done.returncode == 1, done
    assert "did not finish in 1 s" in (root / "r.md").read_text(), done


def test_a_bad_table_stops_the_command_naming_file_and_key(tmp_path: Path) -> None:
    root = project(tmp_path, 'migrator = "py:projmig:migrate"\nstrict_coverage = true\n')
    done = run(checklist_argv("-m", "dry_run"), cwd=root)
    assert done.returncode == 2, done
    assert done.stderr.strip() == (
        f"migration-kit: {root / 'pyproject.toml'}: [tool.migration-kit] unknown key "
        f"'strict_coverage' (known keys: {', '.join(config.KEYS)})"
    )
    assert not (root / "ran.txt").exists()


def pytest_collect(root: Path, *extra: str):
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider"]
    argv += ["--pyargs", "scenarios.test_05_dry_run", "--co", "-q", *extra]
    return run(argv, cwd=root, env=env)


def test_the_plugin_reads_the_table_and_its_ini_keys(tmp_path: Path) -> None:
    """pytest's own ini key beats the table; the table beats the default. A migrator that
    cannot be imported is pytest's usage error naming the spec: which one was read shows."""
    root = project(tmp_path, 'migrator = "py:no_such_table_module:migrate"\n')
    done = pytest_collect(root)
    assert done.returncode == 4 and "no_such_table_module" in done.stderr, done
    with (root / "pyproject.toml").open("a") as out:
        out.write('\n[tool.pytest.ini_options]\nmk_migrator = "py:no_such_ini_module:migrate"\n')
    done = pytest_collect(root)
    assert done.returncode == 4 and "no_such_ini_module" in done.stderr, done
    done = pytest_collect(root, "--migrator", "py:projmig:migrate")
    assert done.returncode == 0, done


def test_the_after_check_key_reaches_every_command_that_judges_a_migration(
    tmp_path: Path, monkeypatch
) -> None:
    """``after-check`` (R18) sets ``--after-check`` of checklist, rehearse and replay."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    found = config.load(project(tmp_path, 'after-check = "serve:node server.js"\n'))
    assert found.get("after_check") == "serve:node server.js"
    for command in (["checklist"], ["rehearse", "DATA"], ["replay", "FIELD.json"]):
        parser = cli.build_parser()
        cli.configure(parser, command, found)
        assert parser.parse_args(command).after_check == "serve:node server.js", command


def test_a_bad_after_check_is_a_usage_error_in_the_plugin(tmp_path: Path) -> None:
    root = project(tmp_path, 'after-check = "node server.js"\n')
    done = pytest_collect(root, "--migrator", "py:projmig:migrate")
    assert done.returncode == 4 and "--after-check" in done.stderr, done
