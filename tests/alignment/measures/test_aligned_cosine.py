"""Aligned cosine (Hamilton et al. 2016, ReSi's form) against scipy's orthogonal_procrustes."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from xmsem.alignment.measures.aligned_cosine import aligned_cosine

from ._ref import data


def test_matches_scipy():
    x, y = data(seed=30)
    yp = np.hstack([y, np.zeros((len(y), 2))])  # zero-pad to a common width
    r, _ = orthogonal_procrustes(x, yp)
    xa = x @ r
    want = np.mean((xa * yp).sum(1) / (np.linalg.norm(xa, axis=1) * np.linalg.norm(yp, axis=1)))
    assert aligned_cosine(x, y) == pytest.approx(want, abs=1e-12)


def test_closed_forms():
    x, _ = data(seed=31)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    assert aligned_cosine(x, 0.5 * x @ q) == pytest.approx(1.0, abs=1e-12)
    assert aligned_cosine(x, -x) == pytest.approx(1.0, abs=1e-12)  # -I is orthogonal
