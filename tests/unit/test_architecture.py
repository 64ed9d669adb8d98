"""The shape of the house (docs/architecture.md): no import cycle between modules, invdn never imports
baselines, modules stay small, and command-line and task functions stay short with few parameters."""
from __future__ import annotations

import ast
from pathlib import Path

from invdn.pipeline.codeversion import _imports, module_file

from helpers import REPO

MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 8


def _modules() -> dict[str, Path]:
    out = {}
    for package in ("invdn", "baselines"):
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for target in _imports(path, name):
            while target and target not in modules:  # `from pkg import name`: name is an attribute
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_module_graph_has_no_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found_when_there_is_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_invdn_never_imports_baselines():
    offenders = {m: sorted(d for d in deps if d.startswith("baselines"))
                 for m, deps in _graph().items() if m.startswith("invdn")}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_modules_stay_small():
    sizes = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in _modules().values()}
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_command_line_and_task_functions_are_short_with_few_parameters():
    found = []
    for path in sorted((REPO / "invdn" / "cli").glob("*.py")) + sorted((REPO / "invdn" / "tasks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                lines = node.end_lineno - node.lineno + 1
                params = len(node.args.args) + len(node.args.kwonlyargs)
                if lines > MAX_FUNCTION_LINES or params > MAX_PARAMETERS:
                    found.append(f"{path.name}:{node.name}: {lines} lines, {params} parameters")
    assert found == []


def test_module_file_finds_modules_and_packages():
    assert module_file("invdn.models.haar", REPO).name == "haar.py"
    assert module_file("invdn.models", REPO).name == "__init__.py"
    assert module_file("numpy", REPO) is None
