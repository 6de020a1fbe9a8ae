"""No function or method in the package is longer than MAX_LINES (def line to last line,
docstring included): long functions hide several jobs, and the structural review of issue 19
split the ones that were."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 80


def long_functions(root: Path, limit: int = MAX_LINES) -> list[tuple[int, str]]:
    """(lines, "path:name") of every function over ``limit`` lines under ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append((lines, f"{path.relative_to(root.parent)}:{node.name}"))
    return sorted(found, reverse=True)


def test_the_checker_counts_a_long_function(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    (pkg / "m.py").write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}\n")
    assert long_functions(pkg) == [(81, "pkg/m.py:long")]
    assert long_functions(pkg, limit=81) == []


def test_no_function_is_longer_than_80_lines():
    assert long_functions(ROOT / "xmsem") == []
