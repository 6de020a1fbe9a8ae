"""RSA (Kriegeskorte et al. 2008) against scipy (pdist + pearsonr / spearmanr)."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from xmsem.alignment.measures.rsa import rsa

from ._ref import data, pdist


@pytest.mark.parametrize("distance", ["euclidean", "cosine", "correlation"])
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_matches_scipy(distance, method):
    x, y = data(seed=8)
    dx, dy = pdist(x, metric=distance), pdist(y, metric=distance)
    want = (pearsonr if method == "pearson" else spearmanr)(dx, dy)[0]
    assert rsa(x, y, distance=distance, method=method) == pytest.approx(want, abs=1e-10)


def test_ties_take_their_average_rank():
    # integer grid: many equal distances; spearmanr ranks ties at their average
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 3, (30, 2)).astype(float), rng.integers(0, 3, (30, 3)).astype(float)
    want = spearmanr(pdist(x), pdist(y))[0]
    assert rsa(x, y) == pytest.approx(want, abs=1e-12)


def test_closed_forms():
    x, _ = data(seed=9)
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(8, 8)))
    assert rsa(x, 3 * x @ q + 1.0, method="pearson") == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="distance in"):
        rsa(x, x, distance="manhattan")
