"""PWCCA (Morcos et al. 2018) against a numpy reference, PyPI repsim and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.pwcca import pwcca

from ._ref import centred, data, onb


def reference(x, y):
    xc, yc = centred(x), centred(y)
    ux, uy = onb(xc), onb(yc)
    left, rho, _ = np.linalg.svd(ux.T @ uy, full_matrices=False)
    h = ux @ left[:, : len(rho)]
    alpha = np.abs(h.T @ xc).sum(axis=1)
    return (alpha * rho).sum() / alpha.sum()


def test_matches_numpy_reference():
    x, y = data(seed=23)
    assert pwcca(x, y) == pytest.approx(reference(x, y), abs=1e-12)


def test_matches_repsim_symmetrised():
    repsim = pytest.importorskip("repsim")
    x, y = data(seed=24)
    want = repsim.pwcca([x, y])[0, 1]  # repsim averages both directions
    assert 0.5 * (pwcca(x, y) + pwcca(y, x)) == pytest.approx(want, abs=1e-10)


def test_closed_forms():
    x, y = data(seed=25)
    assert pwcca(x, x @ np.diag(np.arange(1.0, 9.0)) + 2) == pytest.approx(1.0, abs=1e-12)
    assert pwcca(x, y) != pytest.approx(pwcca(y, x), abs=1e-6)  # not symmetric
