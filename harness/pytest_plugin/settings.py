"""Where the plugin's options take their values when the command line gives none.

In order: the command line; pytest's own ini file (``mk_migrator = ...`` under
``[tool.pytest.ini_options]``, ``pytest.ini``, ...), for the plugin's own options; then the
project's ``[tool.migration-kit]`` table (:mod:`harness.contract.config`), the one the
``migration-kit`` commands read, so ``pytest --pyargs scenarios`` and ``migration-kit
checklist`` judge the same migrator in a project that names it once.

Resolved once, at configure time on the controller, into ``config.option``: everything
that reads an option (the fixtures, the replay commands, pytest-xdist's workers, which get
the controller's options) sees one value.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.contract import config as project_config
from harness.contract import layout
from harness.contract.settings import TIMEOUT_ENV


@dataclass(frozen=True)
class Default:
    """An option (``dest``) that defaults from the ini key ``ini``, then from the project
    table's ``key`` (a :func:`~harness.contract.config.dest` name; "" for none)."""

    dest: str
    ini: str
    help: str
    key: str = ""
    path: bool = False  # a path: relative to the ini file's folder


DEFAULTS: tuple[Default, ...] = (
    Default("mk_migrator", "mk_migrator", "the migrator spec (--migrator)", "migrator"),
    Default("mk_after_check", "mk_after_check", "the app's check (--after-check)", "after_check"),
    Default("mk_field_dir", "mk_field_dir", "field specs' folder (--field-dir)", "field_dir", True),
    Default("mk_seed", "mk_seed", "the trees' seed (--mk-seed)"),
    Default("mk_desktop_migrator", "mk_desktop_migrator", "the desktop migrator spec"),
    Default("mk_effects", "mk_effects", "effects to explore (--effects)"),
    Default("mk_explore_backend", "mk_explore_backend", "syscall or inprocess"),
    Default("mk_html", "mk_html", "the checklist's HTML report (--mk-html)", "", True),
)


TIMEOUT_INI = "mk_timeout"
LAYOUT_INI = "mk_layout"


def add_ini(parser: pytest.Parser) -> None:
    for d in DEFAULTS:
        parser.addini(d.ini, f"migration-kit: {d.help}", default=None)
    parser.addini(TIMEOUT_INI, f"migration-kit: seconds a migrator run may take (${TIMEOUT_ENV})")
    parser.addini(LAYOUT_INI, "migration-kit: the target layout, a name or a file (--mk-layout)")


def apply(config: pytest.Config) -> project_config.Config:
    """Fill in every option of :data:`DEFAULTS` the command line left unset; the project
    table read (empty when there is none). A bad table is pytest's usage error."""
    try:
        project = project_config.load(config.invocation_params.dir)
    except project_config.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    for d in DEFAULTS:
        if getattr(config.option, d.dest, None) is not None:
            continue
        value = config.getini(d.ini) or None
        if value is not None and d.path and config.inipath is not None:
            value = str(config.inipath.parent / Path(value))
        if value is None and d.key and project.get(d.key) is not None:
            value = str(project.get(d.key))
            root = str(project.root)
            if d.key == "migrator" and project.root is not None and root not in sys.path:
                # A py: migrator in the project's folder is found from anywhere below it,
                # as the ``migration-kit`` commands find it.
                sys.path.insert(0, root)
        if value is not None:
            setattr(config.option, d.dest, _typed(d, value))
    _timeout(config, project)
    _layout(config, project)
    return project


def _layout(config: pytest.Config, project: project_config.Config) -> None:
    """The layout travels in the environment, as the timeout does: ``--mk-layout`` sets it;
    else one already set (by ``migration-kit --layout``) stands; else the ini key
    ``mk_layout``, else the project's ``layout`` (a file relative to its pyproject.toml)."""
    value = getattr(config.option, "mk_layout", None)
    base = None
    if not value:
        if os.environ.get(layout.LAYOUT_ENV):
            return
        value = config.getini(LAYOUT_INI) or project.get("layout")
        base = project.root if not config.getini(LAYOUT_INI) else None
    if not value:
        return
    try:
        chosen = layout.load(str(value), base=base)
    except layout.LayoutError as exc:
        raise pytest.UsageError(str(exc)) from None
    os.environ[layout.LAYOUT_ENV] = layout.env_value(chosen)


def _timeout(config: pytest.Config, project: project_config.Config) -> None:
    """The runs' timeout travels in the environment (the workers inherit it); one already
    set (by ``migration-kit --timeout``, or by hand) stands."""
    if os.environ.get(TIMEOUT_ENV):
        return
    text = config.getini(TIMEOUT_INI) or project.get("timeout")
    if not text:
        return
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise pytest.UsageError(f"ini key {TIMEOUT_INI} = {text!r}: expected seconds above 0")
    os.environ[TIMEOUT_ENV] = repr(seconds)


def _typed(d: Default, value: str) -> object:
    if d.dest != "mk_seed":
        return value
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"ini key {d.ini} = {value!r}: expected a whole number") from None
