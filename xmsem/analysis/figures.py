"""Figures of a sweep analysis (matplotlib, Agg; each saved as PNG and PDF) from the summary rows.

Labels come from the metric registry (:func:`xmsem.alignment.quantity`): axis labels, which way
is more aligned, and what A and B mean in a directional metric. Epoch axes have integer ticks.
A band is a 95% confidence interval and says over how many seeds; with fewer than
``MIN_BAND_N`` there is no band. The same-seed (live), different-seed (cross-run) and control
values of a metric share one panel, so a reader sees each number next to its baselines. Files:
``<dataset>_<metric>.png`` (one panel per layer), ``<dataset>_accuracy.png``,
``<dataset>_stability.png``, ``<dataset>_layer_cka.png`` and ``<dataset>_summary.png`` (the
study on one page).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from xmsem.alignment import quantity
from xmsem.alignment.registry import CROSS_PREFIX, headline_metrics
from xmsem.analysis.aggregate import layer_order
from xmsem.analysis.plots import heatmap_axes, plt, save_figure
from xmsem.analysis.report import headline

MAX_PART = 40  # characters of one part of a figure's file name (file systems stop at 255 bytes)
MIN_BAND_N = 3  # no interval from fewer than 3 seeds
SOURCES = ("live", "cross_run", "final")


def _safe(name: str) -> str:
    """``name`` as a file-name part: odd characters replaced; a long name (an architecture key
    made of many overrides) keeps its start plus a hash of the whole, so it stays short,
    deterministic and distinct."""
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")
    if len(safe) > MAX_PART:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        safe = f"{safe[: MAX_PART - 9]}~{digest}"
    return safe


def _pair(arch: str) -> tuple[str, str] | None:
    parts = arch.split("~")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _series(ax, rows: list[dict], label: str, unit: str, style: str = "-", color=None) -> None:
    """One line (mean vs epoch) with its 95% CI band where n >= MIN_BAND_N and the interval is
    finite; the label says which: ``(95% CI over 5 seeds)`` or ``(2 seeds, no CI)``."""
    rows = sorted(rows, key=lambda r: r["epoch"])
    x = np.array([r["epoch"] for r in rows], dtype=float)
    y = np.array([r["mean"] for r in rows], dtype=float)
    lo = np.array([_float(r["ci_low"]) for r in rows])
    hi = np.array([_float(r["ci_high"]) for r in rows])
    band = np.array([int(r["n"]) >= MIN_BAND_N for r in rows]) & np.isfinite(lo) & np.isfinite(hi)
    n = min(int(r["n"]) for r in rows)
    what = f"95% CI over {n} {unit}" if band.any() else f"{n} {unit}, no CI"
    (line,) = ax.plot(x, y, style, marker="o", ms=3, color=color, label=f"{label} ({what})")
    if band.any():
        ax.fill_between(x, np.where(band, lo, np.nan), np.where(band, hi, np.nan), alpha=0.2,
                        color=line.get_color(), linewidth=0)  # fmt: skip


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _epoch_axis(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epochs trained")
    ax.grid(alpha=0.3)


def _pair_name(arch: str, symmetric: bool) -> str:
    a, b = _pair(arch)
    return f"{a} vs {b}" if symmetric else f"{a}→{b}"


# --------------------------------------------------------------------------- panels
def draw_alignment(ax, rows: list[dict], metric: str, layer: str) -> bool:
    """Same-seed (live, solid), different-seed (cross-run, dashed) and seed-vs-seed (dotted)
    values of ``metric`` at ``layer``, and their controls in grey: the chance value (permutation
    null, ``<metric>_null`` rows), the same measurement on the untrained networks (``untrained``)
    and any other control rows; False when nothing to draw."""
    q = quantity(metric)
    mine = [r for r in rows if r["layer"] == layer and r["epoch"] is not None]
    live = [r for r in mine if r["metric"] == metric and r["source"] == "live" and _pair(r["arch"])]
    cross = [r for r in mine if r["metric"] == CROSS_PREFIX + metric and r["source"] == "cross_run"]
    controls = [r for r in mine if r["source"] not in SOURCES
                and r["metric"] in (metric, CROSS_PREFIX + metric)]  # fmt: skip
    if not (live or cross or controls):
        return False
    # a sweep of variants can hold more pairs than the cycle has colours: they repeat
    colours = itertools.cycle(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    pairs = list(dict.fromkeys([r["arch"] for r in live] + [r["arch"] for r in cross
                                                             if _pair(r["arch"])]))  # fmt: skip
    for arch in pairs:
        colour = next(colours)
        name = _pair_name(arch, q.symmetric)
        same = [r for r in live if r["arch"] == arch]
        diff = [r for r in cross if r["arch"] == arch]
        if same:
            _series(ax, same, f"{name}, same seed", "seeds", "-", colour)
        if diff:
            _series(ax, diff, f"{name}, different seeds", "seeds", "--", colour)
    for arch in dict.fromkeys(r["arch"] for r in cross if not _pair(r["arch"])):
        _series(ax, [r for r in cross if r["arch"] == arch], f"{arch} seed vs seed", "seeds", ":",
                next(colours))  # fmt: skip
    for arch in pairs:  # controls of the same-seed values: chance and the untrained networks
        null = [r for r in mine if r["metric"] == f"{metric}_null" and r["arch"] == arch]
        if null:
            _series(ax, null, f"{_pair_name(arch, q.symmetric)}, chance (permutation null)",
                    "seeds", "-.", "grey")  # fmt: skip
        untrained = [dict(r, mean=_float(r.get("untrained")), ci_low=np.nan, ci_high=np.nan)
                     for r in live if r["arch"] == arch]  # fmt: skip
        if untrained and all(np.isfinite(r["mean"]) for r in untrained):
            _series(ax, untrained, f"{_pair_name(arch, q.symmetric)}, untrained networks",
                    "seeds", ":", "silver")  # fmt: skip
    for source, arch in dict.fromkeys((r["source"], r["arch"]) for r in controls):
        sel = [r for r in controls if (r["source"], r["arch"]) == (source, arch)]
        _series(ax, sel, f"control {source}: {arch}", "seeds", "-.", "grey")
    _epoch_axis(ax)
    ax.set_ylabel(q.axis_label(), fontsize=8)
    ax.set_title(f"layer {layer}", fontsize=9)
    ax.legend(fontsize=6)
    return True


def draw_accuracy(ax, rows: list[dict]) -> bool:
    acc = [r for r in rows if r["metric"] == "val_acc" and r["source"] == "live"]
    for arch in dict.fromkeys(r["arch"] for r in acc):
        _series(ax, [r for r in acc if r["arch"] == arch], arch, "seeds")
    _epoch_axis(ax)
    ax.set(ylabel=quantity("val_acc").label, title="accuracy")
    if acc:
        ax.legend(fontsize=6)
    return bool(acc)


def draw_stability(ax, rows: list[dict]) -> bool:
    """Seed-vs-seed linear CKA per layer at the last epoch, one line per architecture."""
    metric = CROSS_PREFIX + "linear_cka"
    mine = [r for r in rows if r["metric"] == metric and not _pair(r["arch"]) and r["layer"]]
    if not mine:
        return False
    last = max(r["epoch"] for r in mine)
    mine = [r for r in mine if r["epoch"] == last]
    layers = sorted({r["layer"] for r in mine}, key=layer_order)
    for arch in dict.fromkeys(r["arch"] for r in mine):
        by = {r["layer"]: r for r in mine if r["arch"] == arch}
        x = [i for i, layer in enumerate(layers) if layer in by]
        sel = [by[layers[i]] for i in x]
        y = np.array([r["mean"] for r in sel])
        err = np.vstack([y - [r["ci_low"] for r in sel], [r["ci_high"] for r in sel] - y])
        ok = np.array([int(r["n"]) >= MIN_BAND_N for r in sel])
        err = np.where(np.isfinite(err) & ok, err, 0.0)
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3,
                    label=f"{arch} ({min(int(r['n']) for r in sel)} seeds)")  # fmt: skip
    ax.set_xticks(range(len(layers)), layers)
    ax.set(xlabel="layer", ylabel=quantity(metric).axis_label(),
           title=f"cross-seed stability (epoch {last})")  # fmt: skip
    ax.yaxis.label.set_fontsize(8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    return True


def layer_cka_matrix(rows: list[dict], arch: str) -> tuple[list[str], np.ndarray, int] | None:
    """Mean layer x layer linear CKA of ``arch`` at its last snapshot epoch."""
    mine = [r for r in rows if r["metric"] == "layer_cka" and r["source"] == "live"
            and r["arch"] == arch]  # fmt: skip
    if not mine:
        return None
    last = max(r["epoch"] for r in mine)
    mine = [r for r in mine if r["epoch"] == last]
    pairs = [tuple(r["layer"].split("~")) if "~" in r["layer"] else (r["layer"],) * 2 for r in mine]
    labels = sorted({p for pair in pairs for p in pair}, key=layer_order)
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.full((len(labels), len(labels)), np.nan)
    for (la, lb), r in zip(pairs, mine, strict=True):
        matrix[index[la], index[lb]] = matrix[index[lb], index[la]] = r["mean"]
    return labels, matrix, last


# --------------------------------------------------------------------------- figures
def _by_dataset(summary: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in summary:
        out.setdefault(r["dataset"], []).append(r)
    return out


def _direction_note(fig, metric: str) -> None:
    q = quantity(metric)
    if not q.symmetric and q.direction:
        fig.text(0.01, 0.005, f"A→B: {q.direction}.", fontsize=7, ha="left", va="bottom")


def alignment_figures(summary: list[dict], out: Path) -> list[Path]:
    """One figure per (dataset, alignment metric): a panel per layer with the same-seed,
    different-seed, seed-vs-seed and control values."""
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        metrics = {r["metric"].removeprefix(CROSS_PREFIX) for r in rows
                   if r["source"] != "final" and headline(r["metric"]) and r["layer"]
                   and (r["source"] != "live" or _pair(r["arch"]))}  # fmt: skip
        for metric in sorted(metrics):
            relevant = [r for r in rows if r["metric"] in (metric, CROSS_PREFIX + metric)]
            layers = sorted({r["layer"] for r in relevant if r["layer"]}, key=layer_order)
            fig, axes = plt.subplots(1, len(layers), figsize=(4.2 * len(layers), 3.6),
                                     squeeze=False, sharey=True)  # fmt: skip
            for ax, layer in zip(axes[0], layers, strict=True):
                draw_alignment(ax, relevant, metric, layer)
            fig.suptitle(f"{ds}: {quantity(metric).label}", fontsize=10)
            _direction_note(fig, metric)
            fig.tight_layout(rect=(0, 0.03, 1, 1))
            paths.append(save_figure(fig, out / f"{_safe(ds)}_{_safe(metric)}.png"))
    return paths


def _single(summary: list[dict], out: Path, suffix: str, draw: Callable) -> list[Path]:
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        if draw(ax, rows):
            ax.set_title(f"{ds}: {ax.get_title()}", fontsize=9)
            fig.tight_layout()
            paths.append(save_figure(fig, out / f"{_safe(ds)}_{suffix}.png"))
        else:
            plt.close(fig)
    return paths


def accuracy_curves(summary: list[dict], out: Path) -> list[Path]:
    """Validation accuracy vs epochs trained per architecture."""
    return _single(summary, out, "accuracy", draw_accuracy)


def stability(summary: list[dict], out: Path) -> list[Path]:
    """Seed-vs-seed linear CKA vs layer at the last epoch, one line per architecture."""
    return _single(summary, out, "stability", draw_stability)


def layer_heatmaps(summary: list[dict], out: Path) -> list[Path]:
    """Layer x layer linear CKA, one panel per architecture (mean over seeds, last epoch)."""
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        archs = list(dict.fromkeys(r["arch"] for r in rows if r["metric"] == "layer_cka"))
        mats = [(a, m) for a in archs if (m := layer_cka_matrix(rows, a)) is not None]
        if not mats:
            continue
        fig, axes = plt.subplots(1, len(mats), figsize=(3.6 * len(mats) + 0.8, 3.4), squeeze=False)
        for ax, (arch, (labels, matrix, last)) in zip(axes[0], mats, strict=True):
            heatmap_axes(ax, matrix, labels, f"{arch} (epoch {last})")
        fig.suptitle(f"{ds}: layer x layer linear CKA (mean over seeds)", fontsize=10)
        fig.tight_layout()
        paths.append(save_figure(fig, out / f"{_safe(ds)}_layer_cka.png"))
    return paths


def _deepest_shared(rows: list[dict]) -> str | None:
    layers = [r["layer"] for r in rows if r["metric"] == "linear_cka" and r["source"] == "live"
              and _pair(r["arch"]) and r["layer"] and "~" not in r["layer"]]  # fmt: skip
    if not layers:
        layers = [r["layer"] for r in rows if r["metric"] == CROSS_PREFIX + "linear_cka"
                  and r["layer"]]  # fmt: skip
    return max(layers, key=layer_order) if layers else None


def summary_figures(summary: list[dict], out: Path) -> list[Path]:
    """The study on one page per dataset: accuracy; linear CKA, probe transfer and stitching
    (same seed vs different seeds, deepest shared layer); cross-seed stability; layer CKA."""
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        layer = _deepest_shared(rows)
        panels: list[Callable] = [lambda ax, r=rows: draw_accuracy(ax, r)]
        notes = []
        for metric in headline_metrics():
            if layer and any(r["metric"] in (metric, CROSS_PREFIX + metric) for r in rows):
                panels.append(
                    lambda ax, m=metric, r=rows, lay=layer: _titled(
                        ax, draw_alignment(ax, r, m, _layer_of(r, m, lay)), quantity(m).label
                    )
                )
                q = quantity(metric)
                if not q.symmetric and q.direction:
                    notes.append(f"{q.label.split(' (')[0]} A→B: {q.direction}")
        panels.append(lambda ax, r=rows: draw_stability(ax, r))
        arch = next((r["arch"] for r in rows if r["metric"] == "layer_cka"), None)
        if arch is not None:
            labels, matrix, last = layer_cka_matrix(rows, arch)
            panels.append(
                lambda ax, a=arch, lab=labels, m=matrix, e=last: (
                    heatmap_axes(ax, m, lab, f"{a}: layer x layer CKA (epoch {e})") or True
                )
            )
        cols = 3
        nrows = -(-len(panels) // cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(5.0 * cols, 3.9 * nrows), squeeze=False)
        for ax, draw in zip(axes.flat, panels, strict=False):
            if not draw(ax):
                ax.set_axis_off()
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_axis_off()
        fig.suptitle(f"{ds}: study summary (alignment at layer {layer})", fontsize=11)
        if notes:
            fig.text(0.01, 0.005, "; ".join(notes) + ".", fontsize=7, ha="left", va="bottom")
        fig.tight_layout(rect=(0, 0.02, 1, 0.97))
        paths.append(save_figure(fig, out / f"{_safe(ds)}_summary.png"))
    return paths


def _layer_of(rows: list[dict], metric: str, layer: str) -> str:
    """``layer``, or the deepest layer (pair) the metric was measured at (stitching: primary)."""
    have = {r["layer"] for r in rows if r["metric"] in (metric, CROSS_PREFIX + metric)
            and r["layer"]}  # fmt: skip
    if layer in have or not have:
        return layer
    return max(have, key=layer_order)


def _titled(ax, drawn: bool, title: str) -> bool:
    if drawn:
        ax.set_title(f"{title} — layer {ax.get_title().removeprefix('layer ')}", fontsize=9)
    return drawn


def all_figures(summary: list[dict], out: Path) -> list[Path]:
    """Every figure of the analysis into ``out`` (created); the PNG paths (a PDF beside each)."""
    out.mkdir(parents=True, exist_ok=True)
    return (
        summary_figures(summary, out)
        + accuracy_curves(summary, out)
        + stability(summary, out)
        + layer_heatmaps(summary, out)
        + alignment_figures(summary, out)
    )


def figure_files(paths: Iterable[Path]) -> list[Path]:
    """Every file written for ``paths``: the PNG and its PDF."""
    return [f for p in paths for f in (p, p.with_suffix(".pdf"))]
