"""Centred kernel alignment (CKA), linear and RBF, biased and debiased.

Definitions (Kornblith, Norouzi, Lee, Hinton 2019, "Similarity of Neural Network
Representations Revisited", ICML; arXiv 1905.00414):

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) * HSIC(L, L))

with K, L the n x n kernel (Gram) matrices of the two representations of the same n examples.

* Biased estimator (HSIC_0, Gretton et al. 2005): ``HSIC_0 = tr(K H L H) / (n - 1)^2`` with
  ``H = I - 11^T / n``. The ``(n-1)^-2`` cancels in CKA and is dropped. Range [0, 1].
* Debiased estimator (HSIC_1, Song, Smola, Gretton, Bedo, Borgwardt 2012, JMLR 13, eq. 5):
  with ``K~`` = K with its diagonal set to zero,

      HSIC_1 = [ tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1 ] / (n(n-3))

  an unbiased U-statistic; needs n >= 4. HSIC_1(K, L) is the inner product of the U-centred
  matrices (Szekely & Rizzo 2014), so by Cauchy-Schwarz debiased CKA lies in **[-1, 1]**, not
  [0, 1]: a slightly negative value is an honest estimate of "no similarity" (clipping it at 0
  would re-introduce the bias the estimator removes, e.g. when averaging over seeds).

Linear kernel, features centred first (``X <- X - mean``, so ``K = X X^T`` is already centred):

* feature-space form (used when n > p + q; O(n (p^2 + q^2 + pq)) time, O(p^2 + q^2) memory)::

      CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)

  and for HSIC_1 with ``a_i = ||x_i||^2``, ``b_i = ||y_i||^2`` (valid only for centred X, Y, where
  ``K 1 = 0``)::

      tr(K~ L~) = ||X^T Y||_F^2 - a.b,   1^T K~ 1 = -sum(a),   1^T K~ L~ 1 = a.b

* Gram form (used when n <= p + q): the same quantities from the n x n matrices. Both forms agree
  to rounding (tests check 1e-10).

RBF kernel: ``K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))`` with
``sigma = threshold * sqrt(median of the squared pairwise distances)`` (Kornblith et al. 2019).
Convention, as in their reference code: the median is numpy's (mean of the two middle values)
over all n^2 entries of the squared-distance matrix, *including* its zero diagonal, so that our
numbers match the published ones; it differs from the off-diagonal median by O(1/n). The RBF
Gram matrices cost O(n^2) memory.

All computation is in float64 on the input's device. Degenerate input: see ``_checks``: NaN/inf
in the input or a constant representation -> NaN with a ``DegenerateInputWarning``; mismatched n,
n < 2 (biased) or n < 4 (debiased) -> ``ValueError``. Constant *columns* are fine (they add
nothing after centring).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ._checks import (
    as_matrix,
    centre,
    check_constant,
    check_pair,
    cosine_ratio,
    nan_like,
    nonfinite,
    numpy_io,
    warn_degenerate,
)

__all__ = [
    "linear_cka",
    "rbf_cka",
    "rbf_centred_kernel",
    "rbf_cka_of_kernels",
    "hsic_unbiased",
    "rbf_gram",
    "centre_gram",
]


def centre_gram(k: Tensor) -> Tensor:
    """Double-centre a Gram matrix: ``H K H`` with ``H = I - 11^T/n`` (O(n^2))."""
    row = k.mean(dim=0, keepdim=True)
    col = k.mean(dim=1, keepdim=True)
    return k - row - col + k.mean()


def hsic_unbiased(k: Tensor, l: Tensor) -> Tensor:
    """Unbiased HSIC_1 of Song et al. (2012, eq. 5) from two n x n Gram matrices (n >= 4).

    ValueError unless ``k`` and ``l`` are square, of the same size, with n >= 4 (the estimator
    divides by (n - 1)(n - 2) and n(n - 3)).
    """
    for name, g in (("k", k), ("l", l)):
        if not isinstance(g, Tensor) or g.ndim != 2 or g.shape[0] != g.shape[1]:
            shape = tuple(g.shape) if isinstance(g, Tensor) else type(g).__name__
            raise ValueError(f"hsic_unbiased: {name} must be a square (n, n) tensor, got {shape}")
    if k.shape != l.shape:
        raise ValueError(
            f"hsic_unbiased: k and l must have the same shape, got {tuple(k.shape)} and "
            f"{tuple(l.shape)}"
        )
    n = k.shape[0]
    if n < 4:
        raise ValueError(f"hsic_unbiased needs n >= 4 examples, got n={n}")
    kt = k.clone()
    lt = l.clone()
    kt.diagonal().zero_()
    lt.diagonal().zero_()
    k1 = kt.sum(dim=1)
    l1 = lt.sum(dim=1)
    term = (kt * lt).sum()
    term = term + k1.sum() * l1.sum() / ((n - 1) * (n - 2))
    term = term - 2.0 / (n - 2) * (k1 @ l1)
    return term / (n * (n - 3))


def _linear_terms_feature(
    xc: Tensor, yc: Tensor, debiased: bool, traces: bool = False
) -> tuple[Tensor, ...]:
    """(HSIC(K,L), HSIC(K,K), HSIC(L,L)) for centred features, feature-space form; with
    ``traces=True`` also ``||X_c||_F^2`` and ``||Y_c||_F^2`` (diagonals of the products)."""
    cxy = xc.T @ yc
    cxx = xc.T @ xc
    cyy = yc.T @ yc
    hxy = (cxy * cxy).sum()
    hxx = (cxx * cxx).sum()
    hyy = (cyy * cyy).sum()
    extra = (cxx.trace(), cyy.trace()) if traces else ()
    if not debiased:
        return (hxy, hxx, hyy, *extra)
    n = xc.shape[0]
    a = (xc * xc).sum(dim=1)
    b = (yc * yc).sum(dim=1)
    return (
        _debias(hxy, a, b, n),
        _debias(hxx, a, a, n),
        _debias(hyy, b, b, n),
        *extra,
    )


def _debias(frob2: Tensor, a: Tensor, b: Tensor, n: int) -> Tensor:
    """HSIC_1 from ||X^T Y||_F^2 and the row norms a, b of centred X, Y (see module doc)."""
    return debias_terms(frob2, a @ b, a.sum(), b.sum(), n)


def debias_terms(frob2: Tensor, ab: Tensor, sum_a: Tensor, sum_b: Tensor, n: int) -> Tensor:
    """HSIC_1 for centred linear features from its sufficient statistics.

    ``frob2 = ||X^T Y||_F^2``, ``ab = sum_i ||x_i||^2 ||y_i||^2``, ``sum_a = ||X||_F^2``,
    ``sum_b = ||Y||_F^2``: ``[frob2 - ab + sum_a sum_b / ((n-1)(n-2)) - 2 ab / (n-2)] / (n(n-3))``.
    """
    out = frob2 - ab + sum_a * sum_b / ((n - 1) * (n - 2)) - 2.0 * ab / (n - 2)
    return out / (n * (n - 3))


def _linear_terms_gram(xc: Tensor, yc: Tensor, debiased: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(HSIC(K,L), HSIC(K,K), HSIC(L,L)) for centred features, from n x n Gram matrices."""
    k = xc @ xc.T
    l = yc @ yc.T
    if debiased:
        return hsic_unbiased(k, l), hsic_unbiased(k, k), hsic_unbiased(l, l)
    return (k * l).sum(), (k * k).sum(), (l * l).sum()


@numpy_io
def linear_cka(
    x: Tensor,
    y: Tensor,
    debiased: bool = False,
    *,
    method: Literal["auto", "feature", "gram"] = "auto",
) -> Tensor:
    """Linear CKA between ``x`` (n, p) and ``y`` (n, q); a 0-d float64 tensor.

    ``CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on column-centred X, Y (Kornblith et al.
    2019, eq. 4); ``debiased=True`` uses Song et al.'s (2012) unbiased HSIC (see module doc; range
    [-1, 1], n >= 4). ``method="auto"`` picks the feature-space form when n > p + q and the Gram
    form otherwise; ``"feature"`` / ``"gram"`` force one (they agree to rounding).

    Invariant to orthogonal maps, isotropic scaling and translation of either input; not to
    general invertible linear maps. Degenerate input -> NaN + ``DegenerateInputWarning``.
    """
    if method not in ("auto", "feature", "gram"):
        raise ValueError(f"method must be 'auto', 'feature' or 'gram', got {method!r}")
    x_in, y_in = x, y
    x, y = check_pair(x, y, min_n=4 if debiased else 2)
    what = "linear_cka" + ("(debiased)" if debiased else "")
    n, p = x.shape
    q = y.shape[1]
    use_feature = method == "feature" or (method == "auto" and n > p + q)
    mx, my = x.mean(dim=0, keepdim=True), y.mean(dim=0, keepdim=True)
    if use_feature:
        # Centre in place when check_pair already made a float64 copy (saves a pass and an
        # allocation); never modify the caller's tensor.
        xc = x.sub_(mx) if x.data_ptr() != _data_ptr(x_in) else x - mx
        yc = y.sub_(my) if y.data_ptr() != _data_ptr(y_in) else y - my
        # Fast path: no extra passes over the data. Non-finite input propagates into the
        # products (checked below); ||X_c||_F^2 = tr(X_c^T X_c) and ||X||_F^2 =
        # ||X_c||_F^2 + n ||mean||^2 give the constant-representation test for free.
        hxy, hxx, hyy, sxx, syy = _linear_terms_feature(xc, yc, debiased, traces=True)
        if not bool(torch.isfinite(torch.stack([hxy, hxx, hyy])).all()):
            if nonfinite(xc, yc, what=what):  # NaN/inf in the input propagate into xc, yc
                return nan_like(x)
            warn_degenerate(what, "overflow in float64 products")
            return nan_like(x)
        tol = (8 * n * torch.finfo(torch.float64).eps) ** 2
        for sc, m in ((sxx, mx), (syy, my)):
            if bool(sc <= tol * (sc + n * (m * m).sum())):
                warn_degenerate(what, "a representation is constant (all examples identical)")
                return nan_like(x)
    else:
        xc, yc = x - mx, y - my
        if nonfinite(x, y, what=what):
            return nan_like(x)
        if check_constant(what, [(x, xc), (y, yc)]):
            return nan_like(x)
        hxy, hxx, hyy = _linear_terms_gram(xc, yc, debiased)
    return cosine_ratio(hxy, hxx, hyy, what, lo=-1.0 if debiased else 0.0)


def _data_ptr(a: Tensor | np.ndarray) -> int:
    """Address of the first element (a numpy array may share memory with its tensor view)."""
    return a.data_ptr() if isinstance(a, Tensor) else a.__array_interface__["data"][0]


def _numpy_median(v: Tensor) -> Tensor:
    """Median as numpy defines it (mean of the two middle values for an even count)."""
    v = v.reshape(-1)
    m = v.numel()
    if m % 2 == 1:
        return v.kthvalue((m + 1) // 2).values
    return 0.5 * (v.kthvalue(m // 2).values + v.kthvalue(m // 2 + 1).values)


def _median_sq_distances(d2: Tensor) -> Tensor:
    """:func:`_numpy_median` of a symmetric n x n distance matrix with a zero diagonal, from its
    upper triangle alone (half the selection work).

    Sorted, the n^2 entries are the n diagonal zeros followed by every off-diagonal value twice
    (distances are >= 0), so the entry at 0-based position p >= n is the ((p - n) // 2)-th smallest
    upper-triangle value, and numpy's median averages positions (n^2 - 1) // 2 and n^2 // 2.
    """
    n = d2.shape[0]
    upper = d2[torch.triu_indices(n, n, offset=1, device=d2.device).unbind()]

    lo, hi = (n * n - 1) // 2, (n * n) // 2
    if hi < n:  # n = 1
        return d2.new_zeros(())
    k_hi = (hi - n) // 2 + 1  # 1-based rank in the upper triangle
    v_hi = upper.kthvalue(k_hi).values
    if lo == hi or lo < n:
        return v_hi if lo == hi else 0.5 * v_hi
    if (lo - n) // 2 + 1 == k_hi:
        return v_hi
    # rank k_hi - 1: v_hi itself when fewer than k_hi - 1 values lie strictly below it (ties),
    # else the largest of those below
    below = upper[upper < v_hi]
    v_lo = v_hi if below.numel() < k_hi - 1 else below.max()
    return 0.5 * (v_lo + v_hi)


def _sq_distances(xc: Tensor) -> Tensor:
    """n x n squared Euclidean distances, exact zeros on the diagonal, clamped at 0.

    ``(r_i + r_j) - 2 g_ij`` in this order keeps the matrix exactly symmetric (the median reads
    the upper triangle only)."""
    r = (xc * xc).sum(dim=1)
    d2 = r[:, None] + r[None, :] - 2.0 * (xc @ xc.T)
    d2.clamp_(min=0.0)
    d2.diagonal().zero_()
    return d2


def rbf_gram(x: Tensor, threshold: float = 1.0) -> Tensor | None:
    """RBF Gram matrix of ``x`` (n, d) with the median-heuristic bandwidth (module doc).

    Returns None (after a warning) when the median squared distance is zero (more than half of
    the pairs coincide), where the bandwidth is undefined.
    """
    if not (isinstance(threshold, (int, float)) and threshold > 0 and threshold < float("inf")):
        raise ValueError(f"threshold must be a positive finite number, got {threshold!r}")
    d2 = _sq_distances(centre(x))
    med = _median_sq_distances(d2)
    if not bool(med > 0):
        warn_degenerate("rbf_cka", "median squared pairwise distance is 0 (bandwidth undefined)")
        return None
    return d2.div_(-2.0 * threshold**2 * med).exp_()  # in place: d2 is ours


@numpy_io
def rbf_cka(x: Tensor, y: Tensor, threshold: float = 1.0, debiased: bool = False) -> Tensor:
    """RBF-kernel CKA between ``x`` (n, p) and ``y`` (n, q); a 0-d float64 tensor.

    ``K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))``, ``sigma = threshold * sqrt(median ||x_i -
    x_j||^2)`` per representation (Kornblith et al. 2019; median convention in the module doc),
    then ``CKA = <HKH, HLH>_F / (||HKH||_F ||HLH||_F)`` or, with ``debiased=True``, the ratio of
    Song et al.'s (2012) unbiased HSIC_1 terms (range [-1, 1], n >= 4). O(n^2) memory.

    Invariant to orthogonal maps, isotropic scaling (the bandwidth scales with the data) and
    translation; not to general invertible linear maps.
    """
    x, y = check_pair(x, y, min_n=4 if debiased else 2)
    what = "rbf_cka" + ("(debiased)" if debiased else "")
    if nonfinite(x, y, what=what):
        return nan_like(x)
    if check_constant(what, [(x, centre(x)), (y, centre(y))]):
        return nan_like(x)
    k = rbf_gram(x, threshold)
    l = rbf_gram(y, threshold)
    if k is None or l is None:
        return nan_like(x)
    if debiased:
        hxy, hxx, hyy = hsic_unbiased(k, l), hsic_unbiased(k, k), hsic_unbiased(l, l)
        return cosine_ratio(hxy, hxx, hyy, what, lo=-1.0)
    kc, lc = centre_gram(k).view(-1), centre_gram(l).view(-1)
    return cosine_ratio(torch.dot(kc, lc), torch.dot(kc, kc), torch.dot(lc, lc), what)


def rbf_centred_kernel(x: Tensor, threshold: float = 1.0) -> tuple[Tensor, Tensor]:
    """The per-representation part of (biased) :func:`rbf_cka`: ``(vec(HKH), ||HKH||_F^2)``,
    so a representation met in several pairs builds its n x n kernel once. A degenerate ``x``
    (non-finite, constant, zero median distance) gives ``(NaN, NaN)`` 0-d tensors after the
    warning :func:`rbf_cka` gives."""
    x = as_matrix(x, "x")
    if x.shape[0] < 2:
        raise ValueError(f"rbf_cka needs at least 2 examples, got n={x.shape[0]}")
    nan = nan_like(x)
    if nonfinite(x, what="rbf_cka") or check_constant("rbf_cka", [(x, centre(x))]):
        return nan, nan
    k = rbf_gram(x, threshold)
    if k is None:
        return nan, nan
    kc = centre_gram(k).view(-1)
    return kc, torch.dot(kc, kc)


def rbf_cka_of_kernels(a: tuple[Tensor, Tensor], b: tuple[Tensor, Tensor]) -> Tensor:
    """Biased RBF CKA ``<HKH, HLH>_F / (||HKH||_F ||HLH||_F)`` from two
    :func:`rbf_centred_kernel` parts (NaN when either is degenerate)."""
    (kc, kk), (lc, ll) = a, b
    if kc.ndim == 0 or lc.ndim == 0:
        return kc if kc.ndim == 0 else lc
    if kc.shape != lc.shape:
        raise ValueError(
            f"x and y must have the same number of rows, got {kc.numel()} != {lc.numel()} kernel entries"
        )
    return cosine_ratio(torch.dot(kc, lc), kk, ll, "rbf_cka")
