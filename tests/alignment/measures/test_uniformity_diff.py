"""Uniformity difference (Wang & Isola 2020 on the sphere) against scipy and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.uniformity_diff import uniformity_diff

from ._ref import data, pdist, squareform


def uni(x, t=2.0):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.log(np.exp(-t * squareform(pdist(u, "sqeuclidean"))).mean())


@pytest.mark.parametrize("t", [0.5, 2.0])
def test_matches_scipy(t):
    x, y = data(seed=16)
    assert uniformity_diff(x, y, t=t) == pytest.approx(abs(uni(x, t) - uni(y, t)), abs=1e-12)


def test_closed_forms():
    # two antipodal points per axis vs one point: u = log((2 + 2 e^{-8})/4) vs log(1) = 0
    a = np.array([[1.0, 0.0], [-1.0, 0.0]])
    b = np.array([[1.0, 0.0], [2.0, 0.0]])  # same direction twice
    want = abs(np.log((2 + 2 * np.exp(-8.0)) / 4))
    assert uniformity_diff(a, b) == pytest.approx(want, abs=1e-14)
