"""Concentricity difference (ReSi) against numpy and closed forms."""

import numpy as np
import pytest

from xmsem.alignment import DegenerateInputWarning
from xmsem.alignment.measures.concentricity_diff import concentricity_diff

from ._ref import cdist, data


def conc(x):
    return (1 - cdist(x, x.mean(0, keepdims=True), metric="cosine")).mean()


def test_matches_scipy():
    x, y = data(seed=15)
    assert concentricity_diff(x, y) == pytest.approx(abs(conc(x) - conc(y)), abs=1e-12)


def test_closed_forms():
    x = np.arange(1.0, 7.0)[:, None] * np.array([[1.0, 2.0, 2.0]])  # all on one ray: c(X) = 1
    rng = np.random.default_rng(3)
    y = rng.normal(size=(6, 2))
    assert concentricity_diff(x, y) == pytest.approx(abs(1 - conc(y)), abs=1e-12)
    with pytest.warns(DegenerateInputWarning):  # mean zero: no direction, NaN
        assert np.isnan(concentricity_diff(x, y - y.mean(0)))
    assert concentricity_diff(x, 5 * x) == pytest.approx(0.0, abs=1e-15)
