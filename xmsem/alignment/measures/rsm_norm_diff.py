"""RSM norm difference (ReSi, Klabunde et al. 2024, "Similarity of Neural Network Models: A
Survey of Functional and Representational Measures", Sec. 3.3; Shahbazi et al. 2021).

With D_X, D_Y the n x n Euclidean distance matrices (representational similarity matrices),

    d(X, Y) = ||D_X - D_Y||_F                                   >= 0, 0 for X = Y.

A distance that keeps scale: invariant to orthogonal maps and translation, not to scaling or
invertible maps. (ReSi's implementation takes the spectral norm of the difference although its
comment intends the vectorised norm; we use the Frobenius norm of the survey's definition.)
The distance matrix is each representation's own work (``prepare``); O(n^2 d), capped at
``pairwise_max_n`` examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .._checks import check_pair, numpy_io
from ..registry import SYMMETRIC, MetricSpec, register
from ._common import Undefined, distance_matrix, guard_one, nan_if_undefined, undefined

__all__ = ["rsm_norm_diff"]


def distances(x: Tensor, params: Mapping[str, Any]) -> Tensor | Undefined:
    v = guard_one(x, "rsm_norm_diff")
    return undefined(x) if v is None else distance_matrix(v)


def frobenius_gap(
    a: Tensor | Undefined, b: Tensor | Undefined, params: Mapping[str, Any]
) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    return torch.linalg.matrix_norm(a - b)


@numpy_io
def rsm_norm_diff(x: Tensor, y: Tensor) -> Tensor:
    """Frobenius norm of the difference of the Euclidean distance matrices (module doc)."""
    x, y = check_pair(x, y)
    return frobenius_gap(distances(x, {}), distances(y, {}), {}).to(x.device)


register(MetricSpec(
    "rsm_norm_diff", "distance", frozenset({"orthogonal", "translation"}), "reps", rsm_norm_diff,
    "Frobenius norm of the difference of the distance matrices (ReSi, Klabunde et al. 2024).",
    (0.0, float("inf")), label="RSM norm difference", direction=SYMMETRIC,
    prepare=distances, finish=frobenius_gap, max_n="pairwise_max_n",
))  # fmt: skip
