"""Convergence measures against hand-computed values of synthetic histories."""

from __future__ import annotations

import math

import pytest

from xmsem.runs.convergence import accuracy_auc, epochs_to_fraction, steps_to_fraction


def test_epochs_and_steps_to_fraction_of_best():
    acc = [0.5, 0.7, 0.85, 0.9, 0.88]  # best 0.9, target 0.95 * 0.9 = 0.855
    assert epochs_to_fraction(acc, 0.95) == 4.0  # 0.85 < 0.855 <= 0.9
    assert epochs_to_fraction(acc, 0.9) == 3.0  # target 0.81
    assert epochs_to_fraction(acc, 1.0) == 4.0
    assert steps_to_fraction(acc, [100, 200, 300, 400, 500], 0.95) == 400.0


def test_plateau_is_reached_once_not_at_the_argmax():
    # a flat top with noise: the argmax lands at epoch 9, the time to 95% of it stays at 3
    acc = [0.6, 0.8, 0.87, 0.88, 0.881, 0.879, 0.88, 0.882, 0.8821, 0.881]
    assert epochs_to_fraction(acc) == 3.0
    assert acc.index(max(acc)) + 1 == 9


def test_auc_of_known_curves():
    e = 8
    linear = [k / e for k in range(1, e + 1)]
    assert accuracy_auc(linear) == pytest.approx((e + 1) / (2 * e))
    tau = 2.0
    expo = [1 - math.exp(-k / tau) for k in range(1, e + 1)]
    q = math.exp(-1 / tau)  # geometric sum of exp(-k / tau), k = 1..e
    assert accuracy_auc(expo) == pytest.approx(1 - q * (1 - q**e) / (1 - q) / e)
    assert math.isnan(accuracy_auc([0.5, float("nan")]))


def test_nan_and_bad_fraction():
    assert math.isnan(epochs_to_fraction([]))
    assert epochs_to_fraction([float("nan"), 0.4, 0.5]) == 3.0  # target 0.475 > 0.4; NaN skipped
    with pytest.raises(ValueError, match="fraction"):
        epochs_to_fraction([0.5], 1.5)
