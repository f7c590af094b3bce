"""The code a recording depends on, as one digest: a recording made by other code is stale.

A fault-free run's trace is decided by the migrator's code and by the kit's code that runs
and records it. The kit's part is every ``.py`` file of the packages that do (the runner,
the fault backends and recorder, the explorers): taken from the packages themselves, so a
module added to them counts without anyone keeping a list.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import shlex
from pathlib import Path

import harness.explore
import harness.faults
import harness.run

# The packages whose code shapes a recording: how a migrator runs, how faults are injected
# and traces recorded, and how an exploration records and replays them.
KIT_PACKAGES = (harness.run, harness.faults, harness.explore)


def kit_files() -> list[Path]:
    """Every ``.py`` file of :data:`KIT_PACKAGES`, subpackages included, in a fixed order."""
    return [
        path
        for package in KIT_PACKAGES
        for location in package.__path__
        for path in sorted(Path(location).rglob("*.py"))
    ]


def migrator_files(spec: str) -> list[Path]:
    """The files a migrator spec's code is in, as far as they can be found.

    For ``py:pkg.mod:fn`` every ``.py`` file of the top-level package ``pkg``; for
    ``cmd:...`` every file the command names (relative to the current directory) and the
    files beside it with the same suffix (``migrate.js`` and the ``users.js`` it requires).
    """
    files: list[Path] = []
    kind, _, rest = spec.partition(":")
    if kind == "py":
        top = importlib.util.find_spec(rest.partition(":")[0].split(".")[0])
        locations = list(top.submodule_search_locations or []) if top else []
        if top and top.origin and not locations:
            files.append(Path(top.origin))
        for location in locations:
            files += sorted(Path(location).rglob("*.py"))
    else:
        for word in shlex.split(rest, posix=True):
            path = Path(word)
            if path.is_file():
                files += sorted(p for p in path.parent.glob(f"*{path.suffix}") if p.is_file())
    return files


def _digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def kit_fingerprint() -> str:
    """The digest of :func:`kit_files`: computed once per process (the kit's code does not
    change under a running process)."""
    return _digest(kit_files())


def code_fingerprint(spec: str) -> str:
    """A digest of the code a recording depends on, so a changed migrator is re-recorded.

    The kit's code (:func:`kit_fingerprint`) and the migrator's (:func:`migrator_files`). A
    migrator whose code lives elsewhere is not seen: clear the cache after changing it.
    """
    text = f"{kit_fingerprint()}\n{_digest(migrator_files(spec))}"
    return hashlib.sha256(text.encode()).hexdigest()
