"""Mean canonical correlation (Hotelling 1936; the "mean CCA" of Raghu et al. 2017 and of ReSi,
Klabunde et al. 2024, Sec. 3.1).

The canonical correlations rho_1 >= ... >= rho_r of centred X and Y (r = min(rank X, rank Y))
are the cosines of the principal angles between their column spaces (Bjorck & Golub 1973):
the singular values of U_X^T U_Y for orthonormal bases U_X, U_Y. Then

    mean CCA(X, Y) = (1/r) sum_i rho_i                            in [0, 1], 1 for X = Y.

(``cca_r2`` is the mean of rho_i^2.) Invariant to every invertible linear map and translation.
Meaningful only for n well above the widths: a representation spanning all of centred R^n
gives rho_i = 1. O(n (p^2 + q^2)).
"""

from __future__ import annotations

from torch import Tensor

from .._checks import centre, check_pair, nan_like, numpy_io
from ..registry import INVARIANCES, SYMMETRIC, MetricSpec, register
from ._common import canonical, column_basis, guard

__all__ = ["mean_cca"]


@numpy_io
def mean_cca(x: Tensor, y: Tensor) -> Tensor:
    """Mean canonical correlation of ``x`` (n, p) and ``y`` (n, q) (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "mean_cca")
    if pair is None:
        return nan_like(x)
    rho, _, _ = canonical(column_basis(centre(pair[0])), column_basis(centre(pair[1])))
    return rho.mean()


register(MetricSpec(
    "mean_cca", "similarity", INVARIANCES, "reps", mean_cca,
    "Mean canonical correlation (Hotelling 1936; Raghu et al. 2017).",
    label="mean CCA", direction=SYMMETRIC,
))  # fmt: skip
