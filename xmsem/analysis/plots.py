"""Matplotlib (Agg backend) helpers of the analysis figures: heatmaps, saving as PNG + PDF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def heatmap_axes(ax, matrix: np.ndarray, labels: Sequence[str], title: str,
                 col_labels: Sequence[str] | None = None):  # fmt: skip
    """A labelled heatmap on ``ax`` with values written in the cells (colour scale [0, 1])."""
    im = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(matrix.shape[1]), col_labels or labels, rotation=45, ha="right")
    ax.set_yticks(range(matrix.shape[0]), labels)
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                    color="white" if value < 0.6 else "black", fontsize=8)  # fmt: skip
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return im


def heatmap_figure(matrix: np.ndarray, labels: Sequence[str], title: str,
                   col_labels: Sequence[str] | None = None) -> plt.Figure:  # fmt: skip
    """A figure holding one :func:`heatmap_axes` heatmap, sized to the number of layers."""
    size = max(3.0, 0.6 * max(matrix.shape) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    heatmap_axes(ax, matrix, labels, title, col_labels=col_labels)
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Save as PNG and, beside it, PDF (parents created); close; return the PNG path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path
