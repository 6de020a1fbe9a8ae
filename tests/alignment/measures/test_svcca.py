"""SVCCA (Raghu et al. 2017) against a numpy reference of the procedure, repsim and closed
forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.mean_cca import mean_cca
from xmsem.alignment.measures.svcca import svcca

from ._ref import centred, data


def reference(x, y, keep=0.99):
    def reduce(a):
        u, s, _ = np.linalg.svd(centred(a), full_matrices=False)
        r = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), keep) + 1)
        return u[:, :r] * s[:r]  # the reduced activations

    a, b = reduce(x), reduce(y)
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    return np.linalg.svd(qa.T @ qb, compute_uv=False).mean()


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_matches_numpy_reference(keep):
    x, y = data(seed=21)
    assert svcca(x, y, keep=keep) == pytest.approx(reference(x, y, keep), abs=1e-10)


def test_keep_everything_is_mean_cca_and_repsim():
    x, y = data(seed=22)
    assert svcca(x, y, keep=1.0) == pytest.approx(float(mean_cca(x, y)), abs=1e-12)
    repsim = pytest.importorskip("repsim")
    assert svcca(x, y, keep=1.0) == pytest.approx(repsim.cca([x, y], "pillai")[0, 1], abs=1e-10)


def test_truncation_drops_a_weak_direction():
    # x: one strong direction that y shares, one weak (0.5 % of variance) that y lacks
    rng = np.random.default_rng(1)
    s = rng.normal(size=(500, 1))
    x = np.hstack([10 * s, 0.5 * rng.normal(size=(500, 1))])
    y = np.hstack([s, rng.normal(size=(500, 1))])
    assert svcca(x, y, keep=0.99) == pytest.approx(1.0, abs=1e-9)  # only the shared one kept
    assert svcca(x, y, keep=1.0) < 0.7
