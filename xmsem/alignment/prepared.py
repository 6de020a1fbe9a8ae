"""Prepared representations: the per-representation work of linear CKA and subspace overlap,
done once and reused when one representation is compared with many others.

Linear CKA on centred X (n, p), Y (n, q) (Kornblith et al. 2019; module doc of ``cka``)::

    CKA = ||X^T Y||_F^2 / (||X^T X||_F ||Y^T Y||_F)

and its debiased form (Song et al. 2012) needs, besides ``||X^T Y||_F^2``, only the row norms
``a_i = ||x_i||^2`` of each side. So per *pair* only the cross product ``X^T Y`` (O(n p q)) is
new; centring, the float64 cast, ``||X^T X||_F^2``, ``HSIC_1(K, K)`` and the top-k left singular
vectors (from the eigendecomposition of ``X^T X``: ``X V = U S``) belong to X alone. Comparing m
representations pairwise then costs m + m(m-1)/2 products instead of 3 m(m-1)/2. Results equal
:func:`~xmsem.alignment.linear_cka` and :func:`~xmsem.alignment.subspace_overlap` to rounding
(tests check 1e-10 and 1e-8).

Wide layers (p > n, e.g. a conv map of 64 x 14 x 14 = 12,544 features on 2,000 probe examples)
are prepared on the examples' side instead: the kernel ``K = X X^T`` (n x n) replaces the Gram
``X^T X`` (p x p), since ``||X^T X||_F = ||K||_F``, ``||X^T Y||_F^2 = <K, L>_F = tr(Y^T K Y)`` and
the left singular vectors of X are the eigenvectors of K. Cost O(n^2 p) and O(n^2) memory instead
of O(n p^2) and O(p^2); the top-k eigenvectors come from :func:`~xmsem.alignment.eigen.top_eigenpairs`
(Lanczos above a few hundred rows) rather than a full ``eigh``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._checks import all_finite, as_matrix, cosine_ratio, is_constant_sq, warn_degenerate
from .cka import debias_terms
from .eigen import top_eigenpairs

__all__ = [
    "Prepared",
    "cross_frob2",
    "prepare",
    "linear_cka_prepared",
    "subspace_overlap_prepared",
]


@dataclass
class Prepared:
    """One representation, centred in float64, with its self-terms (see module doc): the Gram
    ``X^T X`` when p <= n, else the kernel ``X X^T`` (exactly one of ``gram`` / ``kernel``)."""

    xc: Tensor
    gram: Tensor | None  # X^T X (p, p), when p <= n
    hsic: Tensor  # ||X^T X||_F^2 = ||X X^T||_F^2
    row_sq: Tensor  # a_i = ||x_i||^2 (the kernel's diagonal)
    degenerate: str | None  # why the representation cannot be compared (None: it can)
    kernel: Tensor | None = None  # X X^T (n, n), when p > n
    _bases: dict[int, Tensor | None] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return self.xc.shape[0]

    def hsic_debiased(self) -> Tensor:
        """HSIC_1(K, K) for K = X X^T (n >= 4)."""
        return debias_terms(self.hsic, self.row_sq @ self.row_sq, self.row_sq.sum(),
                            self.row_sq.sum(), self.n)  # fmt: skip

    def basis(self, k: int) -> Tensor | None:
        """Top-k left singular vectors (n, k) of X, or None when X has rank < k (cached)."""
        if k not in self._bases:
            sym = self.kernel if self.kernel is not None else self.gram
            if k > sym.shape[0]:
                self._bases[k] = None
                return None
            top, vecs = top_eigenpairs(sym, k)
            tol = max(self.xc.shape) * torch.finfo(torch.float64).eps * top[0].clamp_min(0)
            if bool((top <= tol).any()):
                self._bases[k] = None
            elif self.kernel is not None:  # the kernel's eigenvectors are U itself
                self._bases[k] = vecs
            else:
                u = self.xc @ (vecs / top.sqrt())
                self._bases[k] = torch.linalg.qr(u).Q  # re-orthonormalise against rounding
        return self._bases[k]

    def permuted(self, perm: Tensor) -> Prepared:
        """The same representation with its rows in the order ``perm`` (self-terms unchanged)."""
        kernel = None if self.kernel is None else self.kernel[perm][:, perm]
        return Prepared(self.xc[perm], self.gram, self.hsic, self.row_sq[perm], self.degenerate,
                        kernel)  # fmt: skip


def prepare(x: Tensor) -> Prepared:
    """Centre ``x`` (n, p) in float64 and compute its self-terms."""
    x = as_matrix(x, "x")
    mean = x.mean(dim=0)
    xc = x - mean
    row_sq = torch.linalg.vector_norm(xc, dim=1).square_()
    degenerate = None
    if not all_finite(x):
        degenerate = "input contains NaN or inf"
    else:  # is_constant without two more passes: ||x||^2 = ||x_c||^2 + n ||mean||^2
        centred_sq = row_sq.sum()
        if is_constant_sq(centred_sq, centred_sq + x.shape[0] * mean.square().sum(), x.shape[0]):
            degenerate = "a representation is constant over the examples"
    if x.shape[1] > x.shape[0]:  # wide: the n x n side (module doc)
        kernel = xc @ xc.T
        return Prepared(xc, None, (kernel * kernel).sum(), row_sq, degenerate, kernel)
    gram = xc.T @ xc
    return Prepared(xc, gram, (gram * gram).sum(), row_sq, degenerate)


def cross_frob2(a: Prepared, b: Prepared) -> Tensor:
    """``||X^T Y||_F^2`` of two prepared representations, on the cheaper side: ``<K, L>_F``
    (O(n^2)) when both are wide, ``tr(Y^T K Y)`` (O(n^2 q)) when one is, else the cross product
    ``X^T Y`` (O(n p q))."""
    if a.kernel is not None and b.kernel is not None:
        return (a.kernel * b.kernel).sum()
    if a.kernel is not None or b.kernel is not None:
        wide, narrow = (a, b) if a.kernel is not None else (b, a)
        return ((wide.kernel @ narrow.xc) * narrow.xc).sum()
    cross = a.xc.T @ b.xc
    return (cross * cross).sum()


def _check(a: Prepared, b: Prepared, what: str) -> bool:
    if a.n != b.n:
        raise ValueError(f"{what}: x and y must have the same number of rows, got {a.n} != {b.n}")
    for side in (a, b):
        if side.degenerate:
            warn_degenerate(what, side.degenerate)
            return False
    return True


def linear_cka_prepared(
    a: Prepared, b: Prepared, frob2: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(biased, debiased) linear CKA of two prepared representations from one cross product.

    ``frob2`` = ``||X^T Y||_F^2`` when the caller already has it (e.g. from one large product of
    X against several others); computed here otherwise. Degenerate input -> (NaN, NaN) with a
    warning; the debiased value needs n >= 4 (NaN below).
    """
    nan = torch.tensor(float("nan"), dtype=torch.float64, device=a.xc.device)
    if not _check(a, b, "linear_cka"):
        return nan, nan
    if frob2 is None:
        frob2 = cross_frob2(a, b)
    biased = cosine_ratio(frob2, a.hsic, b.hsic, "linear_cka")
    debiased = nan
    if a.n >= 4:
        hxy = debias_terms(frob2, a.row_sq @ b.row_sq, a.row_sq.sum(), b.row_sq.sum(), a.n)
        debiased = cosine_ratio(hxy, a.hsic_debiased(), b.hsic_debiased(), "linear_cka", lo=-1.0)
    return biased, debiased


def subspace_overlap_prepared(a: Prepared, b: Prepared, k: int) -> Tensor:
    """Mean cos^2 of the principal angles between the top-k left singular subspaces."""
    if not _check(a, b, "subspace_overlap"):
        return torch.tensor(float("nan"), dtype=torch.float64, device=a.xc.device)
    ua, ub = a.basis(k), b.basis(k)
    if ua is None or ub is None:
        warn_degenerate("subspace_overlap", f"a representation has numerical rank < k={k}")
        return torch.tensor(float("nan"), dtype=torch.float64, device=a.xc.device)
    cos = torch.linalg.svdvals(ua.T @ ub).clamp(0.0, 1.0)
    return (cos * cos).mean()
