"""Projection-weighted CCA (Morcos, Raghu, Bengio 2018, "Insights on representational
similarity in neural networks with canonical correlation", NeurIPS).

With the canonical correlations rho_i of centred X and Y (i = 1..r, r = min(rank X, rank Y)) and
h_i = U_X l_i the canonical variates of X (n-vectors, unit norm), each rho_i is weighted by how
much of X's neurons it accounts for, alpha_i = sum_j |<h_i, x_j>| over the centred columns x_j:

    PWCCA(X, Y) = sum_i alpha_i rho_i / sum_i alpha_i              in [0, 1], 1 for X = Y.

Not symmetric: the weights come from X (A). Invariant to isotropic scaling and translation of
either side and to every invertible linear map of Y; not to orthogonal maps of X (they change
the neuron projections). PyPI ``repsim`` reports the mean of both directions.
"""

from __future__ import annotations

from torch import Tensor

from .._checks import centre, check_pair, clamp_rounding, nan_like, numpy_io
from ..registry import MetricSpec, register
from ._common import canonical, column_basis, guard

__all__ = ["pwcca"]


@numpy_io
def pwcca(x: Tensor, y: Tensor) -> Tensor:
    """PWCCA of ``x`` (n, p) against ``y`` (n, q), weights from ``x`` (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "pwcca")
    if pair is None:
        return nan_like(x)
    xc, yc = centre(pair[0]), centre(pair[1])
    ux = column_basis(xc)
    rho, left, _ = canonical(ux, column_basis(yc))
    variates = ux @ left[:, : rho.shape[0]]  # (n, r) canonical variates of X
    alpha = (variates.T @ xc).abs().sum(dim=1)
    return clamp_rounding((alpha * rho).sum() / alpha.sum(), 0.0, 1.0, "pwcca")


register(MetricSpec(
    "pwcca", "similarity", frozenset({"isotropic_scale", "translation"}), "reps", pwcca,
    "Canonical correlations weighted by A's neuron projections (Morcos et al. 2018).",
    label="PWCCA", direction="canonical correlations weighted by how much of A they explain",
    one_sided={"y": frozenset({"orthogonal", "invertible_linear"})},
))  # fmt: skip
