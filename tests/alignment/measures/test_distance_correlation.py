"""Distance correlation (Székely et al. 2007) against a numpy reference and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.distance_correlation import distance_correlation

from ._ref import cdist, data


def reference(x, y):
    def centred(d):
        return d - d.mean(0) - d.mean(1)[:, None] + d.mean()

    a, b = centred(cdist(x, x)), centred(cdist(y, y))
    return np.sqrt((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean()))


def test_matches_numpy_reference():
    x, y = data(seed=10)
    assert distance_correlation(x, y) == pytest.approx(reference(x, y), abs=1e-12)


def test_closed_forms():
    x, _ = data(seed=11)
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(8, 8)))
    assert distance_correlation(x, 0.2 * x @ q - 3.0) == pytest.approx(1.0, abs=1e-12)
    # dCor = |Pearson r| is NOT the rule, but for two 2-point samples dCor = 1
    assert distance_correlation(np.array([[0.0], [1.0]]), np.array([[5.0], [2.0]])) == 1.0
