"""Training dynamics: linear CKA of one model's layer between every two of its snapshots.

For a model m, a layer l and the stored snapshots ``reps/epoch_*`` (the same probe set at every
epoch), the epoch x epoch matrix is

    M[i, j] = CKA_linear(X_{e_i}, X_{e_j}),   X_e = the (n, d) representation of l at epoch e,

with the biased linear CKA of Kornblith et al. 2019 (``||X_c^T Y_c||_F^2 / (||X_c^T X_c||_F
||Y_c^T Y_c||_F)``, features centred; :mod:`xmsem.alignment.prepared`, on the n x n side when the
layer is wider than n). M is symmetric with a unit diagonal; M[i, j] near 1 says the layer's
geometry hardly moved between e_i and e_j (up to rotation and isotropic scale). Each snapshot is
prepared once, so E snapshots cost E preparations and E(E+1)/2 cross products.

In a sweep every instance (run seed, copy) gives its own matrix; :func:`summarize` averages
them per architecture with the seed-level interval of :mod:`xmsem.analysis.stats`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from xmsem.alignment.prepared import linear_cka_prepared, prepare
from xmsem.analysis.aggregate import describe, layer_order
from xmsem.snapshots import SnapshotStore

RUN_COLUMNS = ("model", "layer", "epoch_a", "epoch_b", "value")
SUMMARY_COLUMNS = ("dataset", "arch", "layer", "epoch_a", "epoch_b", "mean", "std", "ci_low",
                   "ci_high", "n")  # fmt: skip
FILE = "epoch_cka.csv"


def epoch_cka_matrix(reps: Mapping[int, Tensor]) -> tuple[list[int], np.ndarray]:
    """``(epochs, M)``: the sorted epochs of ``reps`` ({epoch: (n, d) tensor of one layer}) and
    the linear CKA between every two of them (module doc), computed in float64."""
    epochs = sorted(reps)
    prepared = [prepare(reps[e].to(torch.float64)) for e in epochs]
    matrix = np.empty((len(epochs), len(epochs)))
    for i, a in enumerate(prepared):
        for j in range(i, len(prepared)):  # CKA is symmetric in its arguments: one triangle
            matrix[i, j] = matrix[j, i] = float(linear_cka_prepared(a, prepared[j])[0])
    return epochs, matrix


def layers_over_epochs(store: SnapshotStore) -> dict[str, dict[str, list[int]]]:
    """model -> layer -> the complete snapshots' epochs that hold it (a layer file missing from
    a snapshot is left out here; the analysis names it under "Missing data")."""
    out: dict[str, dict[str, list[int]]] = {}
    for epoch in store.epochs():
        manifest = store.manifest(epoch) or {}
        for model, layers in manifest.get("members", {}).items():
            for layer in layers:
                if (store.epoch_dir(epoch) / model / f"{layer}.pt").is_file():
                    out.setdefault(model, {}).setdefault(layer, []).append(epoch)
    return out


def run_epoch_cka(run_dir: str | Path, models: Iterable[str] | None = None) -> list[dict]:
    """Rows ``{model, layer, epoch_a, epoch_b, value}`` (``RUN_COLUMNS``) of every model (or
    ``models``) and layer of one run folder with at least two snapshots, read from ``reps/``."""
    store = SnapshotStore(Path(run_dir))
    found = layers_over_epochs(store)
    wanted = list(found) if models is None else [m for m in models if m in found]
    rows = []
    for model in wanted:
        for layer in sorted(found[model], key=layer_order):
            epochs = found[model][layer]
            if len(epochs) < 2:
                continue
            reps = {e: store.load(e, model, layer, torch.float64) for e in epochs}
            epochs, matrix = epoch_cka_matrix(reps)
            rows += [{"model": model, "layer": layer, "epoch_a": ea, "epoch_b": eb,
                      "value": float(matrix[i, j])}
                     for i, ea in enumerate(epochs) for j, eb in enumerate(epochs)]  # fmt: skip
    return rows


def sweep_rows(runs: Iterable) -> list[dict]:
    """Every model of every run (a :class:`~xmsem.analysis.discovery.Run`): its epoch x epoch
    rows with the run's dataset, the model's architecture and seed unit (for :func:`summarize`)."""
    from xmsem.analysis.collect import unit_of

    out = []
    for run in runs:
        for r in run_epoch_cka(run.path, run.models):
            out.append(dict(r, dataset=run.dataset, arch=run.arch(r["model"]), run=run.name,
                            unit=unit_of(run, r["model"])))  # fmt: skip
    return out


def summarize(rows: Iterable[Mapping], resamples: int = 0, seed: int = 0) -> list[dict]:
    """Mean over instances per (dataset, arch, layer, epoch_a, epoch_b) with the seed-level 95%
    interval (none from fewer than 3 seeds); ``rows`` carry those keys, ``value`` and ``unit``
    (the instance's seed unit)."""
    groups: dict[tuple, tuple[list[float], list[tuple]]] = {}
    for r in rows:
        key = (r["dataset"], r["arch"], r["layer"], int(r["epoch_a"]), int(r["epoch_b"]))
        values, units = groups.setdefault(key, ([], []))
        values.append(float(r["value"]))
        units.append((r["unit"],))
    out = []
    for key, (values, units) in groups.items():
        stat = describe(values, resamples, seed, "epoch_cka|" + "|".join(map(str, key)), units)
        out.append(dict(zip(SUMMARY_COLUMNS[:5], key, strict=True), mean=stat.mean,
                        std=stat.std, ci_low=stat.ci_low, ci_high=stat.ci_high, n=stat.n))  # fmt: skip
    return out


def matrix_of(summary: Sequence[Mapping], dataset: str, arch: str, layer: str,
              ) -> tuple[list[int], np.ndarray]:  # fmt: skip
    """The mean epoch x epoch matrix of one (dataset, arch, layer) from :func:`summarize` rows."""
    mine = [r for r in summary if (r["dataset"], r["arch"], r["layer"]) == (dataset, arch, layer)]
    epochs = sorted({int(r["epoch_a"]) for r in mine} | {int(r["epoch_b"]) for r in mine})
    index = {e: i for i, e in enumerate(epochs)}
    matrix = np.full((len(epochs), len(epochs)), np.nan)
    for r in mine:
        matrix[index[int(r["epoch_a"])], index[int(r["epoch_b"])]] = float(r["mean"])
    return epochs, matrix


def panels(summary: Sequence[Mapping]) -> dict[tuple[str, str], list[str]]:
    """(dataset, arch) -> its layers, in order (one heatmap per layer)."""
    out: dict[tuple[str, str], list[str]] = {}
    for r in summary:
        layers = out.setdefault((r["dataset"], r["arch"]), [])
        if r["layer"] not in layers:
            layers.append(r["layer"])
    return {k: sorted(v, key=layer_order) for k, v in out.items()}


def markdown(summary: Sequence[Mapping]) -> list[str]:
    """The report section: per architecture and layer, the mean matrix (rows and columns:
    epochs trained) and over how many seeds."""
    if not summary:
        return []
    lines = [
        "### Training dynamics: epoch x epoch linear CKA",
        "",
        "Linear CKA of one model's layer between two of its snapshots (same probe set; the mean "
        "over seeds where there are several): 1 on the diagonal; a value near 1 off the diagonal "
        "says the layer's "
        f"geometry hardly changed between those epochs. All values: `{FILE}`.",
        "",
    ]
    for (ds, arch), layers in panels(summary).items():
        for layer in layers:
            epochs, matrix = matrix_of(summary, ds, arch, layer)
            n = max(int(r["n"]) for r in summary
                    if (r["dataset"], r["arch"], r["layer"]) == (ds, arch, layer))  # fmt: skip
            lines += [f"`{arch}`, layer `{layer}` ({ds}, {n} seed{'s' if n != 1 else ''}):", ""]
            lines.append("| epochs trained | " + " | ".join(map(str, epochs)) + " |")
            lines.append("|---|" + "---|" * len(epochs))
            for e, row in zip(epochs, matrix, strict=True):
                cells = ["–" if not np.isfinite(v) else f"{v:.3f}" for v in row]
                lines.append(f"| {e} | " + " | ".join(cells) + " |")
            lines.append("")
    return lines
