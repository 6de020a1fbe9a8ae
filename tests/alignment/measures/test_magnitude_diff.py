"""Magnitude difference (ReSi) against numpy and closed forms."""

import numpy as np
import pytest

from xmsem.alignment import DegenerateInputWarning
from xmsem.alignment.measures.magnitude_diff import magnitude_diff

from ._ref import data


def test_matches_numpy():
    x, y = data(seed=14)
    want = abs(np.linalg.norm(x.mean(0)) - np.linalg.norm(y.mean(0)))
    assert magnitude_diff(x, y) == pytest.approx(want, abs=1e-12)


def test_closed_forms():
    x, y = data(seed=14)
    # scaling by c scales the mean's norm: | ||m|| - c ||m|| | = |1 - c| ||m||
    assert magnitude_diff(x, 3 * x) == pytest.approx(2 * np.linalg.norm(x.mean(0)), rel=1e-12)
    assert magnitude_diff(x - x.mean(0), y - y.mean(0)) == pytest.approx(0.0, abs=1e-12)


def test_constant_representation_is_nan_as_for_every_metric():
    x, _ = data(seed=14)
    with pytest.warns(DegenerateInputWarning):
        assert np.isnan(magnitude_diff(x, np.ones_like(x)))
