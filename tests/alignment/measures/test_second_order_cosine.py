"""Second-order cosine (Hamilton et al. 2016, ReSi's form) against a scipy reference."""

import numpy as np
import pytest
from scipy.spatial.distance import cosine

from xmsem.alignment.measures.second_order_cosine import second_order_cosine

from ._ref import cdist, cosine_knn, data


def reference(x, y, k):
    a, b = cosine_knn(x, k), cosine_knn(y, k)
    dx, dy = cdist(x, x, "cosine"), cdist(y, y, "cosine")
    out = []
    for i in range(len(x)):
        u = sorted(set(a[i]) | set(b[i]))
        out.append(1 - cosine(dx[i, u], dy[i, u]))
    return np.mean(out)


@pytest.mark.parametrize("k", [2, 10])
def test_matches_scipy_reference(k):
    x, y = data(seed=17)
    assert second_order_cosine(x, y, k=k) == pytest.approx(reference(x, y, k), abs=1e-10)


def test_closed_forms():
    x, _ = data(seed=18)
    assert second_order_cosine(x, 9 * x) == pytest.approx(1.0, abs=1e-12)
