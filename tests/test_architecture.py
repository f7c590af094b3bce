"""The house's rules, read off the code's own imports: no cycles, no room importing one above it.

An oracle that shares code with what it judges shares its bugs, so nothing in ``harness/`` or
``fixtures/`` may import the reference migrator; and a layer that imports the one above it
makes every change ripple both ways. Every import counts, including one inside a function:
a lazy import still ties the two modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("migrator", "fixtures", "harness", "scenarios")

# The rooms in the order of the data flow, bottom to top: a room may import the rooms of the
# layers below its own, never one beside it or above it. The reference migrator stands apart:
# it imports nothing of the kit, and nothing in the kit imports it (the command line reaches
# its commands by module name only, never to judge with).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("harness.contract", "harness.store"),
    ("fixtures",),
    ("harness.run", "harness.faults"),
    ("harness.judge",),
    ("harness.report",),
    ("harness.scenario",),
    ("harness.explore", "harness.deploy"),
    ("harness.pytest_plugin",),
    ("scenarios",),
    ("harness.cli",),
)
STANDALONE = "migrator"
LAYER_OF = {room: n for n, rooms in enumerate(LAYERS) for room in rooms}


def may_import(room: str, target: str) -> bool:
    if STANDALONE in (room, target):
        return room == target
    return room == target or LAYER_OF[target] < LAYER_OF[room]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kit_modules() -> dict[str, Path]:
    return {
        module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
    }


def imported_names(path: Path, name: str) -> Iterator[str]:
    """Every module name an import statement of ``path`` names (relative ones resolved)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join([*parts[:keep], *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def kit_imports() -> dict[str, set[str]]:
    """module -> the kit modules it imports (a ``from pkg import mod`` counts as ``pkg.mod``)."""
    modules = kit_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in imported_names(path, name) if t in modules and t != name}
        # ``from pkg import mod`` names both pkg and pkg.mod: keep the most precise.
        graph[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return graph


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "harness" and len(parts) > 1:
        return "harness." + parts[1]
    return parts[0]


def test_every_room_is_in_the_table() -> None:
    """A new room must say where it stands in the data flow before anything may import it."""
    rooms = {room_of(m) for m in kit_modules() if m != "harness"}
    assert rooms <= {*LAYER_OF, STANDALONE}, sorted(rooms - {*LAYER_OF, STANDALONE})


def test_no_room_imports_one_above_it() -> None:
    """Each import goes down the data flow (or stays in its room). Above all, nothing in
    harness/ or fixtures/ imports migrator/: an oracle must not share the code it judges."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in kit_imports().items()
        for target in targets
        if module != "harness" and not may_import(room_of(module), room_of(target))
    )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    """No module imports itself through others: a cycle makes two rooms one room."""
    graph = kit_imports()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", ["harness.contract", "harness.store"])
def test_bottom_rooms_stand_alone(module: str) -> None:
    """The bottom rooms import nothing else of the kit, so every room can use them."""
    outside = sorted(
        f"{m} imports {t}"
        for m, targets in kit_imports().items()
        if room_of(m) == module
        for t in targets
        if room_of(t) != module
    )
    assert not outside, "\n".join(outside)
