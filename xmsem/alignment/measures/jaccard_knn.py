"""Jaccard similarity of k-nearest-neighbour sets (Schumacher et al. 2021; Wang et al. 2020;
as in ReSi, Klabunde et al. 2024, "Similarity of Neural Network Models: A Survey of Functional
and Representational Measures", Sec. 3.6).

With N_X(i), N_Y(i) the k nearest OTHER examples of example i by cosine similarity,

    J_k(X, Y) = (1/n) sum_i |N_X(i) ∩ N_Y(i)| / |N_X(i) ∪ N_Y(i)|,

and since both sets have k elements, |∪| = 2k - |∩|. In [0, 1], 1 for X = Y. Invariant to
orthogonal maps and isotropic scaling, not to translation or invertible maps. Neighbour lists
per representation (``prepare``), O(n k^2) per pair; O(n^2 d) per representation (capped at
``pairwise_max_n``).
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

__all__ = ["jaccard_knn"]


neighbours = cosine_neighbours("jaccard_knn")  # the prepare step: (n, k) neighbour indices


def jaccard(a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    k = a.shape[1]
    shared = (a[:, :, None] == b[:, None, :]).any(dim=2).sum(dim=1).to(torch.float64)
    return (shared / (2 * k - shared)).mean()


@numpy_io
def jaccard_knn(x: Tensor, y: Tensor, k: int = 10) -> Tensor:
    """Mean Jaccard similarity of the cosine k-NN sets of ``x`` and ``y`` (module doc)."""
    x, y = check_pair(x, y)
    p = {"k": k}
    return jaccard(neighbours(x, p), neighbours(y, p), p).to(x.device)


register(MetricSpec(
    "jaccard_knn", "similarity", frozenset({"orthogonal", "isotropic_scale"}), "reps",
    jaccard_knn, "Mean Jaccard similarity of cosine k-NN sets (ReSi, Klabunde et al. 2024).",
    label="kNN Jaccard", direction=SYMMETRIC, options={"k": POSITIVE_INT},
    prepare=neighbours, finish=jaccard, max_n="pairwise_max_n",
))  # fmt: skip
