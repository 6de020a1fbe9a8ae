"""Subspace comparisons in sample space: principal angles, CCA, Procrustes distance.

Principal angles (Bjorck & Golub 1973, "Numerical methods for computing angles between linear
subspaces", Math. Comp. 27): for orthonormal bases Q_A (n, k), Q_B (n, k) the cosines of the
angles are the singular values of Q_A^T Q_B. Small angles are taken from the sines, the singular
values of Q_B - Q_A Q_A^T Q_B, exactly as ``scipy.linalg.subspace_angles`` does (arcsin where
cos^2 >= 1/2), so both agree to rounding.

Representations are centred first, and the subspaces live in R^n (the examples), so the two
widths may differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import (
    centre,
    check_constant,
    check_pair,
    clamp_rounding,
    nan_like,
    nonfinite,
    numpy_io,
    warn_degenerate,
)

__all__ = [
    "SubspaceOverlap",
    "subspace_overlap",
    "principal_angles",
    "cca_r2",
    "procrustes_distance",
]


@dataclass(frozen=True)
class SubspaceOverlap:
    """Result of :func:`subspace_overlap`.

    ``mean_cos2``: 0-d float64, mean of cos^2 over the k principal angles, in [0, 1].
    ``angles``: (k,) float64 radians, ascending.
    """

    mean_cos2: Tensor
    angles: Tensor


def principal_angles(qa: Tensor, qb: Tensor) -> tuple[Tensor, Tensor]:
    """Cosines (descending) and angles (ascending, radians) between span(qa) and span(qb).

    ``qa`` (n, ka), ``qb`` (n, kb) must have orthonormal columns; min(ka, kb) angles are returned.
    """
    if qa.shape[1] < qb.shape[1]:
        qa, qb = qb, qa
    cos = torch.linalg.svdvals(qa.T @ qb).clamp(0.0, 1.0)  # descending
    sin = torch.linalg.svdvals(qb - qa @ (qa.T @ qb)).clamp(0.0, 1.0)  # descending
    from_cos = torch.arccos(cos)  # ascending
    from_sin = torch.arcsin(sin).flip(0)  # ascending
    angles = torch.where(cos * cos >= 0.5, from_sin, from_cos)
    return cos, angles


def _left_basis(xc: Tensor, k: int | None, what: str) -> Tensor | None:
    """Top-k (all numerically non-zero if k is None) left singular vectors of centred ``xc``."""
    u, s, _ = torch.linalg.svd(xc, full_matrices=False)
    tol = max(xc.shape) * torch.finfo(torch.float64).eps * s[0]
    rank = int((s > tol).sum())
    if k is None:
        return u[:, :rank]
    if rank < k:
        warn_degenerate(what, f"a representation has numerical rank {rank} < k={k}")
        return None
    return u[:, :k]


def subspace_overlap(x: Tensor, y: Tensor, k: int) -> SubspaceOverlap:
    """Principal angles between the top-k left singular subspaces of centred ``x`` and ``y``.

    With ``X_c = U_x S_x V_x^T`` (and likewise Y), the k angles between span(U_x[:, :k]) and
    span(U_y[:, :k]) in R^n; ``mean_cos2 = (1/k) sum_i cos^2 theta_i``. For k = p = q and
    orthonormal centred bases this is sqrt(pq)/k times linear CKA. Invariant to orthogonal maps,
    isotropic scaling and translation (not to general invertible maps, which reorder the
    singular directions). Needs 1 <= k <= min(n - 1, p, q) (ValueError otherwise); rank < k,
    constant or non-finite input -> NaN (mean and angles) with a warning.
    """
    x, y = check_pair(x, y, min_n=2)
    n, p, q = x.shape[0], x.shape[1], y.shape[1]
    kmax = min(n - 1, p, q)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= kmax:
        raise ValueError(f"k must be an int in [1, min(n-1, p, q)] = [1, {kmax}], got {k!r}")
    nan = SubspaceOverlap(
        nan_like(x), torch.full((k,), float("nan"), dtype=torch.float64, device=x.device)
    )
    if nonfinite(x, y, what="subspace_overlap"):
        return nan
    xc, yc = centre(x), centre(y)
    if check_constant("subspace_overlap", [(x, xc), (y, yc)]):
        return nan
    ux = _left_basis(xc, k, "subspace_overlap")
    uy = _left_basis(yc, k, "subspace_overlap")
    if ux is None or uy is None:
        return nan
    cos, angles = principal_angles(ux, uy)
    return SubspaceOverlap((cos * cos).mean(), angles)


@numpy_io
def cca_r2(x: Tensor, y: Tensor) -> Tensor:
    """Mean squared canonical correlation R^2_CCA (Kornblith et al. 2019, Table 1; Yanai 1974).

    The canonical correlations of centred X and Y are the cosines of the principal angles
    between their full column spaces (Bjorck & Golub 1973); R^2_CCA = mean_i rho_i^2 over
    min(rank X, rank Y) of them. Invariant to every invertible linear map (and so to orthogonal
    maps, scaling and translation). Meaningful only for n well above p and q: when a
    representation spans all of centred R^n every rho_i is 1.
    """
    x, y = check_pair(x, y, min_n=2)
    if nonfinite(x, y, what="cca_r2"):
        return nan_like(x)
    xc, yc = centre(x), centre(y)
    if check_constant("cca_r2", [(x, xc), (y, yc)]):
        return nan_like(x)
    ux, uy = _left_basis(xc, None, "cca_r2"), _left_basis(yc, None, "cca_r2")
    cos, _ = principal_angles(ux, uy)
    return clamp_rounding((cos * cos).mean(), 0.0, 1.0, "cca_r2")


@numpy_io
def procrustes_distance(x: Tensor, y: Tensor) -> Tensor:
    """Orthogonal Procrustes distance (Ding, Denain, Steinhardt 2021, arXiv 2108.01661, eq. 2).

    On centred X, Y scaled to unit Frobenius norm (zero-padded to a common width):
    ``d = min_{R^T R = I} ||X R - Y||_F^2 = ||X||_F^2 + ||Y||_F^2 - 2 ||X^T Y||_*``
    ``= 2 - 2 ||X^T Y||_*``
    (Schonemann 1966). A distance in [0, 2]: 0 iff Y is a rotation of X up to scale and shift.
    Invariant to orthogonal maps, isotropic scaling and translation, not to invertible maps.
    """
    x, y = check_pair(x, y, min_n=2)
    if nonfinite(x, y, what="procrustes_distance"):
        return nan_like(x)
    xc, yc = centre(x), centre(y)
    if check_constant("procrustes_distance", [(x, xc), (y, yc)]):
        return nan_like(x)
    xc = xc / torch.linalg.norm(xc)
    yc = yc / torch.linalg.norm(yc)
    nuc = torch.linalg.svdvals(xc.T @ yc).sum()
    return clamp_rounding(2.0 - 2.0 * nuc, 0.0, 2.0, "procrustes_distance")
