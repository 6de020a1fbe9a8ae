"""Linear regression R^2 (ReSi's direction: x from y) against numpy lstsq and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.linear_regression import linear_regression

from ._ref import centred, data


def test_matches_lstsq():
    x, y = data(seed=28)
    design = np.column_stack([y, np.ones(len(y))])
    beta, *_ = np.linalg.lstsq(design, x, rcond=None)
    r2 = 1 - ((x - design @ beta) ** 2).sum() / (centred(x) ** 2).sum()
    assert linear_regression(x, y) == pytest.approx(r2, abs=1e-12)


def test_closed_forms():
    x, y = data(seed=29)
    assert linear_regression(x, x @ np.random.default_rng(0).normal(size=(8, 8))) == pytest.approx(
        1.0, abs=1e-12
    )
    # x = y b + independent noise of equal variance: R^2 = 1/2 (large n)
    rng = np.random.default_rng(1)
    y1 = rng.normal(size=(20000, 1))
    x1 = y1 + rng.normal(size=(20000, 1))
    assert linear_regression(x1, y1) == pytest.approx(0.5, abs=0.02)
