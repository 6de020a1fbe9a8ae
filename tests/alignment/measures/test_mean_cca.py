"""Mean CCA against the covariance route of canonical correlations, repsim and closed forms."""

import numpy as np
import pytest

from xmsem.alignment import cca_r2
from xmsem.alignment.measures.mean_cca import mean_cca

from ._ref import canonical_correlations, data


def test_matches_covariance_route():
    x, y = data(seed=19)
    assert mean_cca(x, y) == pytest.approx(canonical_correlations(x, y).mean(), abs=1e-10)


def test_matches_repsim_pillai():
    repsim = pytest.importorskip("repsim")
    x, y = data(seed=20)
    # repsim's CCA 'pillai' = ||Q_x^T Q_y||_* / min(rank) = mean canonical correlation;
    # its 'yanai' = mean squared canonical correlation = our cca_r2
    assert mean_cca(x, y) == pytest.approx(repsim.cca([x, y], "pillai")[0, 1], abs=1e-10)
    assert cca_r2(x, y) == pytest.approx(repsim.cca([x, y], "yanai")[0, 1], abs=1e-10)


def test_known_canonical_structure():
    # y shares exactly two directions with x, plus independent noise in a third
    rng = np.random.default_rng(0)
    n = 4000
    z = rng.normal(size=(n, 3))
    x = z @ rng.normal(size=(3, 3))
    rho = 0.6
    shared = np.column_stack([z[:, 0], rho * z[:, 1] + np.sqrt(1 - rho**2) * rng.normal(size=n)])
    y = shared @ rng.normal(size=(2, 2))
    assert mean_cca(x, y) == pytest.approx((1 + rho) / 2, abs=0.02)
    assert mean_cca(x, x @ rng.normal(size=(3, 3)) + 5) == pytest.approx(1.0, abs=1e-12)
