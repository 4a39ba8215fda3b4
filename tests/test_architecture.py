"""The package structure holds: no import cycle between packages, and the layers point one way
(config at the bottom; nothing below the backends knows a backend). Imports inside functions
count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import conveyor

SRC = Path(conveyor.__file__).parent


def _package_of(module: str) -> str:
    """The package a module belongs to; a top-level module (conveyor.errors) is its own node."""
    path = SRC.joinpath(*module.split(".")[1:])
    if path.is_dir():
        return module
    parent = module.rpartition(".")[0]
    return module if parent == "conveyor" else parent


def _imports() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the modules of package that import it."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts if rel.name != "__init__" else rel.parts[:-1])
        package = _package_of(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if not target.startswith("conveyor.") or not _exists(target):
                    continue
                other = _package_of(target)
                if other not in (package, "conveyor"):
                    graph[package][other].add(module)
    return graph


def _exists(module: str) -> bool:
    path = SRC.joinpath(*module.split(".")[1:])
    return path.is_dir() or path.with_suffix(".py").is_file()


def _cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_package_import_cycle():
    graph = _imports()
    cycles = _cycles(graph)
    detail = [f"{a} -> {b} (in {', '.join(sorted(graph[a][b]))})"
              for comp in cycles for a in comp for b in comp if b in graph.get(a, {})]
    assert not cycles, "package import cycles:\n" + "\n".join(detail)


#: What each lower layer may not import (the layers point up: config < deploy < backend < …).
FORBIDDEN = {
    "conveyor.documents": ("conveyor.config", "conveyor.deploy", "conveyor.providers", "conveyor.engine",
                           "conveyor.actions", "conveyor.server", "conveyor.cli", "conveyor.release",
                           "conveyor.backend"),
    "conveyor.config": ("conveyor.deploy", "conveyor.providers", "conveyor.engine", "conveyor.actions",
                        "conveyor.server", "conveyor.cli", "conveyor.release", "conveyor.backend",
                        "conveyor.build", "conveyor.stack"),
    "conveyor.deploy": ("conveyor.providers", "conveyor.engine", "conveyor.actions", "conveyor.server",
                        "conveyor.cli", "conveyor.release", "conveyor.backend"),
    "conveyor.metrics": ("conveyor.config", "conveyor.deploy", "conveyor.engine", "conveyor.server",
                         "conveyor.cli"),
    "conveyor.engine": ("conveyor.server", "conveyor.cli"),
    "conveyor.events": ("conveyor.config", "conveyor.deploy", "conveyor.providers", "conveyor.engine",
                        "conveyor.actions", "conveyor.server", "conveyor.cli", "conveyor.release",
                        "conveyor.backend", "conveyor.notify"),
    "conveyor.notify": ("conveyor.providers", "conveyor.engine", "conveyor.actions", "conveyor.server",
                        "conveyor.cli", "conveyor.release", "conveyor.backend"),
}


def test_layers_point_one_way():
    graph = _imports()
    wrong = []
    for low, banned in FORBIDDEN.items():
        for package, targets in graph.items():
            if package != low and not package.startswith(low + "."):
                continue
            for target, modules in targets.items():
                if any(target == b or target.startswith(b + ".") for b in banned):
                    wrong.append(f"{package} -> {target} (in {', '.join(sorted(modules))})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)
