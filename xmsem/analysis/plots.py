"""Matplotlib (Agg backend) helpers of the analysis figures: heatmaps, saving as PNG + PDF."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from xmsem.analysis.layout import on_save  # noqa: E402

MAX_ANNOTATED = 12  # cells are annotated with their value up to this many rows / columns


def heatmap_axes(ax, matrix: np.ndarray, labels: Sequence[str], title: str,
                 col_labels: Sequence[str] | None = None):  # fmt: skip
    """A labelled heatmap on ``ax`` (colour scale [0, 1], its colour bar beside it); the values
    are written in the cells up to ``MAX_ANNOTATED`` rows and columns (more would not fit)."""
    im = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), col_labels or labels, rotation=45, ha="right")
    ax.set_yticks(range(matrix.shape[0]), labels)
    if max(matrix.shape) <= MAX_ANNOTATED:
        size = 8 if max(matrix.shape) <= 6 else 6
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                        color="white" if value < 0.6 else "black", fontsize=size)  # fmt: skip
    ax.set_title(title, fontsize=9)
    # the colour bar as an inset right beside the heatmap (not in the grid's margin, which a
    # neighbouring panel's legend may have made wide)
    ax.figure.colorbar(im, cax=ax.inset_axes((1.04, 0.0, 0.05, 1.0)))
    return im


def heatmap_figure(matrix: np.ndarray, labels: Sequence[str], title: str,
                   col_labels: Sequence[str] | None = None) -> plt.Figure:  # fmt: skip
    """A figure holding one :func:`heatmap_axes` heatmap, sized to the number of layers and to
    its title (wrapped to the figure's width)."""
    size = max(3.6, 0.6 * max(matrix.shape) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size), layout="constrained")
    heatmap_axes(ax, matrix, labels, textwrap.fill(title, int((size + 1) * 72 / (9 * 0.6))),
                 col_labels=col_labels)  # fmt: skip
    return fig


def fit_legends(fig: plt.Figure, pad_in: float = 0.15) -> None:
    """Grow ``fig`` downwards until every legend hanging beside its axes ends inside the canvas
    (a size estimated from the labels misses wrapped labels in columns of unequal height)."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    for _ in range(3):
        fig.canvas.draw()
        bottom = min((leg.get_window_extent().y0 / fig.dpi for leg in legends), default=pad_in)
        if bottom >= pad_in:
            return
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + pad_in - bottom)


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Save as PNG and, beside it, PDF (parents created); close; return the PNG path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fit_legends(fig)
    fig.savefig(path, dpi=120)
    fig.savefig(path.with_suffix(".pdf"))
    on_save(fig, path)
    plt.close(fig)
    return path
