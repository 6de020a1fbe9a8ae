"""The package's import graph has no cycles (every import, also those inside functions), and
every module imports on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("xmsem", "hydra_plugins")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that ``name`` imports anywhere in its file (module or function level)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            # the deepest project module named by the import (a name may be a function)
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
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


def _graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    graph = {}
    for name, path in mods.items():
        # a package's own __init__ importing its submodules is not a cycle with them
        graph[name] = {t for t in imports_of(name, path, known) if not name.startswith(t + ".")}
    return graph


def test_finder_sees_a_cycle_through_a_function_level_import(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    from .registry import get_metric\n")
    assert imports_of("pkg.m", mod, {"pkg.registry", "pkg.m"}) == {"pkg.registry"}


def test_no_import_cycles():
    assert find_cycle(_graph()) is None


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in modules() if n.startswith("xmsem")))
def test_each_module_imports_alone(name):
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True,
                          cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


# --------------------------------------------------------------------------- layer rules
# Each top-level part of the package has a layer; an import may only point to a lower layer
# or sideways within the entry points. alignment <- models/data <- snapshots <- lit <-
# train/analyze/compare (DESIGN.md "Extension points"); runs/launch are file and process
# utilities below everything; analysis sits beside lit and neither imports the other; catalog
# is the torch-free side of the alignment registry (read by config validation, used by alignment).
LAYERS = {
    "alignment": 0, "runs": 0, "launch": 0, "catalog": 0,
    "models": 1, "data": 1,
    "snapshots": 2,
    "config": 3,
    "lit": 4, "analysis": 4,
    "cli": 5,
    "train": 6, "analyze": 6, "compare": 6, "validate": 6, "__main__": 7,
    # the library doors (compare_models, AlignmentCallback, torchmetrics classes): entry points
    "inmemory": 6, "lightning": 6, "metrics": 6,
}  # fmt: skip
NEVER = {("analysis", "lit"), ("lit", "analysis"), ("data", "models"), ("models", "data")}
# Arrows against the layers that exist today (the structural review of issue 19); each is a
# debt to remove, and the test fails when one is gone but still listed, so the list only shrinks.
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_PRIVATE: set[tuple[str, str, str]] = set()


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "xmsem" and len(parts) > 1 else None


def layer_violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) pairs that point up the layers or across a forbidden pair."""
    bad = set()
    for a, targets in graph.items():
        for t in targets:
            pa, pt = _part(a), _part(t)
            if pa is None or pt is None or pa == pt:
                continue
            assert pa in LAYERS and pt in LAYERS, f"give the new part {pa or pt} a layer"
            if (pa, pt) in NEVER or LAYERS[pt] > LAYERS[pa]:
                bad.add((a, t))
    return bad


def private_imports() -> set[tuple[str, str, str]]:
    """(importer, module, name): a private name imported from another top-level part."""
    mods = modules()
    out = set()
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and _part(node.module) and _part(node.module) != _part(name):
                        out.add((name, node.module, alias.name))
    return out


def test_layer_checker_sees_an_upward_arrow():
    graph = {"xmsem.alignment.x": {"xmsem.lit.y"}, "xmsem.lit.y": {"xmsem.alignment.x"},
             "xmsem.analysis.z": {"xmsem.lit.y"}}  # fmt: skip
    assert layer_violations(graph) == {("xmsem.alignment.x", "xmsem.lit.y"),
                                       ("xmsem.analysis.z", "xmsem.lit.y")}  # fmt: skip


def test_imports_follow_the_layers():
    found = layer_violations(_graph())
    assert found - KNOWN_UPWARD == set(), "imports against the layers"
    assert KNOWN_UPWARD - found == set(), "fixed: remove them from KNOWN_UPWARD"


def test_no_private_name_crosses_a_package():
    found = private_imports()
    assert found - KNOWN_PRIVATE == set()
    assert KNOWN_PRIVATE - found == set(), "fixed: remove them from KNOWN_PRIVATE"
