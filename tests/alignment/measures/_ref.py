"""Independent numpy/scipy references shared by the measure tests (written from the papers'
definitions, not from xmsem's code), and seeded data."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist, pdist, squareform


def data(n: int = 120, p: int = 8, q: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two related, anisotropic, uncentred representations."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    x = z @ rng.normal(size=(4, p)) * np.logspace(0, 1, p) + 0.5 * rng.normal(size=(n, p)) + 1.0
    y = np.tanh(z @ rng.normal(size=(4, q))) + 0.5 * rng.normal(size=(n, q)) + 0.5
    return x, y


def cosine_knn(x: np.ndarray, k: int) -> np.ndarray:
    """k nearest other rows by cosine distance (scipy), nearest first."""
    d = cdist(x, x, metric="cosine")
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def onb(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space (numpy SVD, numerical rank)."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return u[:, : int((s > max(x.shape) * np.finfo(float).eps * s[0]).sum())]


def centred(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0)


def canonical_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Canonical correlations from the covariance route: eigenvalues of
    Sxx^-1 Sxy Syy^-1 Syx (Hotelling 1936), a different algorithm from the SVD of bases."""
    xc, yc = centred(x), centred(y)
    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    m = np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T)
    ev = np.sort(np.clip(np.linalg.eigvals(m).real, 0, 1))[::-1]
    return np.sqrt(ev[: min(x.shape[1], y.shape[1])])


__all__ = ["canonical_correlations", "cdist", "centred", "cosine_knn", "data", "onb", "pdist",
           "squareform"]  # fmt: skip
