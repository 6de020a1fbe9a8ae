"""GULP distance (Boix-Adserà, Lawrence, Stepaniants, Rigollet 2022, "GULP: a prediction-based
metric between representations", NeurIPS).

How differently the two representations serve ridge regression of any bounded linear target.
Each representation is centred and scaled so that ||X||_F^2 = n (as the GULP code and ReSi do),
with covariance S_X = X^T X / n, cross covariance S_XY = X^T Y / n and ridge inverses
A_X = (S_X + lam I)^{-1}:

    GULP_lam(X, Y)^2 = tr(A_X S_X A_X S_X) + tr(A_Y S_Y A_Y S_Y) - 2 tr(A_X S_XY A_Y S_XY^T)
                     = ||H_X - H_Y||_F^2,     H_X = X (X^T X + n lam I)^{-1} X^T,

the distance between the ridge hat matrices; we return GULP_lam (ReSi reports its square).
0 for X = Y. Invariant to orthogonal maps, isotropic scaling and translation (by the
normalisation); to every invertible map only at lam = 0 (a CCA distance), so not at the default
lam = 0.01. O(n d^2 + d^3).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import centre, check_pair, nan_like, numpy_io
from ..registry import NONNEGATIVE_FLOAT, SYMMETRIC, MetricSpec, register
from ._common import guard

__all__ = ["gulp"]


def _hat_factor(x: Tensor, lam: float) -> Tensor:
    """F with H_X = F F^T: X V diag(1/sqrt(n (e + lam))) from the eigenpairs (e, V) of S_X
    (eigen-directions of zero variance dropped: they add nothing to H_X)."""
    n = x.shape[0]
    evals, evecs = torch.linalg.eigh(x.T @ x / n)
    keep = evals > evals[-1] * x.shape[1] * torch.finfo(torch.float64).eps
    evals, evecs = evals[keep], evecs[:, keep]
    return (x @ evecs) / torch.sqrt(n * (evals + lam))


@numpy_io
def gulp(x: Tensor, y: Tensor, lam: float = 0.01) -> Tensor:
    """GULP distance of ``x`` (n, p) and ``y`` (n, q) with ridge ``lam`` (module doc)."""
    x, y = check_pair(x, y)
    pair = guard(x, y, "gulp")
    if pair is None:
        return nan_like(x)
    n = x.shape[0]
    a, b = centre(pair[0]), centre(pair[1])
    a, b = a * (n**0.5 / torch.linalg.norm(a)), b * (n**0.5 / torch.linalg.norm(b))
    fx, fy = _hat_factor(a, lam), _hat_factor(b, lam)
    # ||F F^T - G G^T||_F^2 = ||F^T F||^2 + ||G^T G||^2 - 2 ||F^T G||^2, all small matrices
    sq = (fx.T @ fx).square().sum() + (fy.T @ fy).square().sum() - 2 * (fx.T @ fy).square().sum()
    return sq.clamp_min(0.0).sqrt()


register(MetricSpec(
    "gulp", "distance", frozenset({"orthogonal", "isotropic_scale", "translation"}), "reps", gulp,
    "Distance of the ridge-regression hat matrices (Boix-Adsera et al. 2022).",
    (0.0, float("inf")), label="GULP distance", direction=SYMMETRIC, options={"lam": NONNEGATIVE_FLOAT},
))  # fmt: skip
