"""Spectral (frequency-band) decomposition of alignment.

Graph bands (low frequency = smooth over the data manifold; Belkin & Niyogi 2003, von Luxburg
2007 "A tutorial on spectral clustering" for the normalised Laplacian): build the symmetric
k-nearest-neighbour graph of the inputs (W_ij = 1 if j is among the k nearest neighbours of i
or i among those of j, Euclidean distance), its symmetric normalised Laplacian

    L_sym = I - D^{-1/2} W D^{-1/2},    eigenvalues 0 = lambda_1 <= ... <= lambda_n <= 2,

take the eigenvectors U of the m = min(n_eigs, n) smallest eigenvalues -- or, with
``n_eigs=None`` (the default), of the WHOLE spectrum (m = n) -- and split them, in order, into
``n_bands`` contiguous blocks U_b: with the whole spectrum and 3 bands, band 0 is the low, band 1
the middle and band 2 the high third of the frequencies, so "alignment lives in the smooth
directions" (arXiv 2508.03649) is a comparison of band 0 with bands 1 and 2. For each band the centred representations are
projected onto the block, ``P_b X = U_b U_b^T X_c`` (likewise Y), and we report the chosen
alignment metric between P_b X and P_b Y and the fraction of each representation's variance
in the band, ``||U_b^T X_c||_F^2 / ||X_c||_F^2``. (The first eigenvector is proportional to
D^{1/2} 1, not constant, so band 0 can hold a little variance of the centred data.)

Permutation null per band (``n_perm > 0``): the same band metric with the rows of y permuted
(uniformly over all n examples, before projecting -- :func:`~xmsem.alignment.permutation_null`)
gives the band's chance value at this n, band size and width; each band row carries ``null``
(its mean), ``null_sd`` and the one-sided ``p_value``. A band whose value does not exceed its null
carries no alignment, however large the raw number (projections onto a big band of a small n
are similar by chance).

Linear CKA (the default band metric) is computed from the band coordinates ``U_b^T X_c``, never
from the n x n projections: the centred projections' inner products are those of the m_b x p
coordinates ``R_b U_b^T X_c`` (:func:`_linear_cka_bands`), and one ``U^T Y_c[pi]`` per permutation
serves every band -- the same numbers to rounding (tested against the explicit projections), 4-7x
less work per pair. Any other metric runs on the explicit projections. A snapshot computes the
graph spectrum once (:func:`band_graph`, passed as ``graph``) for all its pairs.

Any two representations of the same inputs can be compared: members of one run, or seed-vs-seed
copies of one architecture.

PCA bands: each representation's own principal components (X_c = U S V^T), the top
m = min(n_eigs, rank X, rank Y) split into ``n_bands`` blocks; band b compares X's block-b
component (U_b S_b V_b^T) with Y's block-b component; var_frac = that block's share of sum S^2.

Eigen-solver: the whole spectrum needs every eigenvector, so ``n_eigs=None`` is for n <=
``DENSE_MAX`` (dense ``torch.linalg.eigh``; the snapshot callback takes the first
``spectral_max_n`` probe examples, a random subset); measured on two CPU cores, n = 1,000: 0.3 s.
Lowest eigenvectors only (``n_eigs`` an int): dense ``torch.linalg.eigh`` for n <= ``DENSE_MAX``; above it Chebyshev-filtered
subspace iteration (Zhou & Saad 2007) on the sparse graph, which converges to residual
``||L u - lambda u|| <= 1e-8`` per eigenpair in well under a second at n = 5,000 (dense eigh
takes ~30 s there on two cores; ``torch.lobpcg`` ~14 s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._checks import (
    all_finite,
    as_matrix,
    centre,
    check_pair,
    cosine_ratio,
    is_constant_sq,
    nan_like,
    warn_degenerate,
)
from ._permutation import null_of_callable, permutations, summarise
from .composite import PairContext, RowTuple
from .registry import SYMMETRIC, MetricSpec, Quantity, register

__all__ = [
    "spectral_alignment",
    "spectral_rows",
    "knn_graph_laplacian_eigs",
    "band_graph",
    "DENSE_MAX",
]

DENSE_MAX = 1500


def _knn_indices(z: Tensor, k: int, chunk: int = 1024) -> Tensor:
    """(n, k) indices of the k nearest neighbours of each row of z (self excluded).

    Distances from ``|a|^2 + |b|^2 - 2 a.b`` on *centred* rows: distances are translation
    invariant, but the expansion is not -- with an offset of 1e7 the uncentred terms are ~1e14
    and cancellation destroys distances of order 1 (wrong neighbours)."""
    n = z.shape[0]
    z = z - z.mean(dim=0, keepdim=True)
    sq = (z * z).sum(dim=1)
    out = torch.empty(n, k, dtype=torch.long, device=z.device)
    for i in range(0, n, chunk):
        d2 = sq[i : i + chunk, None] + sq[None, :] - 2.0 * (z[i : i + chunk] @ z.T)
        rows = torch.arange(i, min(i + chunk, n), device=z.device)
        d2[rows - i, rows] = float("inf")
        out[i : i + chunk] = d2.topk(k, dim=1, largest=False).indices
    return out


def _normalised_adjacency(inputs: Tensor, k: int) -> Tensor:
    """Sparse (COO) M = D^{-1/2} W D^{-1/2} of the symmetrised kNN graph."""
    n = inputs.shape[0]
    nbr = _knn_indices(inputs, k)
    rows = torch.arange(n, device=inputs.device).repeat_interleave(k)
    cols = nbr.reshape(-1)
    idx = torch.cat([torch.stack([rows, cols]), torch.stack([cols, rows])], dim=1)
    ones = torch.ones(idx.shape[1], dtype=torch.float64, device=inputs.device)
    w = torch.sparse_coo_tensor(idx, ones, (n, n), check_invariants=False).coalesce()
    idx, val = w.indices(), w.values().clamp(max=1.0)
    deg = torch.zeros(n, dtype=torch.float64, device=inputs.device).index_add_(0, idx[0], val)
    dis = deg.rsqrt()
    vals = dis[idx[0]] * val * dis[idx[1]]
    return torch.sparse_coo_tensor(idx, vals, (n, n), check_invariants=False).coalesce()


def _cheb_lowest(
    m_op: Tensor, m: int, tol: float = 1e-8, max_iter: int = 500
) -> tuple[Tensor, Tensor]:
    """m smallest eigenpairs of L = I - M (spectrum in [0, 2]) by Chebyshev-filtered subspace
    iteration with Rayleigh-Ritz (Zhou & Saad 2007). Deterministic (fixed seed)."""
    n = m_op.shape[0]
    dev = m_op.device
    block = min(n, m + max(8, m // 4))
    gen = torch.Generator(device="cpu").manual_seed(0)
    v = torch.linalg.qr(
        torch.randn(n, block, generator=gen, dtype=torch.float64, device="cpu").to(dev)
    ).Q

    def lap(u: Tensor) -> Tensor:
        return u - m_op @ u

    degree = 8
    theta = torch.zeros(block, dtype=torch.float64, device=dev)
    for _ in range(max_iter):
        lv = lap(v)
        h = v.T @ lv
        theta, z = torch.linalg.eigh(0.5 * (h + h.T))
        v, lv = v @ z, lv @ z
        res = torch.linalg.vector_norm(lv[:, :m] - v[:, :m] * theta[:m], dim=0)
        if bool(res.max() <= tol):
            break
        # Filter damping [a, 2], amplifying [0, a): T_degree on the mapped interval.
        a = float(theta[-1])
        e, c = (2.0 - a) / 2.0, (2.0 + a) / 2.0
        y_prev, y = v, (lap(v) - c * v) / e
        for _ in range(degree - 1):
            y_prev, y = y, 2.0 * (lap(y) - c * y) / e - y_prev
        v = torch.linalg.qr(y).Q
    return theta[:m], v[:, :m]


def knn_graph_laplacian_eigs(
    inputs: Tensor, k_neighbors: int, n_eigs: int
) -> tuple[Tensor, Tensor]:
    """Smallest ``n_eigs`` eigenvalues (ascending) and eigenvectors (n, n_eigs) of L_sym of the
    symmetrised kNN graph of ``inputs`` (n, D) (module doc)."""
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(np.ascontiguousarray(inputs))
    # images (n, C, H, W) are points of R^{CHW}
    z = as_matrix(inputs.flatten(1) if inputs.ndim > 2 else inputs, "inputs")
    n = z.shape[0]
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, int):
        raise ValueError(
            f"k_neighbors must be an int in [1, n-1] = [1, {n - 1}], got {k_neighbors!r}"
        )
    if not 1 <= k_neighbors <= n - 1:
        raise ValueError(f"k_neighbors must be in [1, n-1] = [1, {n - 1}], got {k_neighbors}")
    if not 1 <= n_eigs <= n:
        raise ValueError(f"n_eigs must be in [1, n] = [1, {n}], got {n_eigs}")
    if not all_finite(z):
        raise ValueError("inputs contain NaN or inf")
    m_op = _normalised_adjacency(z, k_neighbors)
    if n <= DENSE_MAX:
        lap = torch.eye(n, dtype=torch.float64, device=z.device) - m_op.to_dense()
        ev, u = torch.linalg.eigh(lap)
        return ev[:n_eigs], u[:, :n_eigs]
    return _cheb_lowest(m_op.to_sparse_csr(), n_eigs)


def band_graph(
    inputs: Tensor, k_neighbors: int = 10, n_eigs: int | None = None
) -> tuple[Tensor, Tensor]:
    """The graph spectrum :func:`spectral_alignment` splits into bands (``n_eigs=None``: all n
    eigenpairs), to compute once and pass as its ``graph`` for many pairs on the same inputs."""
    n = inputs.shape[0]
    return knn_graph_laplacian_eigs(inputs, k_neighbors, n if n_eigs is None else min(n_eigs, n))


def spectral_alignment(
    inputs: Tensor,
    x: Tensor,
    y: Tensor,
    *,
    n_bands: int = 3,
    k_neighbors: int = 10,
    n_eigs: int | None = None,
    n_perm: int = 0,
    seed: int = 0,
    metric: str | Callable[[Tensor, Tensor], Tensor] = "linear_cka",
    fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    graph: tuple[Tensor, Tensor] | None = None,
) -> list[dict]:
    """Alignment of x (n, p) and y (n, q) per frequency band (module doc).

    ``inputs`` (n, D) (or (n, ...) images, flattened) are the examples the representations were
    computed on. ``metric`` is the alignment metric compared per band: the name of a ``"reps"``
    metric of the registry (linear CKA by default) or its registered function; the rows carry its
    registered name. ``fn``, if given, must be the function registered under ``metric`` (a name
    and a function that disagree, or an unknown metric, are a ValueError). Returns one dict
    per band and basis: ``{"basis": "graph"|"pca", "band": i, "metric", "value", "var_frac_x",
    "var_frac_y", "eigval_lo", "eigval_hi", "component_lo", "component_hi"}`` (graph rows carry the
    band's Laplacian eigenvalue range, PCA rows its 0-based component range; the other pair is
    None). PCA rows may be fewer than ``n_bands`` when the representations' rank is below it.
    ``n_eigs=None``: the whole spectrum (n <= ``DENSE_MAX``). ``n_perm > 0`` adds to every graph
    row the permutation null of its band (``null``, ``null_sd``, ``p_value``; module doc),
    permutations from ``seed``. ``graph``: ``knn_graph_laplacian_eigs(inputs, k_neighbors,
    n_eigs)`` when already computed (a snapshot computes it once for all its pairs).
    """
    from .registry import resolve_reps_metric

    metric, fn = resolve_reps_metric(metric, fn)
    x, y = check_pair(x, y, min_n=4)
    inputs, n_eigs = _checked_arguments(inputs, x, n_bands, n_eigs, n_perm)
    if graph is not None and tuple(graph[1].shape) != (x.shape[0], n_eigs):
        raise ValueError(
            f"graph must hold {n_eigs} eigenvectors of length n={x.shape[0]}, got "
            f"{tuple(graph[1].shape)}: pass band_graph(inputs, k_neighbors, n_eigs)"
        )
    xc, yc = centre(x), centre(y)
    rows = _graph_rows(inputs.to(x.device), xc, yc, metric, fn, n_bands, k_neighbors, n_eigs,
                       n_perm, seed, graph)  # fmt: skip
    return rows + _pca_rows(xc, yc, metric, fn, n_bands, n_eigs)


def _checked_arguments(
    inputs: Tensor, x: Tensor, n_bands: int, n_eigs: int | None, n_perm: int
) -> tuple[Tensor, int]:
    """``inputs`` as a tensor and the number of eigenvectors; one-line ValueError when bad."""
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(np.ascontiguousarray(inputs))
    if inputs.shape[0] != x.shape[0]:
        raise ValueError(
            f"inputs must hold the same n={x.shape[0]} examples as x and y, got n={inputs.shape[0]}"
        )
    if isinstance(n_bands, bool) or not isinstance(n_bands, int) or n_bands < 1:
        raise ValueError(f"n_bands must be an int >= 1, got {n_bands!r}")
    if n_eigs is None:
        if x.shape[0] > DENSE_MAX:
            raise ValueError(
                f"n_eigs=None (the whole spectrum) needs n <= {DENSE_MAX}, got n={x.shape[0]}; "
                "pass a subsample (spectral_max_n) or n_eigs for the lowest eigenvectors only"
            )
        n_eigs = x.shape[0]
    if isinstance(n_eigs, bool) or not isinstance(n_eigs, int) or n_eigs < n_bands:
        raise ValueError(f"n_eigs must be None or an int >= n_bands={n_bands}, got {n_eigs!r}")
    if isinstance(n_perm, bool) or not isinstance(n_perm, int) or n_perm < 0:
        raise ValueError(f"n_perm must be an int >= 0, got {n_perm!r}")
    return inputs, min(n_eigs, x.shape[0])


def _graph_rows(
    inputs: Tensor, xc: Tensor, yc: Tensor, metric: str, fn: Callable, n_bands: int,
    k_neighbors: int, n_eigs: int, n_perm: int, seed: int,
    graph: tuple[Tensor, Tensor] | None = None,
) -> list[dict]:  # fmt: skip
    """Rows of the kNN-graph Laplacian bands of the centred ``xc``, ``yc`` (with their
    permutation nulls when ``n_perm``)."""
    tx, ty = (xc * xc).sum(), (yc * yc).sum()
    evals, u = graph if graph is not None else knn_graph_laplacian_eigs(inputs, k_neighbors, n_eigs)
    bands = torch.arange(n_eigs, device=u.device).tensor_split(n_bands)
    coords_x, coords_y = u.T @ xc, u.T @ yc  # every band's coordinates, once
    values, nulls = (
        _linear_cka_bands(u, bands, coords_x, coords_y, yc, n_perm, seed)
        if metric == "linear_cka"
        else _metric_bands(u, bands, xc, yc, fn, n_perm, seed)
    )
    rows: list[dict] = []
    for b, idx in enumerate(bands):
        cx, cy = coords_x[idx], coords_y[idx]
        eig = (float(evals[idx[0]]), float(evals[idx[-1]]))
        row = _row("graph", b, metric, values[b], (cx * cx).sum() / tx, (cy * cy).sum() / ty, eig)
        if n_perm:
            null = summarise(float(values[b]), nulls[b], higher=True)
            row.update(null=null.chance, null_sd=null.sd, p_value=null.p_value)
        rows.append(row)
    return rows


def _metric_bands(
    u: Tensor, bands: tuple[Tensor, ...], xc: Tensor, yc: Tensor, fn: Callable, n_perm: int,
    seed: int,
) -> tuple[list[Tensor], list[Tensor]]:  # fmt: skip
    """Any metric per band: ``fn(U_b U_b^T X_c, U_b U_b^T Y_c[pi])`` on the n x p projections."""
    values, nulls = [], []
    for idx in bands:
        ub = u[:, idx]

        def band_metric(a: Tensor, c: Tensor, ub: Tensor = ub) -> Tensor:
            return fn(ub @ (ub.T @ centre(a)), ub @ (ub.T @ centre(c)))

        values.append(torch.as_tensor(band_metric(xc, yc), dtype=xc.dtype, device=xc.device))
        if n_perm:
            null = null_of_callable(band_metric, xc, yc, n_perm, seed)
            nulls.append(null.null)
    return values, nulls


def _linear_cka_bands(
    u: Tensor, bands: tuple[Tensor, ...], coords_x: Tensor, coords_y: Tensor, yc: Tensor,
    n_perm: int, seed: int,
) -> tuple[list[Tensor], list[Tensor]]:  # fmt: skip
    """Linear CKA per band and its permutation null from band coordinates (exact).

    Linear CKA of ``P_b X = U_b C_x`` (``C_x = U_b^T X_c``) and ``P_b Y`` needs only the inner
    products of the *centred* projections, ``(H U_b C_x)^T (H U_b C_y) = C_x^T G_b C_y`` with
    ``G_b = U_b^T H U_b = I - w w^T / n``, ``w = U_b^T 1``. ``G_b = R_b^2`` for the symmetric
    ``R_b = I - alpha w w^T``, ``alpha = 1 / (n (1 + sqrt(1 - |w|^2 / n)))``, so the m_b x p
    coordinates ``D_x = R_b C_x`` have exactly those inner products, and CKA(P_b X, P_b Y) =
    ``|D_x^T D_y|_F^2 / (|D_x^T D_x|_F |D_y^T D_y|_F)``: m_b p q work per band instead of
    n x n products, and one ``U^T Y_c[pi]`` per permutation serves every band. ``coords_x`` /
    ``coords_y`` are ``U^T X_c`` / ``U^T Y_c`` (every band's coordinates, rows in band order).
    """
    n = yc.shape[0]
    parts = [_centring_root(u[:, idx], n) for idx in bands]
    sides = [
        _x_side(*_band_coordinates(coords_x[idx], root), yc.shape[1], n)
        for idx, root in zip(bands, parts, strict=True)
    ]

    def cka_all(coords: Tensor) -> list[Tensor]:
        return [
            _band_cka(sides[k], _band_coordinates(coords[idx], parts[k]), n)
            for k, idx in enumerate(bands)
        ]

    values = cka_all(coords_y)
    if not n_perm:
        return values, []
    perms = permutations(n, n_perm, seed, yc.device)
    samples = torch.stack([torch.stack(cka_all(u.T @ yc[p])) for p in perms])  # (n_perm, bands)
    return values, list(samples.T)


def _centring_root(ub: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """``(w, alpha)`` of ``R_b = I - alpha w w^T`` with ``R_b^2 = U_b^T H U_b`` (see
    :func:`_linear_cka_bands`; ``|w|^2 <= n`` as U_b has orthonormal columns)."""
    w = ub.sum(dim=0)
    slack = (1.0 - (w @ w) / n).clamp(min=0.0)
    return w, 1.0 / (n * (1.0 + slack.sqrt()))


def _band_coordinates(c: Tensor, root: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """``(D, |C|_F^2)``: the centred band coordinates ``D = R_b C`` of the band coordinates
    ``C = U_b^T Z`` and the squared norm of the uncentred projection (``|U_b C|_F = |C|_F``)."""
    w, alpha = root
    return c - alpha * torch.outer(w, w @ c), (c * c).sum()


def _frob2(m: Tensor) -> Tensor:
    return (m * m).sum()


@dataclass(frozen=True)
class _XSide:
    """One band of x, ready for many y: its centred coordinates ``d`` (m_b x p), their Gram
    ``d d^T`` when the band is narrower than both widths (then ``|D_x^T D_y|_F^2 = <D_x D_x^T,
    D_y D_y^T>_F`` costs m_b^2 q instead of m_b p q), ``|D_x^T D_x|_F^2`` and whether the
    projection is constant."""

    d: Tensor
    gram: Tensor | None
    self_sq: Tensor
    constant: bool


def _x_side(d: Tensor, raw: Tensor, q: int, n: int) -> _XSide:
    gram = d @ d.T if d.shape[0] < min(d.shape[1], q) else None
    self_sq = _frob2(gram) if gram is not None else _frob2(d.T @ d)
    return _XSide(d, gram, self_sq, is_constant_sq((d * d).sum(), raw, n))


def _band_cka(x: _XSide, dy: tuple[Tensor, Tensor], n: int) -> Tensor:
    """Linear CKA of two bands' centred coordinates (:func:`_band_coordinates`); NaN (with the
    warning of :func:`~xmsem.alignment.linear_cka`) when a projection is constant."""
    d_y, raw_y = dy
    if x.constant or is_constant_sq((d_y * d_y).sum(), raw_y, n):
        warn_degenerate("linear_cka", "a representation is constant (all examples identical)")
        return nan_like(d_y)
    if x.gram is not None:
        gram_y = d_y @ d_y.T
        return cosine_ratio((x.gram * gram_y).sum(), x.self_sq, _frob2(gram_y), "linear_cka")
    return cosine_ratio(_frob2(x.d.T @ d_y), x.self_sq, _frob2(d_y.T @ d_y), "linear_cka")


def _pca_rows(
    xc: Tensor, yc: Tensor, metric: str, fn: Callable, n_bands: int, n_eigs: int
) -> list[dict]:
    """Rows of the bands of the representations' own PCA spectra (up to their common rank)."""
    ux, sx, vxh = torch.linalg.svd(xc, full_matrices=False)
    uy, sy, vyh = torch.linalg.svd(yc, full_matrices=False)
    eps = torch.finfo(torch.float64).eps
    rank = min(
        int((sx > max(xc.shape) * eps * sx[0]).sum()), int((sy > max(yc.shape) * eps * sy[0]).sum())
    )
    m = min(n_eigs, rank)
    rows: list[dict] = []
    if m == 0:  # a constant representation has no principal components
        return rows
    for b, idx in enumerate(torch.arange(m, device=xc.device).tensor_split(min(n_bands, m))):
        xb = (ux[:, idx] * sx[idx]) @ vxh[idx]
        yb = (uy[:, idx] * sy[idx]) @ vyh[idx]
        rows.append(
            _row(
                "pca",
                b,
                metric,
                fn(xb, yb),
                (sx[idx] ** 2).sum() / (sx**2).sum(),
                (sy[idx] ** 2).sum() / (sy**2).sum(),
                comp=(int(idx[0]), int(idx[-1])),
            )
        )
    return rows


def _row(
    basis: str,
    band: int,
    metric: str,
    value: Tensor,
    fx: Tensor,
    fy: Tensor,
    eig: tuple[float, float] | None = None,
    comp: tuple[int, int] | None = None,
) -> dict:
    return {
        "basis": basis,
        "band": band,
        "metric": metric,
        "value": float(value),
        "var_frac_x": float(fx),
        "var_frac_y": float(fy),
        "eigval_lo": None if eig is None else eig[0],
        "eigval_hi": None if eig is None else eig[1],
        "component_lo": None if comp is None else comp[0],
        "component_hi": None if comp is None else comp[1],
    }


def spectral_rows(c: PairContext, spec: MetricSpec) -> list[RowTuple]:
    """``spectral_<basis>_band<i>`` per band, with the band's permutation null and p-value;
    needs the probe inputs (none: no rows)."""
    if c.inputs is None:
        return []
    m = spec.limit(c.settings)
    kwargs = spec.kwargs(c.settings)
    inputs = c.inputs[:m]
    # one graph spectrum per snapshot: every pair is measured on the same probe inputs
    graph_key = ("spectral_graph", len(inputs), kwargs.get("k_neighbors"), kwargs.get("n_eigs"))
    graph = c.cache.memo(graph_key, lambda: band_graph(
        inputs.to(c.x.device), kwargs.get("k_neighbors", 10), kwargs.get("n_eigs")))  # fmt: skip
    out: list[RowTuple] = []
    table = spec.fn(inputs, c.x[:m], c.y[:m], graph=graph, **kwargs)
    for entry in table:
        base, band = f"spectral_{entry['basis']}", f"_band{entry['band']}"
        out.append((c.a, c.b, c.la, c.lb, base + band, entry["value"]))
        if "null" in entry:  # the band's permutation null and p-value
            out.append((c.a, c.b, c.la, c.lb, f"{base}_null{band}", entry["null"]))
            out.append((c.a, c.b, c.la, c.lb, f"{base}_p{band}", entry["p_value"]))
    return out


def _spectral_pair_flops(n: int, p: int, q: int, settings: Any) -> float:
    """Band coordinates of x once and of y per permutation (``U^T Y``: m n q), each band's
    products (m_b (p q + q^2)), and the PCA bands' two SVDs, on the first ``spectral_max_n``
    examples; the graph spectrum is computed once per snapshot, not per pair."""
    m = min(n, settings.spectral_max_n)
    perms = 1 + settings.spectral_null_perms
    coords = 2.0 * m * m * (p + q) + 2.0 * m * p * p
    return coords + perms * 2.0 * m * (m * q + p * q + q * q) + 8.0 * m * (p * p + q * q)


# the metric's registry entry lives with it (the registry does not import this module)
register(MetricSpec(
    "spectral", "similarity", frozenset({"orthogonal", "isotropic_scale", "translation"}),
    "spectral", spectral_alignment,
    "Alignment per kNN-Laplacian / PCA frequency band.",
    label="spectral alignment", rows=spectral_rows,
    params={"n_bands": "spectral_bands", "k_neighbors": "spectral_k",
            "n_perm": "spectral_null_perms"},
    max_n="spectral_max_n", pair_flops=_spectral_pair_flops,
    outputs=(
        Quantity("spectral_graph", "linear CKA in kNN-graph band", SYMMETRIC),
        Quantity("spectral_pca", "linear CKA in PCA band", SYMMETRIC),
        Quantity("spectral_graph_null", "permutation null of linear CKA in kNN-graph band",
                 SYMMETRIC, headline=False),
        Quantity("spectral_graph_p", "permutation p-value of linear CKA in kNN-graph band",
                 SYMMETRIC, (0.0, 1.0), None, False),
    ),
))  # fmt: skip
