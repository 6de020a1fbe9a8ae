"""The registered metrics, known without importing torch (config validation reads them here).

A metric registers its :class:`~xmsem.alignment.MetricSpec` in its own module, beside torch
code, when :mod:`xmsem.alignment` is imported. :func:`metric_catalog` answers from that live
registry whenever the package is already imported (it may then hold metrics a plugin
registered). Otherwise it answers from :func:`read_metrics`, which reads every
``MetricSpec(...)`` call in the alignment sources with :mod:`ast` (as ``xmsem.config`` reads
Lightning's Trainer arguments): name, ``default``, ``options`` and ``rank_setting``, so adding a
metric is still its module and its test. A call it cannot read (a computed name, ``**kwargs``)
makes it answer from the live registry instead (imported then: seconds, never a wrong answer);
an option whose check is not one of :mod:`~xmsem.catalog.choices`' (a lambda in the module) is
checked with the live registry's when a config sets it. A test keeps the two views identical.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmsem.catalog import choices
from xmsem.catalog.choices import Option

__all__ = [
    "MetricEntry",
    "StaticOptions",
    "import_registry",
    "live_registry",
    "metric_catalog",
    "read_metrics",
]

ALIGNMENT = Path(__file__).resolve().parents[1] / "alignment"  # the sources read


class StaticOptions(Mapping[str, Option]):
    """A metric's options as read from its source: keyword -> :class:`Option`; a check the
    source defines itself (not one of :mod:`~xmsem.catalog.choices`') comes from the live
    registry when it is asked for."""

    def __init__(self, metric: str, known: Mapping[str, Option | None]) -> None:
        self.metric, self.known = metric, dict(known)

    def __getitem__(self, kw: str) -> Option:
        option = self.known[kw]
        if option is None:  # the check is code of the metric's module: the live registry's
            option = import_registry()[self.metric].options[kw]
        return option

    def __contains__(self, kw: object) -> bool:  # without resolving (and importing) the check
        return kw in self.known

    def __iter__(self) -> Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


@dataclass(frozen=True)
class MetricEntry:
    """What validation needs of one metric (the same attributes as its ``MetricSpec``)."""

    name: str
    default: bool = False
    options: Mapping[str, Option] = field(default_factory=dict)
    rank_setting: str | None = None


def _constants(tree: ast.Module) -> dict[str, Any]:
    """The module's top-level literal constants (e.g. ``METHODS = ("a", "b")``)."""
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    continue
    return found


# the modules that define or re-export the common checks (``..registry`` relatively, in alignment)
_RE_EXPORTERS = (
    "xmsem.alignment.registry",
    "xmsem.alignment",
    "xmsem.catalog",
    "xmsem.catalog.choices",
)


def _common_names(tree: ast.Module) -> set[str]:
    """The common option checks (and ``choice``) the module imports under their own names from
    the registry (which re-exports them) or from this package, and binds nowhere else: only
    these are resolved without the module's own code."""
    imported, bound = set(), set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            ours = (node.level and node.module == "registry") or (
                not node.level and node.module in _RE_EXPORTERS
            )
            for alias in node.names:
                own = ours and alias.asname in (None, alias.name)
                (imported if own else bound).add(alias.asname or alias.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Import)):
            bound |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            bound |= {(a.asname or a.name) for a in getattr(node, "names", [])}
    return (imported - bound) & set(choices.__all__)


def _option(node: ast.expr, constants: Mapping[str, Any], common: set[str]) -> Option | None:
    """The check of ``options={kw: <node>}`` when it is a common one (``POSITIVE_INT``, ...) or
    ``choice(<strings>)``, as the module imported them; None otherwise (the module's own code)."""
    if isinstance(node, ast.Name) and node.id in common:
        known = getattr(choices, node.id)
        return known if isinstance(known, Option) else None
    func = node.func if isinstance(node, ast.Call) else None
    if not (isinstance(func, ast.Name) and func.id == "choice" and "choice" in common):
        return None
    values: list[Any] = []
    for arg in node.args:
        if isinstance(arg, ast.Constant):
            values.append(arg.value)
        elif isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
            values.extend(constants.get(arg.value.id) or [None])
        else:
            return None
    if node.keywords or not all(isinstance(v, str) for v in values):
        return None
    return choices.choice(*values)


def _entry(call: ast.Call, constants: Mapping[str, Any], common: set[str]) -> MetricEntry | None:
    """The entry of one ``MetricSpec(...)`` call; None when its source does not say it plainly."""
    if not call.args or not isinstance(call.args[0], ast.Constant):
        return None
    name, keys = call.args[0].value, {k.arg: k.value for k in call.keywords}
    if not isinstance(name, str) or None in keys:  # a computed name, **kwargs
        return None
    plain: dict[str, Any] = {}
    for key in ("default", "rank_setting"):
        if key in keys:
            if not isinstance(keys[key], ast.Constant):
                return None
            plain[key] = keys[key].value
    options: dict[str, Option | None] = {}
    if "options" in keys:
        node = keys["options"]
        if not isinstance(node, ast.Dict) or not all(
            isinstance(k, ast.Constant) for k in node.keys
        ):
            return None
        options = {
            k.value: _option(v, constants, common)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    return MetricEntry(name, bool(plain.get("default", False)), StaticOptions(name, options),
                       plain.get("rank_setting"))  # fmt: skip


def _source_order(root: Path) -> list[Path]:
    """The alignment modules in the order importing the package registers their metrics: the
    registry's built-ins, the measures (``measures.discover``: sorted), then the others."""
    registry = root / "registry.py"
    measures = sorted((root / "measures").glob("[!_]*.py"))
    rest = sorted(p for p in root.rglob("*.py") if p != registry and p.parent != root / "measures")
    return [registry, *measures, *rest]


@functools.cache
def read_metrics(root: Path = ALIGNMENT) -> dict[str, MetricEntry] | None:
    """Every ``MetricSpec(...)`` call in the sources under ``root``, in registration order;
    None when one of them cannot be read statically (then only the live registry knows)."""
    entries: dict[str, MetricEntry] = {}
    for path in _source_order(root):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return None
        constants, common = _constants(tree), _common_names(tree)
        for node in ast.walk(tree):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Name) and func.id == "MetricSpec":
                entry = _entry(node, constants, common)
                if entry is None:
                    return None
                entries[entry.name] = entry
    return entries


def live_registry() -> Mapping[str, Any] | None:
    """``xmsem.alignment.METRICS`` when the package is imported (None: it is not; importing it
    here would import torch)."""
    live = sys.modules.get("xmsem.alignment")
    return getattr(live, "METRICS", None) if live is not None else None


def import_registry() -> Mapping[str, Any]:
    """``xmsem.alignment.METRICS``, importing the package (and torch) if need be."""
    from xmsem.alignment import METRICS

    return METRICS


def metric_catalog() -> Mapping[str, Any]:
    """The registered metrics by name: the live registry's ``MetricSpec``s when
    :mod:`xmsem.alignment` is imported (it may hold plugins' metrics), else the
    :class:`MetricEntry`s read from the sources, else (a call the reader cannot read) the live
    registry, imported now."""
    live = live_registry()
    if live is not None:
        return live
    static = read_metrics()
    return static if static is not None else import_registry()
