"""Eigenspace overlap score (May et al. 2019, ReSi's form) against numpy and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.eigenspace_overlap import eigenspace_overlap

from ._ref import data, onb


def test_matches_numpy():
    x, y = data(seed=26)
    want = np.linalg.norm(onb(x).T @ onb(y)) ** 2 / max(x.shape[1], y.shape[1])
    assert eigenspace_overlap(x, y) == pytest.approx(want, abs=1e-12)


def test_closed_forms():
    x, _ = data(seed=27)
    a = np.random.default_rng(0).normal(size=(8, 8))
    assert eigenspace_overlap(x, x @ a) == pytest.approx(1.0, abs=1e-10)
    # a subspace of half the dimension: overlap = 4 / 8
    assert eigenspace_overlap(x, x[:, :4]) == pytest.approx(0.5, abs=1e-10)
