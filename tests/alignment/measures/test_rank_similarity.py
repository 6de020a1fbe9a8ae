"""Rank similarity (Wang et al. 2020, ReSi's form) against a numpy reference and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.rank_similarity import rank_similarity

from ._ref import cosine_knn, data


def reference(x, y, k):
    a, b = cosine_knn(x, k), cosine_knn(y, k)
    out = []
    for i in range(len(x)):
        joint = set(a[i]) & set(b[i])
        if not joint:
            out.append(0.0)
            continue
        norm = sum(1 / m for m in range(1, len(joint) + 1))
        s = 0.0
        for j in joint:
            ra, rb = list(a[i]).index(j) + 1, list(b[i]).index(j) + 1
            s += 2 / ((1 + abs(ra - rb)) * (ra + rb))
        out.append(s / norm)
    return np.mean(out)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_matches_numpy_reference(k):
    x, y = data(seed=4)
    assert rank_similarity(x, y, k=k) == pytest.approx(reference(x, y, k), abs=1e-12)


def test_closed_forms():
    x, _ = data(seed=5)
    # identical lists: sum_r 2/(1 * 2r) = H_k, divided by H_k
    assert rank_similarity(x, 0.1 * x, k=7) == pytest.approx(1.0, abs=1e-12)
