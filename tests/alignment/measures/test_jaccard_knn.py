"""kNN Jaccard (ReSi) against a numpy reference and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.jaccard_knn import jaccard_knn
from xmsem.alignment.measures.mutual_knn import mutual_knn

from ._ref import cosine_knn, data


def reference(x, y, k):
    a, b = cosine_knn(x, k), cosine_knn(y, k)
    return np.mean([len(set(a[i]) & set(b[i])) / len(set(a[i]) | set(b[i])) for i in range(len(x))])


@pytest.mark.parametrize("k", [1, 4, 10])
def test_matches_numpy_reference(k):
    x, y = data(seed=2)
    assert jaccard_knn(x, y, k=k) == pytest.approx(reference(x, y, k), abs=1e-12)


def test_closed_forms():
    x, y = data(seed=3)
    assert jaccard_knn(x, 2.5 * x) == 1.0
    # with equal set sizes, J = m / (2 - m) for the per-example shared fraction m (k = 1: 0/1)
    assert jaccard_knn(x, y, k=1) == pytest.approx(mutual_knn(x, y, k=1), abs=1e-12)
