"""CKNNA: centred kernel nearest-neighbour alignment (Huh, Cheung, Wang, Isola 2024, "The
Platonic Representation Hypothesis", ICML; arXiv 2405.07987, App. A).

Rows scaled to unit norm, K = X X^T and L = Y Y^T (cosine kernels). With M_K[i, j] = 1 when j is
one of the k nearest OTHER examples of i under K (likewise M_L) and M = M_K ∘ M_L,

    CKNNA(X, Y) = HSIC_1(M ∘ K, M ∘ L) / sqrt(HSIC_1(M_K ∘ K, M_K ∘ K) HSIC_1(M_L ∘ L, M_L ∘ L))

with the unbiased HSIC_1 of Song et al. (2012) (the estimator Huh et al. use by default; they add
1e-6 to the denominator, we do not and return NaN with a warning for a non-positive self term).
1 for X = Y; not exactly symmetric in X and Y (the term 1'K~L~1 of a non-symmetric masked
kernel changes when they swap; Huh et al.'s estimator, kept for conformance); with k = n - 1 it is debiased CKA of the cosine kernels. Not bounded to [-1, 1] in
general (the numerator and the self terms use different masks). Invariant to orthogonal maps and
isotropic scaling, not to translation or invertible maps. O(n^2 (d + n)) per pair (capped at
``pairwise_max_n`` examples).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_pair, nan_like, numpy_io, warn_degenerate
from ..registry import INT_AT_LEAST_2, MetricSpec, register
from ._common import cosine_matrix, guard, knn_indices

__all__ = ["cknna"]


def hsic_unbiased(k: Tensor, l: Tensor) -> Tensor:
    """Unbiased HSIC_1 (Song et al. 2012, eq. 5) written for NON-symmetric kernels (the masked
    kernels of CKNNA are not symmetric): with K~, L~ the kernels with zero diagonal,
    [tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n (n-3))."""
    n = k.shape[0]
    kt, lt = k.clone(), l.clone()
    kt.diagonal().zero_()
    lt.diagonal().zero_()
    term = (kt * lt.T).sum() + kt.sum() * lt.sum() / ((n - 1) * (n - 2))
    term = term - 2.0 / (n - 2) * (kt.sum(dim=0) @ lt.sum(dim=1))
    return term / (n * (n - 3))


def _mask(kernel: Tensor, k: int) -> Tensor | None:
    idx = knn_indices(kernel, k, "cknna")
    if idx is None:
        return None
    return torch.zeros_like(kernel).scatter_(1, idx, 1.0)


@numpy_io
def cknna(x: Tensor, y: Tensor, k: int = 10) -> Tensor:
    """CKNNA of ``x`` (n, p) and ``y`` (n, q) with ``k`` neighbours (module doc); n >= 4."""
    x, y = check_pair(x, y, min_n=4)
    pair = guard(x, y, "cknna", min_n=4)
    if pair is None:
        return nan_like(x)
    kx, ky = cosine_matrix(pair[0], "cknna"), cosine_matrix(pair[1], "cknna")
    if kx is None or ky is None:
        return nan_like(x)
    mx, my = _mask(kx, k), _mask(ky, k)
    if mx is None or my is None:
        return nan_like(x)
    m = mx * my
    num = hsic_unbiased(m * kx, m * ky)
    sx, sy = hsic_unbiased(mx * kx, mx * kx), hsic_unbiased(my * ky, my * ky)
    if bool(sx <= 0) or bool(sy <= 0):
        warn_degenerate("cknna", "a non-positive self term (neighbourhood kernel without spread)")
        return nan_like(x)
    return num / torch.sqrt(sx * sy)


register(MetricSpec(
    "cknna", "similarity", frozenset({"orthogonal", "isotropic_scale"}), "reps", cknna,
    "Debiased CKA restricted to mutual k-NN pairs (Huh et al. 2024).",
    (float("-inf"), float("inf")), label="CKNNA",
    direction="A's and B's masked kernels in HSIC order (not symmetric: the masks are not)",
    options={"k": INT_AT_LEAST_2},
    max_n="pairwise_max_n",
))  # fmt: skip
