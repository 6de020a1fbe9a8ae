"""Second-order cosine similarity (Hamilton, Leskovec, Jurafsky 2016, "Cultural shift or
linguistic drift?", EMNLP; in the form of ReSi, Klabunde et al. 2024, Sec. 3.6).

For each example i, U_i = N_X(i) ∪ N_Y(i) joins its k nearest OTHER examples by cosine
similarity in X and in Y; s_X(i) = (1 - cos(x_i, x_j))_{j in U_i} is its vector of cosine
distances to them (as ReSi; Hamilton et al. use similarities), likewise s_Y(i), and

    SOC(X, Y) = (1/n) sum_i cos(s_X(i), s_Y(i))                    in [0, 1], 1 for X = Y.

Invariant to orthogonal maps and isotropic scaling, not to translation or invertible maps.
O(n^2 d) per pair (capped at ``pairwise_max_n`` examples).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_pair, clamp_rounding, nan_like, numpy_io, warn_degenerate
from ..registry import POSITIVE_INT, SYMMETRIC, MetricSpec, register
from ._common import cosine_matrix, guard, knn_indices

__all__ = ["second_order_cosine"]


@numpy_io
def second_order_cosine(x: Tensor, y: Tensor, k: int = 10) -> Tensor:
    """Mean cosine of the cosine-distance profiles over the joint k-NN sets (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "second_order_cosine")
    if pair is None:
        return nan_like(x)
    sx, sy = (
        cosine_matrix(pair[0], "second_order_cosine"),
        cosine_matrix(pair[1], "second_order_cosine"),
    )
    if sx is None or sy is None:
        return nan_like(x)
    ix, iy = knn_indices(sx, k, "second_order_cosine"), knn_indices(sy, k, "second_order_cosine")
    if ix is None or iy is None:
        return nan_like(x)
    union = torch.zeros_like(sx, dtype=torch.bool)
    union.scatter_(1, ix, True).scatter_(1, iy, True)
    dx, dy = (1.0 - sx) * union, (1.0 - sy) * union
    num = (dx * dy).sum(dim=1)
    den = torch.sqrt(dx.square().sum(dim=1) * dy.square().sum(dim=1))
    if bool((den <= 0).any()):
        warn_degenerate("second_order_cosine", "an example's neighbours are all at distance 0")
        return nan_like(x)
    return clamp_rounding((num / den).mean(), 0.0, 1.0, "second_order_cosine")


register(MetricSpec(
    "second_order_cosine", "similarity", frozenset({"orthogonal", "isotropic_scale"}), "reps",
    second_order_cosine,
    "Cosine of cosine-distance profiles over joint k-NN (Hamilton et al. 2016; ReSi).",
    label="second-order cosine", direction=SYMMETRIC, options={"k": POSITIVE_INT},
    max_n="pairwise_max_n",
))  # fmt: skip
