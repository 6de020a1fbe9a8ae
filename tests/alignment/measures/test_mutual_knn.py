"""Mutual kNN (Huh et al. 2024) against a numpy reference and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.mutual_knn import mutual_knn

from ._ref import cosine_knn, data


def reference(x, y, k):
    a, b = cosine_knn(x, k), cosine_knn(y, k)
    return np.mean([len(set(a[i]) & set(b[i])) / k for i in range(len(x))])


@pytest.mark.parametrize("k", [1, 5, 10])
def test_matches_numpy_reference(k):
    x, y = data()
    assert mutual_knn(x, y, k=k) == pytest.approx(reference(x, y, k), abs=1e-12)


def test_closed_forms():
    x, _ = data()
    assert mutual_knn(x, 3.0 * x, k=5) == 1.0
    assert mutual_knn(x, x, k=len(x) - 1) == 1.0  # every other example is a neighbour
    # two clusters along different axes: neighbours stay inside a cluster in both
    rng = np.random.default_rng(1)
    a = np.vstack([rng.normal([5, 0], 0.1, (20, 2)), rng.normal([0, 5], 0.1, (20, 2))])
    b = np.vstack([rng.normal([0, 0, 9], 0.1, (20, 3)), rng.normal([9, 0, 0], 0.1, (20, 3))])
    assert mutual_knn(a, b, k=19) == 1.0
    assert mutual_knn(a, b, k=20) < 1.0
