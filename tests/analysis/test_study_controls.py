"""The statistics behind every verdict row: Holm, the minimum detectable effect, the
margin-before-direction decision, and the A/A and positive controls of a rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xmsem.analysis import verdicts as V
from xmsem.analysis.stats import combine_cells, holm, mde, se_from_interval


# --------------------------------------------------------------------------- Holm
def test_holm_against_a_hand_computation() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01 = 0.03; 2 * 0.03 = 0.06; max(0.06, 1 * 0.04) = 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    # the review's synthetic stability rows: 3 * 0.021 = 0.063 carries to all three
    assert holm([0.021, 0.028, 0.040]) == pytest.approx([0.063, 0.063, 0.063])
    # capped at 1; untested (NaN) rows neither adjusted nor counted in m
    out = holm([0.5, math.nan, 0.2])
    assert out[0] == pytest.approx(min(1.0, max(2 * 0.2, 0.5))) and math.isnan(out[1])
    assert out[2] == pytest.approx(0.4)
    assert holm([0.9, 0.8]) == [1.0, 1.0]  # 2 * 0.8 capped at 1, carried to 0.9


# --------------------------------------------------------------------------- MDE
def test_mde_is_the_closed_form() -> None:
    # t_{0.975,4} = 2.7764451, t_{0.80,4} = 0.9409646 (Student-t tables); sd 0.01, n 5
    assert mde(0.01 / math.sqrt(5), 4) == pytest.approx((2.7764451 + 0.9409646) * 0.01 / 5**0.5)
    # n 20: t_{0.975,19} = 2.0930241, t_{0.80,19} = 0.8609506
    assert mde(0.002, 19) == pytest.approx((2.0930241 + 0.8609506) * 0.002, rel=1e-7)
    assert math.isnan(mde(math.nan, 4)) and math.isnan(mde(0.01, 0))


def test_mde_is_detected_with_about_80_percent_power() -> None:
    """A planted effect equal to the MDE is found by the paired t-test in ~80% of studies (the
    t-based formula is the usual approximation of the noncentral-t power)."""
    se = 0.004
    effect = mde(se, 9)
    got = V.power("paired-t", effect, se, 10, +1, 0.0, simulations=4000, seed=3)
    assert 0.74 < got < 0.86


def test_se_from_interval_inverts_the_t_interval() -> None:
    assert se_from_interval(0.1 - 2.7764451 * 0.02, 0.1 + 2.7764451 * 0.02, 4) == pytest.approx(
        0.02
    )


def test_combine_cells_is_the_contrast_of_independent_means() -> None:
    res = combine_cells([(0.9, 0.03, 5), (0.8, 0.04, 5)], [1, -1])
    assert res.mean_diff == pytest.approx(0.1)
    half = 2.7764451 * 0.05  # sqrt(0.03^2 + 0.04^2) = 0.05, df = 4
    assert (res.ci_low, res.ci_high) == pytest.approx((0.1 - half, 0.1 + half))
    assert res.p_value == pytest.approx(0.1160, abs=2e-4)  # 2 * P(T_4 > 2)


# --------------------------------------------------------------------------- the decision
@pytest.mark.parametrize(
    ("lo", "hi", "p", "n", "direction", "margin", "verdict"),
    [
        (0.001, 0.01, 0.01, 5, +1, 0.0005, V.SUPPORTED),
        (-0.01, -0.001, 0.01, 5, +1, 0.0005, V.OPPOSITE),
        # margin BEFORE direction: the noise row 0.0012 [0.0009, 0.0015] inside 0.002
        (0.0009, 0.0015, 0.0003, 5, +1, 0.002, V.NO_DIFFERENCE),
        (-0.0015, -0.0009, 0.0003, 5, +1, 0.002, V.NO_DIFFERENCE),
        # interval above 0 but Holm-adjusted p 0.063: not supported
        (0.0002, 0.013, 0.063, 5, +1, 0.002, V.INCONCLUSIVE),
        (-0.02, 0.03, 0.5, 5, +1, 0.005, V.INCONCLUSIVE),
        (-3.0, -1.0, 0.001, 5, -1, 0.5, V.SUPPORTED),  # "fewer steps": negative is the claim
        (0.001, 0.01, 0.01, 2, +1, 0.0, V.NOT_ENOUGH),
        (0.001, 0.01, 0.01, 3, +1, 0.0, V.SUPPORTED),
        (math.nan, 0.01, 0.01, 5, +1, 0.0, V.INCONCLUSIVE),
    ],
)
def test_decide(lo, hi, p, n, direction, margin, verdict) -> None:
    assert V.decide(lo, hi, p, n, direction, margin) == verdict


def test_decide_min_n_and_validity() -> None:
    assert V.decide(0.1, 0.2, 0.001, 3, +1, 0.0, min_n=10) == V.NOT_ENOUGH
    got = V.decide(0.1, 0.2, 0.001, 5, +1, 0.0, problem="noise too weak")
    assert got == "inconclusive: noise too weak"


def test_magnitude_check() -> None:
    assert V.magnitude(0.28, 0.55, 0.20) == V.MAGNITUDE_LARGER  # the review's h3 interval
    assert V.magnitude(0.13, 0.27, 0.20) == V.MAGNITUDE_OK
    assert V.magnitude(0.02, 0.15, 0.20) == V.MAGNITUDE_SMALLER


# --------------------------------------------------------------------------- simulations
@pytest.mark.parametrize(("method", "n", "cells"), [("paired-t", 5, 2), ("jackknife", 6, 2),
                                                    ("cells", 5, 4), ("cells", 4, 1)])  # fmt: skip
def test_vectorised_simulation_is_the_studys_own_statistic(method, n, cells) -> None:
    raw = V.draw(method, 0.01, 0.004, n, np.random.default_rng(0), 4, cells)
    lo, hi, p = V.statistics(method, raw, 0.01)
    for k in range(4):
        own = V.own_statistic(method, raw[k], 0.01)
        assert (own.ci_low, own.ci_high, own.p_value) == pytest.approx((lo[k], hi[k], p[k]))


@pytest.mark.parametrize("method", ["paired-t", "jackknife", "cells"])
def test_aa_simulation_gives_no_difference(method) -> None:
    """A/A: no effect planted -> the rule claims a direction in at most ~alpha of studies."""
    got = V.power(method, 0.0, 0.004, 10, +1, 0.0, simulations=2000, seed=1)
    assert got < 0.05  # one-sided share of a two-sided 5% test: ~0.025


@pytest.mark.parametrize("method", ["paired-t", "jackknife", "cells"])
def test_planted_effect_is_detected_with_its_power(method) -> None:
    se, n = 0.003, 20
    big = V.power(method, 3 * mde(se, n - 1), se, n, +1, 0.002, simulations=1000, seed=2)
    assert big > 0.99
    # a margin as large as the effect swallows it: margin before direction
    assert V.power(method, 0.002, 1e-5, n, +1, 0.01, simulations=200) == 0.0
    # Holm at its strictest step (alpha / family size) costs power
    one = V.power(method, mde(se, n - 1), se, n, +1, 0.0, simulations=2000, seed=4)
    three = V.power(method, mde(se, n - 1), se, n, +1, 0.0, family_size=3, simulations=2000, seed=4)
    assert 0.7 < one < 0.9 and three < one - 0.1


def _seed_pairs(n: int, rng: np.random.Generator, sd: float) -> list[tuple[float, tuple]]:
    a = rng.normal(0.0, sd, size=n)
    return [(0.95 + a[i] + a[j], (i, j)) for i in range(n) for j in range(i + 1, n)]


def test_aa_halves_of_one_architecture_give_no_difference() -> None:
    values = _seed_pairs(40, np.random.default_rng(0), 0.0005)
    res, half_a, half_b = V.split_halves(values)
    assert len(half_a) == len(half_b) == 190  # pairs within each half of 20 units only
    assert not ({u for _, s in half_a for u in s} & {u for _, s in half_b for u in s})
    verdict = V.decide(res.ci_low, res.ci_high, res.p_value, res.n, +1, 0.002)
    assert verdict == V.NO_DIFFERENCE and V.passes_aa(verdict)


def test_planted_effect_in_one_half_is_detected() -> None:
    values = _seed_pairs(40, np.random.default_rng(0), 0.0005)
    res, _, _ = V.split_halves(values, plant=0.01)
    assert res.mean_diff == pytest.approx(0.01, abs=0.002)
    assert V.decide(res.ci_low, res.ci_high, res.p_value, res.n, +1, 0.002) == V.SUPPORTED


def test_planted_effect_spec() -> None:
    assert V.planted_effect(0.005, 0.3) == 0.005
    assert V.planted_effect("relative 0.20", 0.059) == pytest.approx(0.0118)
    with pytest.raises(ValueError, match="relative"):
        V.planted_effect("twenty percent", 0.1)


def test_equivalence_claims_are_supported_by_no_meaningful_difference() -> None:
    assert V.equivalence(V.NO_DIFFERENCE) == "supported (no meaningful difference)"
    assert V.equivalence(V.SUPPORTED) == "not supported (advantage)"
    assert V.equivalence(V.OPPOSITE) == "not supported (disadvantage)"
    assert V.equivalence(V.INCONCLUSIVE) == V.INCONCLUSIVE
