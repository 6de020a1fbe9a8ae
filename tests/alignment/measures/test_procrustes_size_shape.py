"""Procrustes size-and-shape distance against scipy's orthogonal_procrustes and closed forms."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from xmsem.alignment.measures.procrustes_size_shape import procrustes_size_shape

from ._ref import centred, data


def test_matches_scipy():
    x, y = data(seed=40)
    a, b = centred(x), np.hstack([centred(y), np.zeros((len(y), 2))])
    r, _ = orthogonal_procrustes(a, b)
    assert procrustes_size_shape(x, y) == pytest.approx(np.linalg.norm(a @ r - b), rel=1e-10)


def test_closed_forms():
    x, _ = data(seed=41)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    assert procrustes_size_shape(x, x @ q + 4.0) == pytest.approx(0.0, abs=1e-6)
    # scaling by c: the best rotation is the identity, d = |c - 1| ||X_c||_F
    assert procrustes_size_shape(x, 3 * x) == pytest.approx(
        2 * np.linalg.norm(centred(x)), rel=1e-12
    )
