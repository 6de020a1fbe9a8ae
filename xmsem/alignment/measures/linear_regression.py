"""Linear regression fit (Kornblith et al. 2019, Sec. 2; Li et al. 2016; as in ReSi, Klabunde
et al. 2024, Sec. 3.2): the fraction of the variance of X explained by a least-squares linear
map of Y,

    R^2(X | Y) = ||Q_Y^T X_c||_F^2 / ||X_c||_F^2                    in [0, 1],

with X_c the centred X and Q_Y an orthonormal basis of the centred Y's column space (1 for
X = Y). Not symmetric: X (A) is predicted from Y (B). Invariant to orthogonal maps, isotropic
scaling and translation of either side and to every invertible linear map of Y; not to
invertible maps of X. O(n (p q + q^2)).
"""

from __future__ import annotations

from torch import Tensor

from .._checks import centre, check_pair, clamp_rounding, nan_like, numpy_io
from ..registry import MetricSpec, register
from ._common import column_basis, guard

__all__ = ["linear_regression"]


@numpy_io
def linear_regression(x: Tensor, y: Tensor) -> Tensor:
    """R^2 of the least-squares fit of ``x`` (n, p) from ``y`` (n, q) (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "linear_regression")
    if pair is None:
        return nan_like(x)
    xc, qy = centre(pair[0]), column_basis(centre(pair[1]))
    val = (qy.T @ xc).square().sum() / xc.square().sum()
    return clamp_rounding(val, 0.0, 1.0, "linear_regression")


register(MetricSpec(
    "linear_regression", "similarity", frozenset({"orthogonal", "isotropic_scale", "translation"}),
    "reps", linear_regression, "R^2 of the least-squares prediction of A from B (ReSi).",
    label="linear regression R²", direction="A predicted by a linear map of B",
    one_sided={"y": frozenset({"invertible_linear"})},
))  # fmt: skip
