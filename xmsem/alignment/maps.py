"""Linear maps between representations, fitted on paired examples.

* least squares with bias: ``T(b) = b W + c`` minimising ``sum_i ||b_i W + c - a_i||^2
  (+ ridge ||W||_F^2)``; solved on centred data (``c = mean(a) - mean(b) W``): the normal
  equations or Householder QR when the data are well enough conditioned for them (``_lstsq``),
  otherwise ``torch.linalg.lstsq`` (driver ``gelsy``, a complete orthogonal factorisation with
  pivoting: the minimum-norm solution when rank-deficient or under-determined, several times
  faster than the SVD-based ``gelsd`` at the same answer) on CPU and the pseudo-inverse
  elsewhere; ``ridge > 0`` solves the normal equations ``(B_c^T B_c + ridge I) W = B_c^T A_c``.
* orthogonal Procrustes (Schonemann 1966): ``T(b) = (b - mean(b)) R + mean(a)`` with
  ``R = argmin_{R^T R = I} ||B_c R - A_c||_F = U V^T`` for ``B_c^T A_c = U S V^T``. With different
  widths the narrower side is zero-padded to the wider width w = max(p, q) and R is w x w; the
  first p output columns are kept. Equivalently R is restricted to a semi-orthogonal q x p
  matrix (orthonormal columns if q >= p, orthonormal rows if q < p): lengths are never stretched.
* similarity (Procrustes with isotropic scaling, Schonemann & Carroll 1970): as orthogonal, then
  scaled by ``s = tr(S) / ||B_c||_F^2`` (the least-squares optimal scale for the fitted R), so
  representations that differ by rotation, translation *and* overall scale map onto each other
  (e.g. a spectrally normalised network against an unconstrained one).
* identity: ``T(b) = b`` (widths must match).

``normalize`` (``fit_map`` / ``fit_map_both``): each side is first normalised with statistics of
the data given (:mod:`~xmsem.alignment.normalize`: none, center, unit_norm, standardize), the map
is fitted between the normalised representations, and the result is returned in raw coordinates,
``T_raw = N_dst^{-1} o T o N_src`` (:func:`in_raw_coordinates`), so callers apply it to raw data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from xmsem.catalog.choices import MAP_KINDS  # the names validation reads without torch

from ._checks import as_matrix
from .normalize import Normalizer, fit_normalizer

__all__ = [
    "AffineMap",
    "fit_affine",
    "fit_map",
    "fit_map_both",
    "fit_maps_both",
    "in_raw_coordinates",
    "MAP_KINDS",
]


@dataclass(frozen=True)
class AffineMap:
    """``T(b) = b @ weight + bias`` (float64)."""

    weight: Tensor
    bias: Tensor

    def __call__(self, b: Tensor) -> Tensor:
        return b.to(torch.float64) @ self.weight + self.bias


_NORMAL_COND = 1e4  # normal equations below this condition number of ``a`` ...
_QR_COND = 1e7  # ... Householder QR below this one, a rank-revealing solver above


def _lstsq(a: Tensor, b: Tensor, gram: Tensor | None = None, atb: Tensor | None = None) -> Tensor:
    """Minimum-norm least-squares solution W of ``a W = b`` (``gram = a^T a`` and ``atb = a^T b``
    when already computed: the same values, computed once for several fits).

    Tall ``a``: the columns that are not identically zero (dead units; their rows of W are 0, as
    in the minimum-norm solution) are solved by the cheapest method that is accurate at their
    condition number kappa: the normal equations ``(a^T a) W = a^T b`` through the
    eigendecomposition of ``a^T a`` when kappa < 1e4 by its eigenvalues (squaring costs at most
    ~1e-8 relative accuracy), Householder QR when kappa < 1e7 by the singular values of R
    (backward stable, relative error ~kappa * eps <= 1e-9; the Gram's eigenvalues cannot
    resolve kappa that large). Otherwise, or for wide ``a``, a rank-revealing solver
    (``gelsy`` on CPU, the pseudo-inverse elsewhere).
    """
    if a.shape[0] >= a.shape[1]:
        gram = a.T @ a if gram is None else gram
        live = gram.diagonal() > 0
        if bool(live.any()):
            evals, evecs = torch.linalg.eigh(gram[live][:, live])
            top, bottom = float(evals[-1]), float(evals[0])
            w = torch.zeros(a.shape[1], b.shape[1], dtype=a.dtype, device=a.device)
            if bottom > top / _NORMAL_COND**2:
                rhs = a[:, live].T @ b if atb is None else atb[live]
                w[live] = evecs @ ((evecs.T @ rhs) / evals[:, None])
                return w
            # The Gram's eigenvalues carry absolute errors ~ n * eps * top, so below ~1e-13 *
            # top they cannot tell kappa = 1e7 from exact rank deficiency (an exactly collinear
            # pair measured 1e-15 * top here; other BLAS builds land above the old 1e-14 gate
            # and QR then divided by a rounding-error pivot). The QR route is decided on R's own
            # singular values instead, which are accurate to eps * top.
            q, r = torch.linalg.qr(a[:, live])
            s = torch.linalg.svdvals(r)
            if float(s[-1]) > float(s[0]) / _QR_COND:
                w[live] = torch.linalg.solve_triangular(r, q.T @ b, upper=True)
                return w
    if a.device.type == "cpu":
        return torch.linalg.lstsq(a, b, driver="gelsy").solution
    return torch.linalg.pinv(a) @ b


def fit_affine(src: Tensor, dst: Tensor, ridge: float = 0.0) -> AffineMap:
    """Least-squares affine map ``dst ~ src W + c`` (module doc). Inputs (n, q) -> (n, p)."""
    if not (isinstance(ridge, (int, float)) and 0.0 <= ridge < float("inf")):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    src = src.to(torch.float64)
    dst = dst.to(torch.float64)
    ms, md = src.mean(dim=0), dst.mean(dim=0)
    sc, dc = src - ms, dst - md
    if ridge > 0:
        gram = sc.T @ sc
        gram.diagonal().add_(ridge)
        w = torch.linalg.solve(gram, sc.T @ dc)
    else:
        w = _lstsq(sc, dc)
    return AffineMap(w, md - ms @ w)


class _CentredPair:
    """Two representations of the same examples, centred, with the products every map fit
    needs computed once: the cross product ``S_c^T D_c`` (Procrustes both ways, least squares
    both ways) and each side's Gram (least squares)."""

    def __init__(self, src: Tensor, dst: Tensor) -> None:
        src, dst = src.to(torch.float64), dst.to(torch.float64)
        self.ms, self.md = src.mean(dim=0), dst.mean(dim=0)
        self.sc, self.dc = src - self.ms, dst - self.md
        self._cross: Tensor | None = None

    @property
    def cross(self) -> Tensor:
        if self._cross is None:
            self._cross = self.sc.T @ self.dc
        return self._cross

    def affine(self, reverse: bool = False) -> AffineMap:
        """Least squares src -> dst (``reverse``: dst -> src), as :func:`fit_affine`."""
        a, b, ma, mb = (self.dc, self.sc, self.md, self.ms) if reverse else (self.sc, self.dc,
                                                                           self.ms, self.md)  # fmt: skip
        atb = self.cross.T if reverse else self.cross
        w = _lstsq(a, b, atb=atb) if a.shape[0] >= a.shape[1] else _lstsq(a, b)
        return AffineMap(w, mb - ma @ w)


def _procrustes_both(src: Tensor, dst: Tensor, scale: bool = False) -> tuple[AffineMap, AffineMap]:
    """Procrustes maps src -> dst and dst -> src from one SVD (:func:`_procrustes_pair`)."""
    return _procrustes_pair(_CentredPair(src, dst), scale)


def _procrustes_pair(pair: _CentredPair, scale: bool = False) -> tuple[AffineMap, AffineMap]:
    """Procrustes maps src -> dst and dst -> src from one SVD.

    With the cross product ``M = S_c^T D_c = U S V^T`` (zero-padded to w x w), ``R = U V^T``
    solves src -> dst and ``M^T = V S U^T`` gives ``R^T`` for dst -> src; the similarity scale
    ``tr(S) / ||.||_F^2`` divides by the squared norm of the side being mapped."""
    sc, dc, ms, md = pair.sc, pair.dc, pair.ms, pair.md
    q, p = sc.shape[1], dc.shape[1]
    w = max(p, q)
    # zero-padding both sides to width w only pads their cross product (q, p) to (w, w)
    cross = torch.nn.functional.pad(pair.cross, (0, w - p, 0, w - q))
    u, sv, vh = torch.linalg.svd(cross)
    full = u @ vh
    forward, backward = full[:q, :p], full.T[:p, :q]
    if scale:
        for_norm2, back_norm2 = (sc * sc).sum(), (dc * dc).sum()
        forward = forward * (sv.sum() / for_norm2 if bool(for_norm2 > 0) else 1.0)
        backward = backward * (sv.sum() / back_norm2 if bool(back_norm2 > 0) else 1.0)
    return AffineMap(forward, md - ms @ forward), AffineMap(backward, ms - md @ backward)


def in_raw_coordinates(t: AffineMap, n_src: Normalizer, n_dst: Normalizer) -> AffineMap:
    """``N_dst^{-1} o t o N_src`` as one affine map of raw source features: with
    ``N(x) = (x - m) / s``, weight ``diag(1/s_src) W diag(s_dst)`` and bias
    ``(c - (m_src / s_src) W) * s_dst + m_dst``."""
    weight = (t.weight / n_src.scale[:, None]) * n_dst.scale[None, :]
    bias = (t.bias - (n_src.mean / n_src.scale) @ t.weight) * n_dst.scale + n_dst.mean
    return AffineMap(weight, bias)


def _identity(src: Tensor, dst: Tensor) -> AffineMap:
    if src.shape[1] != dst.shape[1]:
        raise ValueError(
            f"map='identity' needs equal widths, got B width {src.shape[1]} and A width "
            f"{dst.shape[1]}; use map='linear', 'orthogonal' or 'similarity'"
        )
    d = src.shape[1]
    z = {"dtype": torch.float64, "device": src.device}
    return AffineMap(torch.eye(d, **z), torch.zeros(d, **z))


def _check_kind(kind: str) -> None:
    if kind not in MAP_KINDS:
        raise ValueError(f"map must be one of {MAP_KINDS}, got {kind!r}")


def fit_map(
    src: Tensor, dst: Tensor, kind: str = "orthogonal", normalize: str = "none"
) -> AffineMap:
    """Fit a map T with ``T(src) ~ dst`` of the given kind, after ``normalize`` (module doc)."""
    _check_kind(kind)
    src, dst = as_matrix(src, "src"), as_matrix(dst, "dst")
    if normalize != "none":
        n_src, n_dst = fit_normalizer(src, normalize), fit_normalizer(dst, normalize)
        return in_raw_coordinates(fit_map(n_src(src), n_dst(dst), kind), n_src, n_dst)
    if kind == "identity":
        return _identity(src, dst)
    if kind == "linear":
        return fit_affine(src, dst)
    return _procrustes_both(src, dst, scale=kind == "similarity")[0]


def fit_map_both(
    src: Tensor, dst: Tensor, kind: str = "orthogonal", normalize: str = "none"
) -> tuple[AffineMap, AffineMap]:
    """``(fit_map(src, dst, kind, normalize), fit_map(dst, src, kind, normalize))``; the
    Procrustes kinds share one SVD (equal to fitting each direction to rounding)."""
    return fit_maps_both(src, dst, [kind], normalize)[kind]


def fit_maps_both(
    src: Tensor, dst: Tensor, kinds: Sequence[str], normalize: str = "none"
) -> dict[str, tuple[AffineMap, AffineMap]]:
    """:func:`fit_map_both` for several kinds at once: both sides are normalised and centred
    once, and one cross product ``S_c^T D_c`` serves every kind and both directions (the values
    of separate fits, to rounding)."""
    for kind in kinds:
        _check_kind(kind)
    src, dst = as_matrix(src, "src"), as_matrix(dst, "dst")
    n_src = n_dst = None
    if normalize != "none":
        n_src, n_dst = fit_normalizer(src, normalize), fit_normalizer(dst, normalize)
        src, dst = n_src(src), n_dst(dst)
    pair = _CentredPair(src, dst)
    out: dict[str, tuple[AffineMap, AffineMap]] = {}
    for kind in kinds:
        if kind == "identity":
            fwd, back = _identity(src, dst), _identity(dst, src)
        elif kind == "linear":
            fwd, back = pair.affine(), pair.affine(reverse=True)
        else:
            fwd, back = _procrustes_pair(pair, scale=kind == "similarity")
        if n_src is not None:
            fwd, back = (
                in_raw_coordinates(fwd, n_src, n_dst),
                in_raw_coordinates(back, n_dst, n_src),
            )
        out[kind] = (fwd, back)
    return out
