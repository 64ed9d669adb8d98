"""Code versions: a hash of the project modules a stage imports, directly or through others.

Snakemake reruns a job when its parameters change but does not see the Python it imports; each
rule passes the code version of its stage as a parameter, so editing any module the stage's work
imports (at the top of a module or inside a function) reruns exactly the jobs that depend on it,
and editing anything else reruns nothing. Imports are read with ``ast`` (nothing is executed).
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGES = ("invdn", "baselines")  # the project's own packages; everything else is a dependency


def module_file(module: str, root: Path) -> Path | None:
    """The source file of a project module (``invdn.models.haar`` or a package's ``__init__``), or None."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """The project modules one file imports (absolute and relative, at any depth of the file)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in found if m.split(".")[0] in PACKAGES}


def closure(modules: tuple[str, ...], root: str | Path) -> list[Path]:
    """Every project source file ``modules`` import, transitively (their packages' ``__init__`` too), sorted."""
    root = Path(root)
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = module_file(module, root)
        if path is None:
            continue
        seen[module] = path
        todo.extend(_imports(path, module))
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
    return sorted(set(seen.values()))


@lru_cache(maxsize=None)
def code_version(modules: tuple[str, ...], root: str) -> str:
    """12 hex digits of the sha256 over the paths and contents of ``closure(modules)``."""
    h = hashlib.sha256()
    for path in closure(modules, root):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]
