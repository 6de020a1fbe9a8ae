"""RSM norm difference (ReSi) against scipy distances and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.rsm_norm_diff import rsm_norm_diff

from ._ref import cdist, data


def test_matches_scipy():
    x, y = data(seed=12)
    assert rsm_norm_diff(x, y) == pytest.approx(
        np.linalg.norm(cdist(x, x) - cdist(y, y)), rel=1e-12
    )


def test_closed_forms():
    x, _ = data(seed=13)
    assert rsm_norm_diff(x, x + 7.0) == pytest.approx(0.0, abs=1e-9)
    # scaling by c multiplies every distance by c: ||c D - D||_F = |c - 1| ||D||_F
    d = np.linalg.norm(cdist(x, x))
    assert rsm_norm_diff(x, 3.0 * x) == pytest.approx(2.0 * d, rel=1e-12)
