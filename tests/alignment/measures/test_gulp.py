"""GULP (Boix-Adserà et al. 2022) against a numpy reference of the trace formula (the one ReSi
reports, squared) and closed forms."""

import numpy as np
import pytest

from xmsem.alignment.measures.gulp import gulp
from xmsem.alignment.measures.mean_cca import mean_cca

from ._ref import centred, data


def reference_sq(x, y, lam):
    n = len(x)
    a, b = centred(x), centred(y)
    a, b = a * np.sqrt(n) / np.linalg.norm(a), b * np.sqrt(n) / np.linalg.norm(b)
    sx, sy, sxy = a.T @ a / n, b.T @ b / n, a.T @ b / n
    ax = np.linalg.inv(sx + lam * np.eye(len(sx)))
    ay = np.linalg.inv(sy + lam * np.eye(len(sy)))
    return (np.trace(ax @ sx @ ax @ sx) + np.trace(ay @ sy @ ay @ sy)
            - 2 * np.trace(ax @ sxy @ ay @ sxy.T))  # fmt: skip


@pytest.mark.parametrize("lam", [1e-3, 0.01, 1.0])
def test_matches_trace_formula(lam):
    x, y = data(seed=35)
    assert gulp(x, y, lam=lam) ** 2 == pytest.approx(reference_sq(x, y, lam), rel=1e-9)


def test_closed_forms():
    x, y = data(seed=36)
    assert gulp(x, 3 * x + 1) == pytest.approx(0.0, abs=1e-7)
    # lam = 0: ||P_X - P_Y||_F^2 = p + q - 2 sum rho_i^2 (projections onto the column spaces)
    rho_sq_sum = float(np.linalg.svd(np.linalg.qr(centred(x))[0].T @ np.linalg.qr(centred(y))[0],
                                     compute_uv=False).__pow__(2).sum())  # fmt: skip
    assert gulp(x, y, lam=0.0) ** 2 == pytest.approx(8 + 6 - 2 * rho_sq_sum, rel=1e-9)
    assert float(mean_cca(x, y)) > 0
