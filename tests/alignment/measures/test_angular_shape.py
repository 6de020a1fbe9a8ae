"""Angular shape metric (Williams et al. 2021) against scipy's Procrustes, closed forms and the
triangle inequality."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from xmsem.alignment.measures.angular_shape import angular_shape
from xmsem.alignment.measures.mean_cca import mean_cca

from ._ref import centred, data


def test_matches_scipy_procrustes():
    x, y = data(seed=32)
    a = centred(x) / np.linalg.norm(centred(x))
    b = np.hstack([centred(y), np.zeros((len(y), 2))])
    b /= np.linalg.norm(b)
    r, _ = orthogonal_procrustes(a, b)
    assert angular_shape(x, y) == pytest.approx(np.arccos(np.sum((a @ r) * b)), abs=1e-10)


def test_closed_forms_and_metric_axioms():
    x, y = data(seed=33)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    assert angular_shape(x, 2 * x @ q + 1) == pytest.approx(0.0, abs=1e-6)
    # orthogonal column spaces: angle pi/2
    e = np.random.default_rng(1).normal(size=(50, 2))
    e -= e.mean(0)
    assert angular_shape(
        np.c_[e[:, 0]],
        np.c_[e[:, 0] * 0 + (e[:, 1] - e[:, 1] @ e[:, 0] / (e[:, 0] @ e[:, 0]) * e[:, 0])],
    ) == pytest.approx(np.pi / 2, abs=1e-10)
    z = data(seed=34)[0]
    assert (
        angular_shape(x, z)
        <= angular_shape(x, y[:, :6] @ np.ones((6, 8)))
        + angular_shape(y[:, :6] @ np.ones((6, 8)), z)
        + 1e-12
    )
    # full whitening: the angle of the mean-CCA-style metric (cos = sum rho / width)
    want = np.arccos(
        np.linalg.svd(
            np.linalg.qr(centred(x))[0].T
            @ np.linalg.qr(np.c_[centred(y), np.zeros((120, 2))])[0][:, :6],
            compute_uv=False,
        ).sum()
        / np.sqrt(8 * 6)
    )
    assert angular_shape(x, y, alpha=0.0) == pytest.approx(want, abs=1e-10)
    assert float(mean_cca(x, y)) == pytest.approx(np.cos(want) * np.sqrt(8 * 6) / 6, abs=1e-10)
