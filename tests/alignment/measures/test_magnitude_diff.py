"""Magnitude difference (ReSi) against numpy and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.magnitude_diff import magnitude_diff

from ._ref import data


def test_matches_numpy():
    x, y = data(seed=14)
    want = abs(np.linalg.norm(x.mean(0)) - np.linalg.norm(y.mean(0)))
    assert magnitude_diff(x, y) == pytest.approx(want, abs=1e-12)


def test_closed_forms():
    x = np.zeros((10, 3))
    x[:, 0] = 1.0  # a constant representation is fine here: its mean has norm 1
    assert magnitude_diff(x, 2 * x) == pytest.approx(1.0, abs=1e-15)
    assert magnitude_diff(x - x.mean(0), np.zeros((10, 4))) == 0.0
