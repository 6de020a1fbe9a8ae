"""Figures of a sweep analysis (PNG, matplotlib Agg) drawn from the summary rows: metric vs epoch
with 95% CI bands, layer x layer CKA heatmaps, accuracy curves, per-architecture stability."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xmsem.alignment import quantity
from xmsem.analysis.aggregate import layer_order
from xmsem.analysis.plots import heatmap_figure, plt, save_figure
from xmsem.analysis.report import headline


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")


def _band_plot(ax, series: dict[str, list[dict]], x_key: str = "epoch") -> None:
    for label, rows in series.items():
        rows = sorted(rows, key=lambda r: r[x_key])
        x = np.array([r[x_key] for r in rows], dtype=float)
        y = np.array([r["mean"] for r in rows], dtype=float)
        lo = np.array([r["ci_low"] for r in rows], dtype=float)
        hi = np.array([r["ci_high"] for r in rows], dtype=float)
        (line,) = ax.plot(x, y, marker="o", ms=3, label=label)
        if np.isfinite(lo).any():
            ax.fill_between(x, lo, hi, alpha=0.2, color=line.get_color(), linewidth=0)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7)


def metric_vs_epoch(summary: list[dict], out: Path) -> list[Path]:
    """One figure per (dataset, arch, metric): a line per layer with its CI band."""
    paths = []
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for r in summary:
        wanted = r["source"] == "cross_run" or (r["source"] == "live" and "~" in r["arch"])
        if wanted and headline(r["metric"]) and r["epoch"] is not None and r["layer"]:
            key = (r["dataset"], r["arch"], r["metric"])
            groups.setdefault(key, {}).setdefault(r["layer"], []).append(r)
    for (ds, arch, metric), series in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ordered = dict(sorted(series.items(), key=lambda kv: layer_order(kv[0])))
        _band_plot(ax, ordered)
        q = quantity(metric)
        ax.set(xlabel="epoch", ylabel=q.axis_label(), title=f"{ds}: {q.label} — {arch}")
        ax.title.set_fontsize(9)
        fig.tight_layout()
        paths.append(save_figure(fig, out / f"{_safe(ds)}__{_safe(metric)}__{_safe(arch)}.png"))
    return paths


def layer_heatmaps(summary: list[dict], out: Path) -> list[Path]:
    """Layer x layer linear CKA per architecture: mean over seeds at the last snapshot epoch."""
    paths = []
    rows = [r for r in summary if r["metric"] == "layer_cka" and r["source"] == "live"]
    for ds, arch in sorted({(r["dataset"], r["arch"]) for r in rows}):
        mine = [r for r in rows if r["dataset"] == ds and r["arch"] == arch]
        last = max(r["epoch"] for r in mine)
        mine = [r for r in mine if r["epoch"] == last]
        pairs = [
            tuple(r["layer"].split("~")) if "~" in r["layer"] else (r["layer"],) * 2 for r in mine
        ]
        labels = sorted({p for pair in pairs for p in pair}, key=layer_order)
        index = {name: i for i, name in enumerate(labels)}
        matrix = np.full((len(labels), len(labels)), np.nan)
        for (la, lb), r in zip(pairs, mine, strict=True):
            matrix[index[la], index[lb]] = matrix[index[lb], index[la]] = r["mean"]
        fig = heatmap_figure(
            matrix, labels, f"{ds}: {arch} layer x layer linear CKA (epoch {last}, mean over seeds)"
        )
        paths.append(save_figure(fig, out / f"{_safe(ds)}__layer_cka__{_safe(arch)}.png"))
    return paths


def accuracy_curves(summary: list[dict], out: Path) -> list[Path]:
    """Validation accuracy vs epochs trained: mean and 95% CI band per architecture."""
    paths = []
    rows = [r for r in summary if r["metric"] == "val_acc" and r["source"] == "live"]
    for ds in sorted({r["dataset"] for r in rows}):
        series: dict[str, list[dict]] = {}
        for r in rows:
            if r["dataset"] == ds:
                series.setdefault(r["arch"], []).append(r)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        _band_plot(ax, series)
        ax.set(xlabel="epochs trained", ylabel="validation accuracy", title=f"{ds}: accuracy")
        fig.tight_layout()
        paths.append(save_figure(fig, out / f"{_safe(ds)}__val_acc.png"))
    return paths


def stability(summary: list[dict], out: Path) -> list[Path]:
    """Seed-vs-seed linear CKA vs layer at the last epoch, one line per architecture."""
    paths = []
    rows = [r for r in summary if r["metric"] == "seed_linear_cka" and "~" not in r["arch"]]
    for ds in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == ds]
        last = max(r["epoch"] for r in mine)
        mine = [r for r in mine if r["epoch"] == last]
        layers = sorted({r["layer"] for r in mine}, key=layer_order)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for arch in dict.fromkeys(r["arch"] for r in mine):
            by = {r["layer"]: r for r in mine if r["arch"] == arch}
            x = [i for i, layer in enumerate(layers) if layer in by]
            y = np.array([by[layers[i]]["mean"] for i in x])
            lo = np.array([by[layers[i]]["ci_low"] for i in x])
            hi = np.array([by[layers[i]]["ci_high"] for i in x])
            err = np.vstack([y - lo, hi - y])
            err = np.where(np.isfinite(err), err, 0.0)
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=arch)
        ax.set_xticks(range(len(layers)), layers)
        ax.set(
            xlabel="layer",
            ylabel="seed-vs-seed linear CKA",
            title=f"{ds}: cross-seed stability (epoch {last})",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(save_figure(fig, out / f"{_safe(ds)}__stability.png"))
    return paths


def all_figures(summary: list[dict], out: Path) -> list[Path]:
    """Every figure of the analysis into ``out`` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    return (
        accuracy_curves(summary, out)
        + stability(summary, out)
        + layer_heatmaps(summary, out)
        + metric_vs_epoch(summary, out)
    )
