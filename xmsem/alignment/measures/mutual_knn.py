"""Mutual k-nearest-neighbour alignment (Huh, Cheung, Wang, Isola 2024, "The Platonic
Representation Hypothesis", ICML; arXiv 2405.07987, Sec. 2 and App. A).

Rows are scaled to unit norm and each example's k nearest OTHER examples are taken by cosine
similarity, N_X(i) and N_Y(i). Then

    m_kNN(X, Y) = (1/n) sum_i |N_X(i) ∩ N_Y(i)| / k            in [0, 1], 1 for X = Y.

Invariant to orthogonal maps and isotropic scaling (cosine geometry), not to translation or
general invertible maps. Each representation's neighbour lists are its own work (``prepare``);
a pair costs O(n k^2). O(n^2 d) per representation (the n x n similarities): capped at
``pairwise_max_n`` examples in snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .._checks import check_pair, numpy_io
from ..registry import POSITIVE_INT, SYMMETRIC, MetricSpec, register
from ._common import (
    Undefined,
    cosine_neighbours,
    nan_if_undefined,
)

__all__ = ["mutual_knn"]


neighbours = cosine_neighbours("mutual_knn")  # the prepare step: (n, k) neighbour indices


def shared_fraction(
    a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]
) -> Tensor:
    """Mean fraction of the k neighbours two neighbour lists share."""
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    shared = (a[:, :, None] == b[:, None, :]).any(dim=2).sum(dim=1)
    return (shared.to(torch.float64) / a.shape[1]).mean()


@numpy_io
def mutual_knn(x: Tensor, y: Tensor, k: int = 10) -> Tensor:
    """Mutual kNN alignment of ``x`` (n, p) and ``y`` (n, q) (module doc)."""
    x, y = check_pair(x, y)
    p = {"k": k}
    return shared_fraction(neighbours(x, p), neighbours(y, p), p).to(x.device)


register(MetricSpec(
    "mutual_knn", "similarity", frozenset({"orthogonal", "isotropic_scale"}), "reps", mutual_knn,
    "Mean fraction of shared cosine k-nearest neighbours (Huh et al. 2024).",
    label="mutual kNN", direction=SYMMETRIC, options={"k": POSITIVE_INT},
    prepare=neighbours, finish=shared_fraction, max_n="pairwise_max_n",
))  # fmt: skip
