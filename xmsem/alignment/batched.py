"""Alignment of K representations of the same examples against each other, all pairs at once:
the K copies of one member of a seed ensemble (``pgnn.0`` .. ``pgnn.19``), K(K-1)/2 pairs.

The K centred representations are stacked, ``X`` of shape (K, n, d). Per pair the only new work
of linear CKA is the cross product ``X_i^T X_j`` (d x d, O(n d^2)); everything else belongs to one
copy (:mod:`xmsem.alignment.prepared`). Here the cross products come from K large matrix products
``X_i^T [X_i X_{i+1} ... X_{K-1}]`` (n x d against n x (K - i) d: the upper triangle of
``Z^T Z`` with ``Z = [X_0 ... X_{K-1}]``, its diagonal blocks being the Gram matrices), not from
K^2 calls of the pairwise function; then for all pairs at once:

* linear CKA (Kornblith et al. 2019) = ``||X_i^T X_j||_F^2 / (||X_i^T X_i||_F ||X_j^T X_j||_F)``,
* debiased linear CKA: unbiased HSIC (Song et al. 2012) from ``||X_i^T X_j||_F^2``, the row norms
  ``a_i`` and their sums (:func:`xmsem.alignment.cka.debias_terms`, valid for centred inputs),
* subspace overlap: mean cos^2 of the principal angles between the top-k left singular
  subspaces, the singular values of ``U_i^T U_j`` (k x k), all K^2 blocks from one
  ``(n, K k)`` product and one batched SVD.

These are the operations of :func:`~xmsem.alignment.linear_cka_prepared` and
:func:`~xmsem.alignment.subspace_overlap_prepared`, so the results equal the pairwise functions
to rounding (tests check 1e-10). Float64 on the input's device. A degenerate copy (NaN/inf, or a
constant representation) gives NaN in its row and column, with one ``DegenerateInputWarning``;
the debiased value needs n >= 4 (NaN below). Values outside their range by more than rounding
raise ``RuntimeError`` (a bug), as in ``_checks``.

Wide representations (d > n) are stacked on the examples' side, as in
:mod:`~xmsem.alignment.prepared`: kernels ``K_k = X_k X_k^T`` (K, n, n) instead of Gram matrices,
``||X_i^T X_j||_F^2 = <K_i, K_j>_F`` (one (K, n^2) product) and the bases from the kernels'
eigenvectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ._checks import ROUNDING_TOL, all_finite, is_constant_sq, warn_degenerate
from .cka import debias_terms
from .eigen import DENSE_MAX, top_eigenpairs
from .prepared import Prepared

__all__ = ["PreparedStack", "prepare_stack", "linear_cka_stack", "subspace_overlap_stack"]


@dataclass
class PreparedStack:
    """K representations (K, n, d), centred in float64, with their self-terms."""

    xc: Tensor  # (K, n, d)
    gram: Tensor | None  # (K, d, d): X_k^T X_k, when d <= n
    hsic: Tensor  # (K,): ||X_k^T X_k||_F^2
    row_sq: Tensor  # (K, n): ||x_i||^2 per copy
    degenerate: list[str | None]
    kernel: Tensor | None = None  # (K, n, n): X_k X_k^T, when d > n
    _bases: dict[int, tuple[Tensor, Tensor]] = field(default_factory=dict, repr=False)

    def bases(self, k: int) -> tuple[Tensor, Tensor]:
        """:func:`stack_bases` for this ``k`` (computed once)."""
        if k not in self._bases:
            self._bases[k] = stack_bases(self, k)
        return self._bases[k]

    @property
    def k(self) -> int:
        return self.xc.shape[0]

    @property
    def n(self) -> int:
        return self.xc.shape[1]

    def prepared(self, k: int) -> Prepared:
        """Copy ``k`` as a :class:`Prepared` (views into the stack: no copy)."""
        gram = None if self.gram is None else self.gram[k]
        kernel = None if self.kernel is None else self.kernel[k]
        return Prepared(self.xc[k], gram, self.hsic[k], self.row_sq[k], self.degenerate[k],
                        kernel)  # fmt: skip

    def hsic_debiased(self) -> Tensor:
        """HSIC_1(K_k, K_k) per copy (n >= 4)."""
        sums = self.row_sq.sum(dim=1)
        ab = (self.row_sq * self.row_sq).sum(dim=1)
        return debias_terms(self.hsic, ab, sums, sums, self.n)


def prepare_stack(x: Tensor | Sequence[Tensor]) -> PreparedStack:
    """Centre the K representations ``x`` ((K, n, d), or K tensors (n, d)) in float64 and
    compute their self-terms; one float64 copy (``x`` itself is not changed)."""
    if isinstance(x, Tensor):
        if x.ndim != 3 or 0 in x.shape:
            raise ValueError(f"x must have shape (K, n, d) with K, n, d >= 1, got {tuple(x.shape)}")
        xc = x.detach().to(torch.float64, copy=True)
    else:
        parts = list(x)
        if not parts or any(p.ndim != 2 or p.shape != parts[0].shape for p in parts):
            shapes = sorted({tuple(p.shape) for p in parts})
            raise ValueError(f"x must be K >= 1 tensors of one shape (n, d), got shapes {shapes}")
        xc = torch.empty((len(parts), *parts[0].shape), dtype=torch.float64,
                         device=parts[0].device)  # fmt: skip
        for k, part in enumerate(parts):
            xc[k].copy_(part.detach())
    mean = xc.mean(dim=1, keepdim=True)
    xc.sub_(mean)
    row_sq = xc.square().sum(dim=2)
    n = xc.shape[1]
    degenerate: list[str | None] = []
    centred = row_sq.sum(dim=1)
    raw = centred + n * mean.square().sum(dim=(1, 2))  # ||x||^2 = ||x_c||^2 + n ||mean||^2
    for k in range(xc.shape[0]):
        if not all_finite(xc[k]):
            degenerate.append("input contains NaN or inf")
        elif is_constant_sq(centred[k], raw[k], n):
            degenerate.append("a representation is constant over the examples")
        else:
            degenerate.append(None)
    if xc.shape[2] > n:  # wide: the n x n side (module doc)
        kernel = xc @ xc.transpose(1, 2)
        return PreparedStack(xc, None, kernel.square().sum(dim=(1, 2)), row_sq, degenerate, kernel)
    gram = xc.transpose(1, 2) @ xc
    return PreparedStack(xc, gram, gram.square().sum(dim=(1, 2)), row_sq, degenerate)


def _cross_frob2(s: PreparedStack) -> Tensor:
    """(K, K) ``||X_i^T X_j||_F^2``: K - 1 products ``X_i^T [X_{i+1} .. X_{K-1}]`` (the upper
    triangle; the diagonal is ``hsic``, already known)."""
    k, n, d = s.xc.shape
    if s.kernel is not None:
        flat = s.kernel.reshape(k, n * n)
        return flat @ flat.T
    z = s.xc.permute(1, 0, 2).reshape(n, k * d)  # [X_0 ... X_{K-1}] side by side (one copy)
    out = torch.diag(s.hsic)
    for i in range(k - 1):
        block = s.xc[i].T @ z[:, (i + 1) * d :]  # (d, (K - i - 1) d)
        frob2 = block.square_().view(d, k - i - 1, d).sum(dim=(0, 2))
        out[i, i + 1 :] = frob2
        out[i + 1 :, i] = frob2
    return out


def _ratio(num: Tensor, dx: Tensor, dy: Tensor, bad: Tensor, lo: float, what: str) -> Tensor:
    """``num / sqrt(dx dy)`` elementwise, NaN where ``bad`` or a self-term is not positive (each
    side judged on its own: scale invariance); the range guard of ``_checks.cosine_ratio``
    (clamp rounding, raise beyond)."""
    finite = torch.isfinite(num) & torch.isfinite(dx) & torch.isfinite(dy)
    bad = bad | (dx <= 0) | (dy <= 0) | ~finite
    val = num / torch.sqrt((dx * dy).clamp_min(torch.finfo(torch.float64).tiny))
    val = torch.where(bad, torch.full_like(val, float("nan")), val)
    ok = val[~bad]
    if ok.numel() and (bool((ok < lo - ROUNDING_TOL).any()) or bool((ok > 1 + ROUNDING_TOL).any())):
        worst = float(ok.min()) if bool((ok < lo - ROUNDING_TOL).any()) else float(ok.max())
        raise RuntimeError(f"{what}: value {worst!r} outside [{lo}, 1] beyond rounding; a bug")
    return val.clamp(lo, 1.0)  # NaN stays NaN


def _bad_mask(s: PreparedStack, what: str) -> Tensor:
    bad = torch.tensor([d is not None for d in s.degenerate], device=s.xc.device)
    for reason in dict.fromkeys(d for d in s.degenerate if d):
        warn_degenerate(what, reason)
    return bad[:, None] | bad[None, :]


def linear_cka_stack(s: PreparedStack, frob2: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(biased, debiased) linear CKA of every pair of the stack, each (K, K) (see module doc).

    ``frob2``: the (K, K) ``||X_i^T X_j||_F^2`` when already computed."""
    if frob2 is None:
        frob2 = _cross_frob2(s)
    bad = _bad_mask(s, "linear_cka")
    biased = _ratio(frob2, s.hsic[:, None], s.hsic[None, :], bad, 0.0, "linear_cka")
    if s.n < 4:
        return biased, torch.full_like(biased, float("nan"))
    sums = s.row_sq.sum(dim=1)
    ab = s.row_sq @ s.row_sq.T
    hxy = debias_terms(frob2, ab, sums[:, None], sums[None, :], s.n)
    self_h = s.hsic_debiased()
    debiased = _ratio(hxy, self_h[:, None], self_h[None, :], bad, -1.0, "linear_cka")
    return biased, debiased


def stack_bases(s: PreparedStack, k: int) -> tuple[Tensor, Tensor]:
    """Top-k left singular vectors of every copy, (K, n, k), and a (K,) mask of copies whose
    numerical rank is below k (their basis is meaningless): from the top-k eigenpairs of each
    Gram matrix (``X V = U S``, re-orthonormalised by QR) or, for wide copies, of each kernel
    (whose eigenvectors are U)."""
    sym = s.kernel if s.kernel is not None else s.gram
    dead = [i for i, why in enumerate(s.degenerate) if why]
    if dead:  # NaN/inf matrices would fail eigh; their results are masked anyway
        sym = sym.clone()
        sym[dead] = torch.eye(sym.shape[-1], dtype=sym.dtype, device=sym.device)
    m = sym.shape[-1]
    kk = min(k, m)
    if m <= DENSE_MAX:  # one batched eigh
        evals, evecs = torch.linalg.eigh(sym)  # ascending
        top, vecs = evals.flip(-1)[:, :kk], evecs.flip(-1)[:, :, :kk]
    else:
        pairs = [top_eigenpairs(sym[i], kk) for i in range(sym.shape[0])]
        top = torch.stack([p[0] for p in pairs])
        vecs = torch.stack([p[1] for p in pairs])
    eps = torch.finfo(torch.float64).eps
    tol = max(s.n, s.xc.shape[2]) * eps * top[:, :1].clamp_min(0)
    low_rank = (top <= tol).any(dim=1) if k <= m else torch.ones_like(top[:, 0]) > 0
    if s.kernel is not None:
        return vecs, low_rank
    xc = torch.nan_to_num(s.xc) if dead else s.xc
    u = xc @ (vecs / top.clamp_min(torch.finfo(torch.float64).tiny).sqrt()[:, None, :])
    return torch.linalg.qr(u).Q, low_rank


def subspace_overlap_stack(s: PreparedStack, k: int) -> Tensor:
    """(K, K) mean cos^2 of the principal angles between the top-k left singular subspaces of
    every pair (NaN for degenerate copies and copies of numerical rank < k)."""
    if not 1 <= k <= min(s.n, s.xc.shape[2]):
        raise ValueError(f"subspace k={k} must be in 1..min(n, d)={min(s.n, s.xc.shape[2])}")
    bad = _bad_mask(s, "subspace_overlap")
    u, low = s.bases(k)
    if bool(low.any()):
        warn_degenerate("subspace_overlap", f"a representation has numerical rank < k={k}")
    bad = bad | low[:, None] | low[None, :]
    kk, n = s.k, s.n
    flat = u.permute(1, 0, 2).reshape(n, kk * k)  # [U_0 ... U_{K-1}]
    blocks = (flat.T @ flat).view(kk, k, kk, k).permute(0, 2, 1, 3)  # (K, K, k, k): U_i^T U_j
    cos = torch.linalg.svdvals(blocks).clamp(0.0, 1.0)
    out = cos.square().mean(dim=-1)
    return torch.where(bad, torch.full_like(out, float("nan")), out)
