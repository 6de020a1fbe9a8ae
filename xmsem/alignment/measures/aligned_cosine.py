"""Aligned cosine similarity (Hamilton, Leskovec, Jurafsky 2016, "Diachronic word embeddings
reveal statistical laws of semantic change", ACL; as in ReSi, Klabunde et al. 2024, Sec. 3.2).

X is rotated onto Y by orthogonal Procrustes (both zero-padded to a common width),
R = argmin_{R^T R = I} ||X R - Y||_F, and the rows are compared by cosine:

    AC(X, Y) = (1/n) sum_i cos((X R)_i, y_i)                        in [-1, 1], 1 for X = Y.

Uncentred, as ReSi. Invariant to orthogonal maps and isotropic scaling, not to translation or
invertible maps. A zero example leaves its cosine undefined: NaN with a warning (ReSi drops
such rows). O(n d^2).
"""

from __future__ import annotations

from torch import Tensor

from .._checks import check_pair, clamp_rounding, nan_like, numpy_io
from ..registry import SYMMETRIC, MetricSpec, register
from ._common import guard, pad_to, procrustes_rotation, unit_rows

__all__ = ["aligned_cosine"]


@numpy_io
def aligned_cosine(x: Tensor, y: Tensor) -> Tensor:
    """Mean cosine of the Procrustes-aligned rows of ``x`` and ``y`` (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "aligned_cosine")
    if pair is None:
        return nan_like(x)
    width = max(x.shape[1], y.shape[1])
    xp, yp = pad_to(pair[0], width), pad_to(pair[1], width)
    ux, uy = (
        unit_rows(xp @ procrustes_rotation(xp, yp), "aligned_cosine"),
        unit_rows(yp, "aligned_cosine"),
    )
    if ux is None or uy is None:
        return nan_like(x)
    return clamp_rounding((ux * uy).sum(dim=1).mean(), -1.0, 1.0, "aligned_cosine")


register(MetricSpec(
    "aligned_cosine", "similarity", frozenset({"orthogonal", "isotropic_scale"}), "reps",
    aligned_cosine, "Mean row cosine after orthogonal Procrustes (Hamilton et al. 2016; ReSi).",
    (-1.0, 1.0), label="aligned cosine", direction=SYMMETRIC,
))  # fmt: skip
