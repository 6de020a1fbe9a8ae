"""Eigenspace overlap score (May, Zhang, Dao, Ré 2019, "On the downstream performance of
compressed word embeddings", NeurIPS; as in ReSi, Klabunde et al. 2024, Sec. 3.3).

With U_X (n, rank X) and U_Y orthonormal bases of the column spaces of the UNcentred
representations (left singular vectors of numerical rank) and p, q their widths,

    EOS(X, Y) = ||U_X^T U_Y||_F^2 / max(p, q)                      in [0, 1],

1 for X = Y of full column rank (a rank-deficient X gives rank/width). Invariant to every
invertible linear map of the features (so to orthogonal maps and scaling), not to translation
(no centring, as ReSi). O(n (p^2 + q^2)).
"""

from __future__ import annotations

from torch import Tensor

from .._checks import check_pair, clamp_rounding, nan_like, numpy_io
from ..registry import SYMMETRIC, MetricSpec, register
from ._common import column_basis, guard

__all__ = ["eigenspace_overlap"]


@numpy_io
def eigenspace_overlap(x: Tensor, y: Tensor) -> Tensor:
    """Eigenspace overlap score of ``x`` (n, p) and ``y`` (n, q) (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "eigenspace_overlap")
    if pair is None:
        return nan_like(x)
    if not bool(pair[0].abs().sum() > 0) or not bool(pair[1].abs().sum() > 0):
        from .._checks import warn_degenerate

        warn_degenerate("eigenspace_overlap", "a representation is zero (no column space)")
        return nan_like(x)
    ux, uy = column_basis(pair[0]), column_basis(pair[1])
    val = (ux.T @ uy).square().sum() / max(x.shape[1], y.shape[1])
    return clamp_rounding(val, 0.0, 1.0, "eigenspace_overlap")


register(MetricSpec(
    "eigenspace_overlap", "similarity",
    frozenset({"orthogonal", "isotropic_scale", "invertible_linear"}), "reps", eigenspace_overlap,
    "||U_X^T U_Y||_F^2 / max width of the column-space bases (May et al. 2019).",
    label="eigenspace overlap", direction=SYMMETRIC,
))  # fmt: skip
