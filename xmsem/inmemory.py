"""Alignment of two in-memory models over a data loader: :func:`compare_models`.

For researchers with their own models and data: no run folder, no config, no training loop.
Batches are streamed through both models (eval mode, ``no_grad``, each model on its own device);
the named layers are taken as in a ``_target_`` member (:mod:`xmsem.snapshots.hidden`) and
gathered, flattened, as float32 on ``device``; then every requested metric is computed for every
(layer of A, layer of B) with the same registry and snapshot code as ``xmsem.train``
(:func:`xmsem.snapshots.measure.pair_rows`), so the numbers equal a run's to rounding.

Memory: the gathered representations take ``4 n sum(d)`` bytes (2,000 examples of a
12,544-wide layer: 100 MB); ``max_examples`` caps n. The per-layer work is on the cheaper side
(``n x n`` when a layer is wider than n, :mod:`xmsem.alignment.prepared`).

Probe transfer needs labels: when the loader yields ``(inputs, labels)`` its first half of the
examples fits the probes and maps, the second half scores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from xmsem.snapshots.hidden import LayerReader, batch_inputs

__all__ = ["Comparison", "compare_models", "COMPARE_METRICS"]

#: the metrics :func:`compare_models` computes (registry names); probe_transfer needs labels
COMPARE_METRICS = (
    "linear_cka",
    "linear_cka_debiased",
    "rbf_cka",
    "rbf_cka_debiased",
    "subspace_overlap",
    "cca_r2",
    "procrustes",
    "probe_transfer",
)


@dataclass
class Comparison:
    """The result of :func:`compare_models`.

    ``rows``: one dict per number, ``{member_a, member_b, layer_a, layer_b, metric, value}``
    (probe transfer in both directions: ``member_a`` is the model whose probe reads the other's
    mapped features); ``n``: the number of examples compared."""

    names: tuple[str, str]
    layers_a: list[str]
    layers_b: list[str]
    n: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        """Metric names present in the rows, in first-seen order."""
        return list(dict.fromkeys(str(r["metric"]) for r in self.rows))

    def matrix(self, metric: str = "linear_cka") -> np.ndarray:
        """``(len(layers_a), len(layers_b))`` values of ``metric`` for model A's row layers
        against model B's column layers (rows with member_a = A); NaN where not measured."""
        if metric not in self.metrics:
            raise KeyError(f"metric {metric!r} not in this comparison; present: {self.metrics}")
        ia = {name: i for i, name in enumerate(self.layers_a)}
        ib = {name: j for j, name in enumerate(self.layers_b)}
        out = np.full((len(self.layers_a), len(self.layers_b)), np.nan)
        for r in self.rows:
            if r["metric"] == metric and r["member_a"] == self.names[0]:
                out[ia[r["layer_a"]], ib[r["layer_b"]]] = r["value"]
        return out

    @property
    def matrices(self) -> dict[str, np.ndarray]:
        """``{metric: matrix(metric)}`` for every metric in the rows."""
        return {m: self.matrix(m) for m in self.metrics}

    def plot(self, metric: str = "linear_cka", path: str | Path | None = None):
        """An annotated heatmap of :meth:`matrix` (a matplotlib Figure); with ``path`` also saved
        as PNG and PDF (the figure is then closed)."""
        from xmsem.alignment import quantity
        from xmsem.analysis.plots import heatmap_figure, save_figure

        a, b = self.names
        title = f"{quantity(metric).label}: {a} (rows) x {b} (columns), n={self.n}"
        fig = heatmap_figure(self.matrix(metric), self.layers_a, title, col_labels=self.layers_b)
        if path is not None:
            save_figure(fig, path)
        return fig

    def __repr__(self) -> str:
        head = f"Comparison({self.names[0]} x {self.names[1]}, n={self.n}, metrics={self.metrics})"
        return head


def _gather(
    loader: Iterable, readers: Sequence[LayerReader], device: torch.device, max_examples: int | None
) -> tuple[list[dict[str, Tensor]], Tensor | None, int]:
    """Stream ``loader`` through every reader: per reader ``{layer: (n, d)}`` float32 on
    ``device``, the labels (None when a batch had none) and n."""
    parts: list[dict[str, list[Tensor]]] = [{name: [] for name in r.layers} for r in readers]
    labels: list[Tensor] | None = []
    n = 0
    for batch in loader:
        x, y = batch_inputs(batch)
        if max_examples is not None:
            x = x[: max_examples - n]
            y = None if y is None else y[: max_examples - n]
        if len(x) == 0:
            break
        for reader, store in zip(readers, parts, strict=True):
            for name, h in reader(x).items():
                store[name].append(h.to(device, torch.float32))
        if labels is not None and y is not None:
            labels.append(y.to(device))
        else:
            labels = None
        n += len(x)
        if max_examples is not None and n >= max_examples:
            break
    if n == 0:
        raise ValueError("compare_models: the loader yielded no examples")
    reps = [{name: torch.cat(chunks) for name, chunks in store.items()} for store in parts]
    return reps, (torch.cat(labels) if labels else None), n


def compare_models(
    model_a: nn.Module,
    model_b: nn.Module,
    loader: Iterable,
    layers_a: Sequence[str],
    layers_b: Sequence[str],
    metrics: Sequence[str] = ("linear_cka",),
    names: tuple[str, str] = ("a", "b"),
    max_examples: int | None = None,
    device: torch.device | str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Comparison:
    """Compare the named layers of two in-memory models on the batches of ``loader``.

    ``loader``: any iterable of batches (a DataLoader, a list of tensors): tensors, or
    ``(inputs, labels, ...)`` tuples. ``layers_a`` / ``layers_b``: module names of each model
    (``dict(model.named_modules())`` keys, e.g. ``"layer3"`` or ``"features.4"``); each layer's
    output is flattened to ``(n, d)``. ``metrics``: names from :data:`COMPARE_METRICS` (the
    registry's, :data:`xmsem.alignment.METRICS`), each computed for every pair of layers.
    ``device``: where the gathered representations live and the metrics run (default: model A's
    device). ``settings``: measurement settings (``subspace_k``, ``rbf_threshold``, ``normalize``,
    ... as in ``callbacks.representations``). Returns a :class:`Comparison`.
    """
    from xmsem.alignment import METRICS
    from xmsem.snapshots.measure import MeasureSettings, RepCache, layer_pairs, pair_rows

    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in metrics if m not in COMPARE_METRICS]
    if bad or not metrics:
        other = "" if not bad or bad[0] not in METRICS else " (needs a run: use xmsem.compare)"
        raise ValueError(
            f"compare_models metrics: {bad[0] if bad else 'empty list'!r} is not available"
            f"{other}; valid: {', '.join(COMPARE_METRICS)}"
        )
    if names[0] == names[1]:
        raise ValueError(f"compare_models names must differ, got {names}")
    readers = [
        LayerReader(model_a, layers_a, "layers_a"),
        LayerReader(model_b, layers_b, "layers_b"),
    ]
    dev = torch.device(device) if device is not None else readers[0].device()
    (reps_a, reps_b), labels, n = _gather(loader, readers, dev, max_examples)
    if "probe_transfer" in metrics and labels is None:
        raise ValueError(
            "compare_models metrics: 'probe_transfer' needs labels; the loader must yield "
            "(inputs, integer labels) batches"
        )
    s = MeasureSettings(**dict(settings or {}))
    s.metrics, s.controls = metrics, False
    n_fit = n // 2
    label_t = labels if labels is not None else torch.zeros(n, dtype=torch.long, device=dev)
    cache = RepCache(label_t, n_fit, s)
    pairs = layer_pairs(readers[0].layers, readers[1].layers, "all")
    rows = pair_rows(names[0], names[1], reps_a, reps_b, pairs, label_t, n_fit, s, cache=cache)
    return Comparison(tuple(names), readers[0].layers, readers[1].layers, n, rows)
