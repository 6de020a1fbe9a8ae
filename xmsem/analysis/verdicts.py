"""How one pre-registered rule turns an estimate into a verdict, and the controls of that rule.

The rule book is ``experiments/RULES.yaml`` (see ``experiments/RULES.md``); this module is the one
place its decision procedure lives:

1. fewer than ``min_n`` units -> ``not enough copies``;
2. a failed validity condition -> ``inconclusive: <why>``;
3. **margin before direction**: a 95% interval inside ``[-margin, margin]`` -> ``no meaningful
   difference``, whatever its sign;
4. Holm-adjusted p < alpha: ``supported`` when the interval lies on the claimed side of 0,
   ``opposite direction`` when on the other;
5. otherwise ``inconclusive``.

Controls of a rule, with the study's own statistics (:mod:`xmsem.analysis.stats`):

* positive control, :func:`power`: the fraction of simulated studies with the claimed effect
  planted, at the rule's n and standard error, that the rule calls ``supported``;
* A/A control, :func:`split_halves`: one architecture's seed units split into two disjoint
  halves, judged by the same rule (with ``plant`` moving one half: a positive control on real
  data).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable

import numpy as np
from scipy import stats as sps

from xmsem.analysis.stats import (
    Paired,
    combine_cells,
    jackknife_difference,
    paired_difference,
    summarize,
)

SUPPORTED = "supported"
OPPOSITE = "opposite direction"
NO_DIFFERENCE = "no meaningful difference"
INCONCLUSIVE = "inconclusive"
NOT_ENOUGH = "not enough copies"
NOT_RUN = "not run here"
INVALID = "invalid"
MAGNITUDE_OK = "magnitude consistent"
MAGNITUDE_LARGER = "magnitude larger than stated"
MAGNITUDE_SMALLER = "magnitude smaller than stated"


def decide(
    ci_low: float,
    ci_high: float,
    p_holm: float,
    n: int,
    direction: int,
    margin: float,
    alpha: float = 0.05,
    min_n: int = 3,
    problem: str | None = None,
) -> str:
    """The verdict of a contrast ``a - b`` with 95% interval ``[ci_low, ci_high]`` and
    Holm-adjusted p ``p_holm`` on the claim "the difference has the sign ``direction``"."""
    if not n >= min_n:
        return NOT_ENOUGH
    if problem:
        return f"{INCONCLUSIVE}: {problem}"
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return INCONCLUSIVE
    if -margin <= ci_low and ci_high <= margin:  # margin first, whatever the sign
        return NO_DIFFERENCE
    if math.isfinite(p_holm) and p_holm < alpha:
        low, high = (ci_low, ci_high) if direction > 0 else (-ci_high, -ci_low)
        if low > 0:
            return SUPPORTED
        if high < 0:
            return OPPOSITE
    return INCONCLUSIVE


def equivalence(verdict: str) -> str:
    """The verdict of an equivalence claim ("no major advantage") from the directional one: no
    meaningful difference supports it; a difference beyond the margin either way refutes it."""
    if verdict == NO_DIFFERENCE:
        return f"{SUPPORTED} ({NO_DIFFERENCE})"
    if verdict in (SUPPORTED, OPPOSITE):
        return f"not supported ({'advantage' if verdict == SUPPORTED else 'disadvantage'})"
    return verdict


def magnitude(ci_low: float, ci_high: float, stated: float) -> str:
    """Whether the interval of a relative effect contains the ``stated`` value."""
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return ""
    if ci_low > stated:
        return MAGNITUDE_LARGER
    if ci_high < stated:
        return MAGNITUDE_SMALLER
    return MAGNITUDE_OK


# --------------------------------------------------------------------------- simulation
def draw(
    method: str,
    effect: float,
    se: float,
    n: int,
    rng: np.random.Generator,
    sims: int,
    cells: int = 2,
) -> np.ndarray:
    """Raw data of ``sims`` simulated studies of a contrast with true value ``effect`` and
    standard error ``se`` from ``n`` units:

    * ``paired-t``: ``(sims, n)`` per-unit differences ~ N(effect, (se sqrt(n))^2);
    * ``jackknife``: ``(sims, n)`` seed effects a_i ~ N(0, (se sqrt(n) / 2)^2) of seed-vs-seed
      values ``h_a(i, j) = effect + a_i + a_j`` against ``h_b(i, j) = 0`` (the variance of a
      U-statistic is ~ 4 var(a) / n);
    * ``cells``: ``(sims, cells, n)`` values of summary cells, the se split evenly, the effect
      in the first cell (the contrast is the first cell minus the others).
    """
    if method == "paired-t":
        return rng.normal(effect, se * math.sqrt(n), size=(sims, n))
    if method == "jackknife":
        return rng.normal(0.0, se * math.sqrt(n) / 2.0, size=(sims, n))
    if method == "cells":
        x = rng.normal(0.0, se / math.sqrt(cells) * math.sqrt(n), size=(sims, cells, n))
        x[:, 0, :] += effect
        return x
    raise ValueError(
        f"simulation method {method!r} is not known; valid: paired-t, jackknife, cells"
    )


def own_statistic(method: str, raw: np.ndarray, effect: float = 0.0) -> Paired:
    """The study's own statistic on one simulated study ``raw`` (one row of :func:`draw`):
    :func:`~xmsem.analysis.stats.paired_difference`, :func:`~xmsem.analysis.stats.
    jackknife_difference` or :func:`~xmsem.analysis.stats.summarize` +
    :func:`~xmsem.analysis.stats.combine_cells`."""
    if method == "paired-t":
        return paired_difference(dict(enumerate(raw)), dict.fromkeys(range(len(raw)), 0.0))
    if method == "jackknife":
        n = len(raw)
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        va = [(effect + raw[i] + raw[j], (i, j)) for i, j in pairs]
        return jackknife_difference(va, [(0.0, (i, j)) for i, j in pairs])
    found = [(e.mean, e.se, e.n) for e in (summarize(c) for c in raw)]
    return combine_cells(found, [1] + [-1] * (len(raw) - 1))


def statistics(method: str, raw: np.ndarray, effect: float = 0.0) -> tuple[np.ndarray, ...]:
    """``(ci_low, ci_high, p)`` of every simulated study of ``raw`` at once: the numbers of
    :func:`own_statistic`, vectorised over the studies (tested against it)."""
    if method == "paired-t":
        n = raw.shape[1]
        diff, se = raw.mean(axis=1), raw.std(axis=1, ddof=1) / math.sqrt(n)
    elif method == "jackknife":
        n = raw.shape[1]
        iu = np.triu_indices(n, 1)
        values = effect + raw[:, iu[0]] + raw[:, iu[1]]  # (sims, pairs)
        keep = np.ones((n, len(iu[0])))
        keep[iu[0], np.arange(len(iu[0]))] = 0.0
        keep[iu[1], np.arange(len(iu[0]))] = 0.0
        loo = values @ keep.T / keep.sum(axis=1)  # (sims, n)
        diff = values.mean(axis=1)
        se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean(axis=1, keepdims=True)) ** 2, axis=1))
    else:
        n = raw.shape[2]
        signs = np.array([1.0] + [-1.0] * (raw.shape[1] - 1))
        diff = raw.mean(axis=2) @ signs
        se = np.sqrt(np.sum(raw.var(axis=2, ddof=1) / n, axis=1))
    half = sps.t.ppf(0.975, n - 1) * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2.0 * sps.t.sf(np.abs(diff / se), n - 1)
    return diff - half, diff + half, p


def power(
    method: str,
    effect: float,
    se: float,
    n: int,
    direction: int,
    margin: float,
    alpha: float = 0.05,
    family_size: int = 1,
    simulations: int = 1000,
    seed: int = 0,
    cells: int = 2,
) -> float:
    """Positive control: the fraction of ``simulations`` studies with ``effect`` planted that the
    rule calls ``supported``. Holm is taken at its strictest step (alpha / family size), so the
    power holds whatever the other rows of the family find. NaN when se or n cannot be used."""
    if not (math.isfinite(se) and se > 0 and n >= 3 and math.isfinite(effect)):
        return math.nan
    rng = np.random.default_rng(seed)
    raw = draw(method, effect, se, n, rng, simulations, cells)
    lows, highs, ps = statistics(method, raw, effect)
    hits = 0
    for lo, hi, p in zip(lows, highs, ps, strict=True):
        p_adj = min(1.0, p * family_size)
        hits += decide(lo, hi, p_adj, n, direction, margin, alpha) == SUPPORTED
    return hits / simulations


# --------------------------------------------------------------------------- A/A control
def split_halves(
    values: Iterable[tuple[float, Iterable[Hashable]]], plant: float = 0.0
) -> tuple[Paired, list[tuple[float, frozenset]], list[tuple[float, frozenset]]]:
    """A/A control of a seed-vs-seed outcome of ONE architecture: its seed units sorted and split
    into two disjoint halves; a value (pair of units) enters the half that holds both of its
    units, pairs across halves are left out. Returns the jackknife difference (second half minus
    first), and the two halves. ``plant`` is added to every value of the second half (a positive
    control with a known effect)."""
    rows = [(float(v), frozenset(u)) for v, u in values]
    units = sorted(set().union(*(u for _, u in rows)), key=repr) if rows else []
    first = set(units[: len(units) // 2])
    second = set(units[len(units) // 2 :])
    half_a = [(v, u) for v, u in rows if u <= first]
    half_b = [(v + plant, u) for v, u in rows if u <= second]
    return jackknife_difference(half_b, half_a), half_a, half_b


def planted_effect(spec: object, reference: float) -> float:
    """The effect a rule's ``planted`` / ``plant`` entry stands for: a number as is, or
    ``"relative r"``: ``r`` times ``reference`` (e.g. 20% of the MLP's instability 1 - CKA)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return float(spec)
    if isinstance(spec, str) and spec.startswith("relative "):
        return float(spec.split()[1]) * reference
    raise ValueError(f"planted effect {spec!r}: must be a number or 'relative <fraction>'")


def passes_aa(verdict: str) -> bool:
    """An A/A control passes when the rule finds no significant difference."""
    return verdict in (NO_DIFFERENCE, INCONCLUSIVE)
