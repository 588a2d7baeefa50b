"""The house rules that keep nnviz readable, checked on the source itself.

- No import cycle anywhere in ``nnviz/`` (imports at module level and inside
  functions both count; those under ``if TYPE_CHECKING:`` do not run, so
  they do not).
- No module over 600 lines.
- The view modules import no torch: a view draws frozen numpy snapshots and
  never runs torch on the GUI thread (DESIGN.md section 1).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nnviz"
MAX_LINES = 600
VIEW_MODULES = (
    "nnviz.qt.loss_view",
    "nnviz.qt.boundary_view",
    "nnviz.qt.formula_panel",
    "nnviz.qt.network_view",
    "nnviz.qt.graph_view",
    "nnviz.qt.backprop_stepper",
    "nnviz.qt.graph_panel",
    "nnviz.qt.rank_view",
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool):
    """(imported module, line) for every import that runs, wherever it stands."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)  # the body only runs for type checkers
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package upwards
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name, node.lineno, tuple(a.name for a in node.names)
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> nx.DiGraph:
    """nnviz-internal imports: an edge from each module to each one it imports."""
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for name, line, names in _imports(tree, module, path.name == "__init__.py"):
            if not name.startswith("nnviz"):
                continue
            targets = [f"{name}.{n}" for n in names if f"{name}.{n}" in modules]
            if len(targets) < len(names) or not names:  # a plain import, or names of `name`
                targets.append(name)
            for target in targets:
                while target not in modules and "." in target:  # a name inside a module
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != module:
                    graph.add_edge(module, target, line=line)
    return graph


def _describe(graph: nx.DiGraph, cycle: list) -> str:
    steps = [f"{a} (line {graph.edges[a, b]['line']}) -> {b}" for a, b in cycle]
    return "\n    ".join(steps)


def test_the_import_graph_sees_nnviz_imports():
    graph = import_graph()
    assert graph.has_edge("nnviz.core.history", "nnviz.core.smoothing")
    assert graph.has_edge("nnviz.qt.formula_panel", "nnviz.core.formulas")  # from x import mod
    assert graph.number_of_edges() > 50


def test_no_import_cycles():
    graph = import_graph()
    found = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cycle = nx.find_cycle(graph.subgraph(component))
            found.append(
                f"{len(component)} modules import each other: {', '.join(sorted(component))}\n"
                f"  for example:\n    {_describe(graph, cycle)}"
            )
    assert not found, "import cycles in nnviz/:\n" + "\n".join(found)


def test_no_module_is_over_600_lines():
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): " + ", ".join(
        f"{name} ({n})" for name, n in sorted(long.items(), key=lambda kv: -kv[1])
    )


@pytest.mark.parametrize("module", VIEW_MODULES)
def test_view_modules_import_no_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, f"import {module} failed:\n{proc.stderr[-2000:]}"
    if proc.stdout.strip().splitlines()[-1] == "True":
        chain = _torch_chain(module)
        pytest.fail(f"importing {module} imports torch" + (f", through {chain}" if chain else ""))


def _torch_chain(module: str) -> str:
    """A path from ``module`` to a module that imports torch at its top level."""
    graph = import_graph()
    modules = _modules()

    def imports_torch(m: str) -> bool:
        tree = ast.parse(modules[m].read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] == "torch" for a in node.names
            ):
                return True
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
                return True
        return False

    for target in nx.single_source_shortest_path(graph, module).items():
        name, path = target
        if imports_torch(name):
            return " -> ".join(path) + " -> torch"
    return ""
