"""The house's shape as a test: dependencies run downward only, and no module imports itself.

The floors are DESIGN.md's package map, top to bottom. A module may import from its own floor
or below; an arrow that points up (even inside a function, even for type checking) or a cycle
between modules fails here, so a new package has to take a place on the map before it lands.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "voxseal"

#: DESIGN.md's map, top floor first; names are the first component under ``voxseal``
FLOORS: tuple[frozenset[str], ...] = tuple(
    frozenset(floor.split())
    for floor in (
        "cli __main__",
        "app demo",
        "telephony",
        "agent",
        "biometrics",
        "sdk",
        "web dashboard",
        "signaling",
        "gateway",
        "cluster",
        "monitor",
        "compliance",
        "media",
        "vault",
        "privacy",
        "residency",
        "identity",
        "audit",
        "audio",
        "crypto",
        "store",
        "config keyfiles at_rest errors __init__",
    )
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> Iterator[tuple[int, str]]:
    """Every voxseal module ``path`` imports, wherever the import statement sits."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            candidates = [origin, *(f"{origin}.{alias.name}" for alias in node.names)]
        else:
            continue
        resolved = set()
        for candidate in candidates:
            # `from voxseal.a import b` names a module voxseal.a.b or a name in voxseal.a
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate.startswith("voxseal"):
                resolved.add(candidate)
        # `from voxseal.a import b` of module b also loads voxseal.a: count b alone
        for target in sorted(resolved):
            if not any(other.startswith(target + ".") for other in resolved):
                yield node.lineno, target


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: {target for _, target in imported(name, path, known) if target != name}
        for name, path in found.items()
    }


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def floor_of(module: str) -> int:
    for index, floor in enumerate(FLOORS):
        if room(module) in floor:
            return index
    raise AssertionError(f"{module}: package {room(module)!r} has no floor in DESIGN.md's map")


def test_every_package_has_a_floor() -> None:
    for name in modules():
        floor_of(name)


def test_imports_run_downward() -> None:
    upward = []
    known = set(modules())
    for name, path in modules().items():
        for line, target in imported(name, path, known):
            if floor_of(target) < floor_of(name):
                upward.append(f"{path.relative_to(SRC)}:{line} imports {target} (a floor up)")
    assert upward == []


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components: any component with two modules is a cycle."""
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule must be able to fail: a store module importing the signaling layer is caught."""
    fake = tmp_path / "voxseal" / "store" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from voxseal.signaling.rtc import RtcHub\n", encoding="utf-8")
    targets = [t for _, t in imported("voxseal.store.bad", fake, {"voxseal.signaling.rtc"})]
    assert targets == ["voxseal.signaling.rtc"]
    assert floor_of(targets[0]) < floor_of("voxseal.store.bad")


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: "+".join(sorted(f)))
def test_floors_are_disjoint(floor: frozenset[str]) -> None:
    assert sum(1 for other in FLOORS if other & floor) == 1
