"""One configuration: ``[tool.migration-kit]`` in the project's ``pyproject.toml``.

A project that gates its deploys on the kit writes its migrator, time limit, report paths and
strictness once, where its other tools' settings already live, instead of repeating them in
every CI job and every ``pytest`` call::

    [tool.migration-kit]
    migrator = "py:myapp.migrate:run"
    timeout = 300
    report = "build/migration-report.md"
    junitxml = "build/migration-junit.xml"
    html = "build/migration-report.html"
    strict-coverage = true
    workers = "auto"
    after-check = "serve:--ready-line 'ready on' -- node server.js"

The file is found as pytest finds its rootdir: the first ``pyproject.toml`` holding the
table, walking up from the current directory. The command line (and pytest's own options)
override it. Relative paths mean the same whatever directory a person runs from: they are
relative to the file's folder. A key the kit does not know, or a value of the wrong type, is
a usage error naming the file and the key, before anything runs: a typo must not silently
leave a CI gate weaker than it reads.

Standard library only (``tomllib``): both the command line and the pytest plugin read it, and
``migration-kit --help`` must stay fast.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from harness.contract.errors import KitError
from harness.contract.settings import FS_PROFILES

PYPROJECT = "pyproject.toml"
TABLE = ("tool", "migration-kit")
TABLE_MARK = b"migration-kit"


class ConfigError(KitError):
    """A ``[tool.migration-kit]`` table the kit cannot use: one line naming file and key."""


Check = Callable[[object, Path], object]


def _text(value: object, root: Path) -> object:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _path(value: object, root: Path) -> object:
    text = _text(value, root)
    return root / Path(str(text)).expanduser()  # an absolute path stays itself


def _flag(value: object, root: Path) -> object:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _workers(value: object, root: Path) -> object:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return str(value)
    raise ValueError('expected a number of workers (0 or more) or "auto"')


def _seconds(value: object, root: Path) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ValueError("expected a number of seconds above 0")


def _fs(value: object, root: Path) -> object:
    if isinstance(value, str) and value.strip() in FS_PROFILES:
        return value.strip()
    raise ValueError(f"expected a persistence profile: {', '.join(FS_PROFILES)}")


def _port(value: object, root: Path) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    raise ValueError("expected a TCP port number (1-65535)")


# Every key the table may hold, as written in the file, and how its value is checked. The
# argparse destination of a command's option is the key with ``-`` as ``_``.
KEYS: Mapping[str, Check] = MappingProxyType(
    {
        "migrator": _text,
        "timeout": _seconds,
        "field-dir": _path,
        "report": _path,
        "junitxml": _path,
        "html": _path,
        "strict-coverage": _flag,
        "workers": _workers,
        "after-check": _text,  # R18: the app run on the migrated tree (a migrator-like spec)
        "ready-line": _text,
        "ready-port": _port,
        "fail-line": _text,
        "layout": _text,  # the target layout's name; stored for the commands that take one
        "fs": _fs,  # explore --power-loss: the persistence profile (which crash states)
    }
)


# Keys that only some commands take from the table, though others have the option: the
# HTML report is the checklist's page, as ``report`` is its Markdown; ``explore --html``
# given the same path would overwrite it in a CI job that runs both (pass it on the
# command line there).
ONLY_FOR: Mapping[str, tuple[str, ...]] = MappingProxyType({"html": ("checklist",)})


@dataclass(frozen=True)
class Config:
    """The checked table (``values`` keyed by argparse destination, ``field_dir`` not
    ``field-dir``) and the file it came from; ``path`` None: no file has the table."""

    path: Path | None = None
    values: Mapping[str, object] = field(default_factory=dict)

    @property
    def root(self) -> Path | None:
        """The project's folder: relative paths and ``py:`` migrators are found from here."""
        return self.path.parent if self.path else None

    def get(self, dest: str, default: object = None) -> object:
        return self.values.get(dest, default)

    def __bool__(self) -> bool:
        return self.path is not None


def dest(key: str) -> str:
    """The argparse destination (and :attr:`Config.values` key) of a file key."""
    return key.replace("-", "_")


def find(start: Path | None = None) -> Path | None:
    """The first ``pyproject.toml`` with a ``[tool.migration-kit]`` table, from ``start``
    (default: the current directory) up to the filesystem's root; None if there is none."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / PYPROJECT
        # A cheap look before parsing: most pyproject.toml files on the way up (a
        # monorepo's, the kit's own) do not mention the kit at all.
        if TABLE_MARK in _read_bytes(candidate) and _table(candidate) is not None:
            return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes() if path.is_file() else b""
    except OSError:
        return b""


def _table(path: Path) -> dict | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    table: object = data
    for name in TABLE:
        if not isinstance(table, dict) or name not in table:
            return None
        table = table[name]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.migration-kit] must be a table")
    return table


def load(start: Path | None = None) -> Config:
    """The configuration that applies from ``start`` (default: here): checked, paths made
    absolute; an empty :class:`Config` when no file has the table."""
    path = find(start)
    return read(path) if path else Config()


def read(path: Path) -> Config:
    """``path``'s ``[tool.migration-kit]`` table, checked; a :class:`ConfigError` naming the
    file and the key at the first key the kit does not know or cannot use."""
    path = path.absolute()
    table = _table(path) or {}
    values: dict[str, object] = {}
    for key, value in table.items():
        check = KEYS.get(key)
        if check is None:
            known = ", ".join(KEYS)
            raise ConfigError(
                f"{path}: [tool.migration-kit] unknown key {key!r} (known keys: {known})"
            )
        try:
            values[dest(key)] = check(value, path.parent)
        except ValueError as exc:
            raise ConfigError(f"{path}: [tool.migration-kit] {key} = {value!r}: {exc}") from None
    return Config(path, MappingProxyType(values))
