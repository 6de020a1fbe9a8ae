"""Metric knowledge lives on the MetricSpec: the snapshot and callback code (xmsem/snapshots,
xmsem/lit) holds no metric name as a string literal (docstrings aside) — it loops over the
specs and reads their flags and hooks (default, shares_frob2, fits_probes, prepare_stack,
rank_setting, rows/rows_at, cost hooks)."""

from __future__ import annotations

import ast
from pathlib import Path

from xmsem.alignment import METRICS

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("xmsem/snapshots", "xmsem/lit")
# (file, name): literals that are not metric logic. The member x member heatmap is a figure of
# linear CKA by choice, a default argument of its function.
ALLOWED = {("xmsem/snapshots/table.py", "linear_cka")}


def metric_names() -> set[str]:
    names = set()
    for spec in METRICS.values():
        names |= {spec.name, spec.summary, *(q.name for q in spec.outputs)}
    return names


def name_literals(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """(line, literal) of every string constant of ``path`` that is one of ``names``,
    docstrings left out."""
    tree = ast.parse(path.read_text())
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docs and node.value in names
    )  # fmt: skip


def test_the_scanner_finds_a_name_in_logic_but_not_in_a_docstring(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text('"""linear_cka"""\ndef f(s):\n    """linear_cka"""\n'
                   '    return "linear_cka" in s.metrics\n')  # fmt: skip
    assert name_literals(mod, {"linear_cka"}) == [(4, "linear_cka")]


def test_no_metric_name_drives_snapshot_or_callback_code():
    names = metric_names()
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            found += [(rel, line, name) for line, name in name_literals(path, names)
                      if (rel, name) not in ALLOWED]  # fmt: skip
    assert found == []
