"""CKNNA (Huh et al. 2024) against a numpy reference of its definition and closed forms."""

import numpy as np
import pytest

from xmsem.alignment import linear_cka
from xmsem.alignment.measures.cknna import cknna

from ._ref import data


def hsic1(k, l):
    """Unbiased HSIC (Song et al. 2012, eq. 5), written out."""
    n = len(k)
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    one = np.ones(n)
    t = np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
    t -= 2 / (n - 2) * (one @ k @ l @ one)
    return t / (n * (n - 3))


def mask(kern, k):
    s = kern.copy()
    np.fill_diagonal(s, -np.inf)
    m = np.zeros_like(s)
    for i, row in enumerate(np.argsort(-s, axis=1, kind="stable")[:, :k]):
        m[i, row] = 1
    return m


def reference(x, y, k):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    kx, ky = xn @ xn.T, yn @ yn.T
    mx, my = mask(kx, k), mask(ky, k)
    m = mx * my
    return hsic1(m * kx, m * ky) / np.sqrt(hsic1(mx * kx, mx * kx) * hsic1(my * ky, my * ky))


@pytest.mark.parametrize("k", [5, 20])
def test_matches_numpy_reference(k):
    x, y = data(n=80, seed=6)
    assert cknna(x, y, k=k) == pytest.approx(reference(x, y, k), abs=1e-10)


def test_closed_forms():
    x, y = data(n=60, seed=7)
    assert cknna(x, 4.0 * x, k=5) == pytest.approx(1.0, abs=1e-12)
    # k = n - 1: every pair is kept, CKNNA is debiased linear CKA of the unit-norm rows
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    want = float(linear_cka(xn, yn, debiased=True))
    # debiased CKA of centred features equals HSIC_1 of the uncentred kernels (HSIC_1 centres)
    assert cknna(x, y, k=len(x) - 1) == pytest.approx(want, abs=1e-10)
