"""The house's layout: no import cycles, no imports hidden in functions of the web tier, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import fxticker

PACKAGE = Path(fxticker.__file__).resolve().parent
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """The fxticker modules path imports, anywhere in it (a function's import counts too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from fxticker.web import cache` needs the submodule; `from fxticker.web import create_app`
            # needs the package's own code. (Every submodule runs its package's __init__ first, so that
            # edge is left out: it would make every package a cycle.)
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                     else node.module for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return found


def test_no_module_imports_itself_back() -> None:
    graph = {name: imported(path) - {name} for name, path in MODULES.items()}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == []


def test_the_web_tier_imports_at_the_top_of_its_modules() -> None:
    """No fxticker import tucked inside a function to dodge a cycle."""
    hidden = []
    for name, path in MODULES.items():
        if not name.startswith("fxticker.web"):
            continue
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                        if module and module.startswith("fxticker"):
                            hidden.append(f"{name}.{function.name}: {module}")
    assert hidden == []


def test_no_module_is_over_400_lines() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_two_modules_or_classes_share_a_name() -> None:
    """A name says which module it is: no two modules (or packages) and no two classes inside fxticker
    share one, so a traceback, an import or a grep never leaves a reader guessing."""
    leaves = [name.rsplit(".", 1)[-1] for name in MODULES if name != "fxticker"]
    classes = [node.name for path in MODULES.values()
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef)]
    assert sorted({n for n in leaves if leaves.count(n) > 1} - {"__main__"}) == []
    assert sorted({n for n in classes if classes.count(n) > 1}) == []


def test_the_top_of_the_package_holds_at_most_eight_modules() -> None:
    """Everything else lives in its layer's package, so that the folders are the map."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top
