"""The layers hold: store ← core ← cli/tui, no import circles, and the core never imports the UI.

Read from the source (every import, also those inside functions), so an import that only runs on
one code path is checked too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = path
    return out


MODULES = _modules("brie")


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for every absolute import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [a.name for a in node.names]))
    return found


def _edges(name: str, path: Path) -> set[str]:
    """The brie modules this module imports; `from pkg import sub` is an edge to pkg.sub alone."""
    out = set()
    for module, names in _imports(path):
        subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
        out.update(subs)
        if module in MODULES and len(subs) < len(names) or (module in MODULES and not names):
            out.add(module)
    out.discard(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def _layer(module: str) -> int:
    if module.startswith("brie.store"):
        return 0
    if module.startswith("brie.cli") or module == "brie.__main__":
        return 2
    return 1


def test_no_import_circle_among_brie_modules():
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    assert _cycles(graph) == []


def test_no_import_from_a_lower_layer_to_a_higher_one():
    upward = [f"{name} imports {target}" for name, path in MODULES.items()
              for target in _edges(name, path) if _layer(target) > _layer(name)]
    assert upward == []


def test_the_core_never_imports_the_ui():
    offenders = []
    for name, path in MODULES.items():
        if _layer(name) == 2:
            continue
        for module, _ in _imports(path):
            if module.split(".")[0] in ("textual", "tui", "textual_plotext") or module.startswith("brie.cli"):
                offenders.append(f"{name} imports {module}")
    assert offenders == []


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for package in ("brie", "tui"):
        for name, path in _modules(package).items():
            for module, names in _imports(path):
                if module.split(".")[0] in ("brie", "tui"):
                    offenders += [f"{name}: from {module} import {n}" for n in names if n.startswith("_")]
    assert offenders == []


def test_the_layer_check_can_fail(tmp_path):
    """The checks above find what they look for: a circle and an upward import, built here."""
    graph = {"brie.a": {"brie.b"}, "brie.b": {"brie.a"}, "brie.c": set()}
    assert _cycles(graph) == [["brie.a", "brie.b"]]
    core = tmp_path / "core.py"
    core.write_text("def f():\n    from brie.cli.common import console\n    import textual\n")
    assert ("brie.cli.common", ["console"]) in _imports(core) and ("textual", []) in _imports(core)


def test_importing_the_core_and_the_cli_loads_no_ui():
    code = ("import sys, brie.cli, brie.judging, brie.training.lifecycle, brie.evals.runner, brie.export.report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout
