"""Rank similarity of k-nearest-neighbour lists (Wang et al. 2020, "Towards understanding
learning representations: to what extent do different neural networks learn the same
representation"; the form of ReSi, Klabunde et al. 2024, Sec. 3.6).

With r_X(i, j) in 1..k the rank of j among the cosine k-nearest neighbours of i in X, and
S_i = N_X(i) ∩ N_Y(i),

    v_i = (1 / H_{|S_i|}) sum_{j in S_i} 2 / ((1 + |r_X(i,j) - r_Y(i,j)|) (r_X(i,j) + r_Y(i,j))),

H_m = sum_{l<=m} 1/l (v_i = 0 for empty S_i), and the measure is the mean of v_i. In [0, 1]:
1 for identical neighbour lists (same order), 0 for disjoint ones. Invariant to orthogonal maps
and isotropic scaling, not to translation or invertible maps. Neighbour lists per
representation (``prepare``), O(n k^2) per pair (capped at ``pairwise_max_n`` examples).
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
    harmonic,
    nan_if_undefined,
)

__all__ = ["rank_similarity"]


neighbours = cosine_neighbours("rank_similarity")  # the prepare step: (n, k) neighbour indices


def rank_score(a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    k = a.shape[1]
    same = a[:, :, None] == b[:, None, :]  # (n, k, k): neighbour at rank r in X is rank s in Y
    r = torch.arange(1, k + 1, dtype=torch.float64, device=a.device)
    weight = 2.0 / ((1.0 + (r[:, None] - r[None, :]).abs()) * (r[:, None] + r[None, :]))
    score = (same * weight).sum(dim=(1, 2))
    count = same.sum(dim=(1, 2))
    norm = harmonic(count, k)
    per = torch.where(count > 0, score / norm.clamp_min(1.0), torch.zeros_like(score))
    return per.mean()


@numpy_io
def rank_similarity(x: Tensor, y: Tensor, k: int = 10) -> Tensor:
    """Rank similarity of the cosine k-NN lists of ``x`` and ``y`` (module doc)."""
    x, y = check_pair(x, y)
    p = {"k": k}
    return rank_score(neighbours(x, p), neighbours(y, p), p).to(x.device)


register(MetricSpec(
    "rank_similarity", "similarity", frozenset({"orthogonal", "isotropic_scale"}), "reps",
    rank_similarity, "Rank agreement of shared cosine k-NN (Wang et al. 2020; ReSi).",
    label="kNN rank similarity", direction=SYMMETRIC, options={"k": POSITIVE_INT},
    prepare=neighbours, finish=rank_score, max_n="pairwise_max_n",
))  # fmt: skip
