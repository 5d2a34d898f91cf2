"""The package's structure: leaf modules without import cycles, a core that imports no plug-in,
and no private name imported across modules. Imports inside functions count too; imports under
``if TYPE_CHECKING:`` do not (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import affectkit

ROOT = Path(affectkit.__file__).parent
CORE = ("affectkit.base", "affectkit.results", "affectkit.labels", "affectkit.registry", "affectkit.metrics",
        "affectkit.params", "affectkit.targets", "affectkit.exceptions", "affectkit._validation")
NOT_FOR_CORE = ("affectkit.analyzers", "affectkit.cli", "affectkit.service", "affectkit.reviews", "affectkit.audio",
                "affectkit.train", "affectkit.calibration", "affectkit.evaluation")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str, path: Path) -> list[tuple[str, str, int]]:
    """(imported module, imported name or '', line) for every import statement that can run."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, "", child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                found.extend((base, a.name, child.lineno) for a in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        for base, name, _ in _imports(module, path):
            for target in (f"{base}.{name}", base):
                if target in mods and target != module:
                    graph[module].add(target)
                    break
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from affectkit.cli import main\n"
        "def f():\n    from affectkit.registry import load\n    from . import labels\n",
        encoding="utf-8",
    )
    found = {(base, name) for base, name, _ in _imports("affectkit.mod", source)}
    assert ("affectkit.registry", "load") in found and ("affectkit", "labels") in found
    assert not any(base == "affectkit.cli" for base, _ in found)
    graph = _graph()
    assert "affectkit.evaluation" in graph["affectkit.cli.main"]  # imported inside the evaluate command only
    assert graph["affectkit"] == {"affectkit._version"}  # the rest is imported lazily, through importlib


def test_no_module_imports_the_package_itself():
    importers = sorted(m for m, deps in _graph().items() if "affectkit" in deps)
    assert importers == [], f"{importers} import the affectkit package (import what you need from its modules)"


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert cycles == [], f"import cycles among affectkit's modules: {cycles}"


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for n in graph.get(m, ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def test_core_imports_no_plugin_cli_service_or_review_module():
    graph = _graph()
    for core in CORE:
        bad = sorted(m for m in _reachable(graph, core) if m.startswith(NOT_FOR_CORE))
        assert bad == [], f"{core} imports (directly or through others) {bad}"


def test_no_private_name_crosses_modules():
    mods = _modules()
    crossing = []
    for module, path in mods.items():
        for base, name, line in _imports(module, path):
            if base.startswith("affectkit") and name.startswith("_") and not name.startswith("__") and base != module:
                crossing.append(f"{path.relative_to(ROOT.parent)}:{line} imports {base}.{name}")
    assert crossing == [], "private names imported across modules:\n" + "\n".join(crossing)
