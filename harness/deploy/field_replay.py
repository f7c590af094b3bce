"""``migration-kit replay``: a field spec rebuilt as a look-alike, the migrator judged on it.

``capture`` turns a real tree into ``FIELD.json`` (a ``TreeSpec``); this module turns it back
into a tree (``fixtures`` builds it, through the build cache) and runs the same judgment as a
rehearsal (``rehearse.judge``). That is how a support ticket becomes a test: drop the file
into a field folder and ``scenarios/test_field.py`` replays it on every CI run.

Where field specs are found, first match wins: an explicit folder (``--field-dir``), the
``MIGRATION_KIT_FIELD_DIR`` environment variable, and the ``scenarios/field/`` folder that
ships with the kit. Every ``*.json`` there is a spec except the ``*.measured.json`` side
files ``capture`` writes beside each one.
"""

from __future__ import annotations

import os
from pathlib import Path

from fixtures.factory import TreeFactory
from fixtures.spec import SpecError, TreeSpec, spec_from_json
from harness.contract.errors import KitError
from harness.contract.settings import FIELD_DIR_ENV
from harness.deploy.capture import MEASURED_SUFFIX
from harness.deploy.rehearse import Rehearsal, again_command, judge, scratch_dir
from harness.run.adapters import Migrator

SHIPPED_FIELD_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "field"


class FieldError(KitError):
    """A field spec that cannot be read or built; the message names the file and the fix."""


def load_field(path: Path | str) -> TreeSpec:
    """Read and validate a field spec (a ``TreeSpec`` as JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FieldError(f"{path}: no such file; pass a FIELD.json written by capture") from None
    except IsADirectoryError:
        raise FieldError(f"{path}: a directory; pass a FIELD.json file") from None
    except PermissionError:
        raise FieldError(
            f"{path}: cannot be read (permission denied); fix its permissions"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FieldError(f"{path}: cannot be read ({exc}); pass a FIELD.json file") from exc
    try:
        spec = spec_from_json(text)
    except SpecError as exc:
        raise FieldError(
            f"{path}: not a valid field spec: {exc}; fix that field (or capture the tree again)"
        ) from exc
    if not isinstance(spec, TreeSpec):
        raise FieldError(
            f"{path}: describes a desktop userData dir, not a server DATA_DIR; replay "
            "takes specs written by 'migration-kit capture'"
        )
    return spec


def field_dir(explicit: Path | str | None = None) -> Path:
    """Where field specs are looked for (see the module docstring)."""
    if explicit:
        return Path(explicit)
    if os.environ.get(FIELD_DIR_ENV):
        return Path(os.environ[FIELD_DIR_ENV])
    return SHIPPED_FIELD_DIR


def field_specs(folder: Path) -> list[Path]:
    """The field specs in ``folder``, sorted (none when the folder does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.glob("*.json") if p.is_file() and not p.name.endswith(MEASURED_SUFFIX)
    )


def replay(
    field: Path | str,
    migrator: Migrator,
    *,
    scratch: Path | None = None,
    keep: bool = False,
    factory: TreeFactory | None = None,
    after_check: Migrator | None = None,
) -> Rehearsal:
    """Build ``field``'s look-alike in scratch space and judge ``migrator`` on it."""
    field = Path(field).absolute()
    spec = load_field(field)
    factory = factory if factory is not None else TreeFactory()
    with scratch_dir(scratch, keep=keep, prefix="mk-replay-") as work:
        tree, _manifest = factory.make(spec, work / "data")
        notes = (f"the look-alike is kept at {tree}",) if keep else ()
        return judge(
            tree,
            migrator,
            subject=f"the look-alike of {field} ({len(spec.users)} users)",
            again=again_command("replay", field, migrator, after_check),
            notes=notes,
            after_check=after_check,
            what="replay",
        )
