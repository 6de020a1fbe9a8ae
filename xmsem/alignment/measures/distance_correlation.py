"""Distance correlation (Székely, Rizzo, Bakirov 2007, "Measuring and testing dependence by
correlation of distances", Ann. Statist. 35(6)).

With D_X the n x n Euclidean distance matrix and A = H D_X H its double centring (H = I - 11^T/n),
likewise B for Y, dCov^2(X, Y) = (1/n^2) sum_ij A_ij B_ij (the V-statistic, >= 0) and

    dCor(X, Y) = sqrt( dCov^2(X, Y) / sqrt(dCov^2(X, X) dCov^2(Y, Y)) )        in [0, 1].

1 for X = Y (and for X, Y similar up to rotation, scale and shift); invariant to orthogonal
maps, isotropic scaling and translation, not to general invertible maps. The double-centred
matrix is each representation's own work (``prepare``); a pair is one O(n^2) product.
O(n^2 d) per representation (capped at ``pairwise_max_n`` examples).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .._checks import check_pair, clamp_rounding, numpy_io
from ..registry import SYMMETRIC, MetricSpec, register
from ._common import Undefined, distance_matrix, guard_one, nan_if_undefined, undefined

__all__ = ["distance_correlation"]


def double_centred(x: Tensor, params: Mapping[str, Any]) -> tuple[Tensor, Tensor] | Undefined:
    """(A, dCov^2(X, X)) of one representation (:class:`Undefined`, warned, when constant or
    non-finite)."""
    raw, x = x, guard_one(x, "distance_correlation")
    if x is None:
        return undefined(raw)
    d = distance_matrix(x)
    a = d - d.mean(dim=0, keepdim=True) - d.mean(dim=1, keepdim=True) + d.mean()
    return a, (a * a).mean()


def dcor(a: tuple | Undefined, b: tuple | Undefined, params: Mapping[str, Any]) -> Tensor:
    if (nan := nan_if_undefined(a, b)) is not None:
        return nan
    cross = (a[0] * b[0]).mean().clamp_min(0.0)  # >= 0 in exact arithmetic (V-statistic)
    val = torch.sqrt(cross / torch.sqrt(a[1] * b[1]))
    return clamp_rounding(val, 0.0, 1.0, "distance_correlation")


@numpy_io
def distance_correlation(x: Tensor, y: Tensor) -> Tensor:
    """Distance correlation of ``x`` (n, p) and ``y`` (n, q) (module doc)."""
    x, y = check_pair(x, y)
    return dcor(double_centred(x, {}), double_centred(y, {}), {}).to(x.device)


register(MetricSpec(
    "distance_correlation", "similarity", frozenset({"orthogonal", "isotropic_scale",
                                                     "translation"}), "reps",
    distance_correlation, "Distance correlation of the two representations (Székely et al. 2007).",
    label="distance correlation", direction=SYMMETRIC,
    prepare=double_centred, finish=dcor, max_n="pairwise_max_n",
))  # fmt: skip
