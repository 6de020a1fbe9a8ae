"""Seed-level statistics for sweep summaries: intervals, paired comparisons, width checks.

The independent unit of a study is a *seed unit* — (run seed, copy index): one initialisation
and one data order. Every interval here is an interval over seed units, never over the rows a
unit produced:

* **one value per unit** (test accuracy, a live metric of one run): Student-t interval of the
  mean, ``mean ± t_{n-1, (1+level)/2} s / sqrt(n)`` (default), or BCa (Efron 1987) over the
  units. A percentile bootstrap of 5 seeds covers about 83% at nominal 95% (its standard error
  misses the factor sqrt(n/(n-1)) and it uses normal, not t, quantiles); BCa shares the problem,
  so for n <= ``SMALL_N`` the BCa interval is widened to contain the t-interval.
* **values that involve several units** (seed-vs-seed CKA: C(S, 2) pairs of S seeds; the
  shifted cross-architecture pairs ``s_i`` vs ``s_{i+1}``): the pairs are not independent (every
  seed sits in S-1 of them), so treating them as n = C(S, 2) independent values undercovers
  (about 62% at S = 5). Averaging each seed's pairs and taking a t-interval of those S means is
  wrong too: for a U-statistic Var(U) ~ 4 sigma_1^2 / S, four times what S per-seed means
  suggest. We use the **delete-one-seed jackknife**: U_(-i) = the mean of the values that do
  not involve unit i, SE^2 = (n-1)/n sum_i (U_(-i) - mean_i U_(-i))^2, interval U ± t_{n-1} SE.
  For a U-statistic the jackknife variance is never too small in expectation (Efron & Stein 1981),
  it is exact for the seed effect (h(x_i, x_j) = mu + a_i + a_j + e_ij gives SE^2 = 4 s_a^2/n
  and a t_{n-1} pivot), and for one value per unit it equals the t-interval. n = the number of
  units.
* **paired comparisons** (PGNN vs MLP of the same run seed and copy, which share batches):
  differences per unit, t-interval, paired t-test (as ``scipy.stats.ttest_rel``) and Cohen's
  d_z = mean(d) / sd(d).

No interval from fewer than ``MIN_N`` units (NaN, note ``n<3``). Non-finite values are never
dropped silently: they are counted (``n_nonfinite``) and the caller lists them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

LEVEL = 0.95
MIN_N = 3  # no interval from fewer units
SMALL_N = 10  # up to this many units an interval must be at least as wide as the t-interval
METHODS = ("t", "bca")

Unit = Hashable


@dataclass(frozen=True)
class Estimate:
    """A summary of one group of values.

    ``n``: independent units; ``n_values``: finite values (pairs for pairwise metrics);
    ``se``: the standard error behind the interval; ``method``: ``t``, ``bca`` (BCa widened
    to the t-interval when n <= SMALL_N), ``jackknife`` (values involving several units);
    ``note``: why there is no interval (``n<3``) or a caveat."""

    mean: float
    std: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    n_values: int
    n_nonfinite: int
    method: str
    note: str = ""


@dataclass(frozen=True)
class Paired:
    """Paired difference ``a - b`` over the units both have (finite values only)."""

    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    sd_diff: float
    ci_low: float
    ci_high: float
    t: float
    p_value: float
    cohens_dz: float
    n_nonfinite: int
    note: str = ""


# --------------------------------------------------------------------------- intervals
def t_quantile(n: int, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student's t with ``n - 1`` degrees of freedom."""
    return float(sps.t.ppf(0.5 + level / 2.0, n - 1))


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """``mean ± t_{n-1} s / sqrt(n)`` of finite ``values`` (NaN when n < MIN_N)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < MIN_N:
        return math.nan, math.nan
    half = t_quantile(n, level) * float(x.std(ddof=1)) / math.sqrt(n)
    m = float(x.mean())
    return m - half, m + half


def bca_interval(
    values: Sequence[float], resamples: int, rng: np.random.Generator, level: float = LEVEL
) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval of the mean (Efron 1987; Efron &
    Tibshirani 1993, ch. 14): bias z0 = Phi^-1(P*(mean* < mean), ties counted half),
    acceleration a = sum(d^3) / (6 (sum d^2)^1.5) with d = jackknife mean - leave-one-out
    means; endpoints are the bootstrap quantiles Phi(z0 + (z0 + z) / (1 - a (z0 + z))).
    NaN when n < MIN_N or ``resamples`` < 1; the point itself when the values are constant."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < MIN_N or resamples < 1:
        return math.nan, math.nan
    m = float(x.mean())
    if np.all(x == x[0]):
        return m, m
    means = x[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    prop = (np.sum(means < m) + 0.5 * np.sum(means == m)) / resamples
    prop = min(max(prop, 0.5 / resamples), 1.0 - 0.5 / resamples)
    z0 = special.ndtri(prop)
    loo = (x.sum() - x) / (n - 1)
    d = loo.mean() - loo
    accel = float(np.sum(d**3) / (6.0 * np.sum(d**2) ** 1.5))
    out = []
    for z in (special.ndtri(0.5 - level / 2.0), special.ndtri(0.5 + level / 2.0)):
        alpha = special.ndtr(z0 + (z0 + z) / (1.0 - accel * (z0 + z)))
        out.append(float(np.quantile(means, alpha)))
    return out[0], out[1]


def jackknife_units(
    values: Sequence[float], units: Sequence[Iterable[Unit]], level: float = LEVEL
) -> tuple[float, float, float, float, int]:
    """Delete-one-unit jackknife of the mean of ``values``, where value j involves the units
    ``units[j]`` (one for a per-seed value, two for a seed-vs-seed pair). Returns
    ``(mean, se, low, high, n_units)``; the interval is ``mean ± t_{n-1} se`` (see the module
    doc for why this is the right resampling unit). NaN interval when fewer than MIN_N units, or
    when deleting a unit leaves no value."""
    x = np.asarray(values, dtype=np.float64)
    sets = [frozenset(u) for u in units]
    if len(sets) != len(x):
        raise ValueError(f"{len(x)} values but {len(sets)} unit sets")
    names = sorted(set().union(*sets), key=repr) if sets else []
    mean = float(x.mean()) if len(x) else math.nan
    n = len(names)
    if n < MIN_N:
        return mean, math.nan, math.nan, math.nan, n
    member = np.array([[u in s for s in sets] for u in names])  # (units, values)
    keep = ~member
    counts = keep.sum(axis=1)
    if np.any(counts == 0):
        return mean, math.nan, math.nan, math.nan, n
    loo = (keep * x[None, :]).sum(axis=1) / counts
    se = math.sqrt((n - 1) / n * float(np.sum((loo - loo.mean()) ** 2)))
    half = t_quantile(n, level) * se
    return mean, se, mean - half, mean + half, n


def summarize(
    values: Sequence[float],
    units: Sequence[Iterable[Unit]] | None = None,
    method: str = "t",
    resamples: int = 2000,
    rng: np.random.Generator | None = None,
    level: float = LEVEL,
) -> Estimate:
    """The :class:`Estimate` of ``values`` (non-finite ones counted, then left out).

    ``units[j]``: the seed units value j involves (default: every value its own unit). One
    distinct unit per value: t-interval or BCa (``method``); otherwise the unit jackknife."""
    if method not in METHODS:
        raise ValueError(f"interval method {method!r} is not known; valid: {', '.join(METHODS)}")
    raw = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(raw)
    n_bad = int((~finite).sum())
    x = raw[finite]
    sets = (
        [frozenset([j]) for j in range(len(raw))]
        if units is None
        else [frozenset(u) for u in units]
    )
    if len(sets) != len(raw):
        raise ValueError(f"{len(raw)} values but {len(sets)} unit sets")
    sets = [s for s, ok in zip(sets, finite, strict=True) if ok]
    nv = len(x)
    if nv == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan, math.nan, 0, 0, n_bad, "", "n=0")
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if nv > 1 else math.nan
    independent = all(len(s) == 1 for s in sets) and len(set(sets)) == len(sets)
    if not independent:
        _, se, low, high, n = jackknife_units(x, sets, level)
        note = "n<3" if n < MIN_N else ("" if math.isfinite(se) else "unit in every value")
        return Estimate(mean, std, se, low, high, n, nv, n_bad, "jackknife", note)
    if nv < MIN_N:
        return Estimate(mean, std, math.nan, math.nan, math.nan, nv, nv, n_bad, method, "n<3")
    se = std / math.sqrt(nv)
    low, high = t_interval(x, level)
    if method == "bca":
        rng = rng if rng is not None else np.random.default_rng(0)
        b_low, b_high = bca_interval(x, resamples, rng, level)
        if nv > SMALL_N:
            low, high = b_low, b_high
        else:  # too few units for the bootstrap to see its own tails: never below t
            low, high = min(low, b_low), max(high, b_high)
    return Estimate(mean, std, se, low, high, nv, nv, n_bad, method)


# --------------------------------------------------------------------------- paired
def paired_difference(
    a: Mapping[Unit, float], b: Mapping[Unit, float], level: float = LEVEL
) -> Paired:
    """``a - b`` over the units present in both with finite values: mean, sd, t-interval,
    paired t-test (two-sided p, as ``scipy.stats.ttest_rel``) and Cohen's d_z = mean / sd.
    ``n_nonfinite`` counts common units left out for a non-finite value."""
    common = [u for u in a if u in b]
    pairs = [(float(a[u]), float(b[u])) for u in common]
    good = [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]
    n_bad = len(pairs) - len(good)
    n = len(good)
    xa = np.array([p[0] for p in good])
    xb = np.array([p[1] for p in good])
    d = xa - xb
    ma = float(xa.mean()) if n else math.nan
    mb = float(xb.mean()) if n else math.nan
    md = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    if n < MIN_N:
        nan = math.nan
        return Paired(n, ma, mb, md, sd, nan, nan, nan, nan, nan, n_bad, "n<3")
    low, high = t_interval(d, level)
    if sd == 0.0:
        return Paired(n, ma, mb, md, sd, low, high, math.nan, math.nan, math.nan, n_bad, "sd=0")
    t = md / (sd / math.sqrt(n))
    p = float(2.0 * sps.t.sf(abs(t), n - 1))
    return Paired(n, ma, mb, md, sd, low, high, t, p, md / sd, n_bad)


def jackknife_difference(
    a: Sequence[tuple[float, Iterable[Unit]]],
    b: Sequence[tuple[float, Iterable[Unit]]],
    level: float = LEVEL,
) -> Paired:
    """Difference of two means of unit-structured values (e.g. seed-vs-seed CKA of PGNN minus
    that of MLP, over the same seed units): delete-one-unit jackknife of
    ``mean(a) - mean(b)`` with a t_{n-1} interval and p-value; d_z is not defined (NaN)."""
    va = [(float(v), frozenset(u)) for v, u in a if math.isfinite(v)]
    vb = [(float(v), frozenset(u)) for v, u in b if math.isfinite(v)]
    n_bad = len(a) + len(b) - len(va) - len(vb)
    names = sorted(set().union(*(u for _, u in va + vb)), key=repr)
    n = len(names)
    ma = float(np.mean([v for v, _ in va])) if va else math.nan
    mb = float(np.mean([v for v, _ in vb])) if vb else math.nan
    nan = math.nan
    if n < MIN_N or not va or not vb:
        return Paired(n, ma, mb, ma - mb, nan, nan, nan, nan, nan, nan, n_bad, "n<3")
    loo = []
    for unit in names:
        ka = [v for v, u in va if unit not in u]
        kb = [v for v, u in vb if unit not in u]
        if not ka or not kb:
            return Paired(n, ma, mb, ma - mb, nan, nan, nan, nan, nan, nan, n_bad, "unit in all")
        loo.append(np.mean(ka) - np.mean(kb))
    loo_arr = np.asarray(loo)
    se = math.sqrt((n - 1) / n * float(np.sum((loo_arr - loo_arr.mean()) ** 2)))
    md = ma - mb
    half = t_quantile(n, level) * se
    t = md / se if se > 0 else nan
    p = float(2.0 * sps.t.sf(abs(t), n - 1)) if se > 0 else nan
    return Paired(n, ma, mb, md, nan, md - half, md + half, t, p, nan, n_bad, "jackknife")


# --------------------------------------------------------------------------- checks
def check_interval_widths(
    rows: Iterable[Mapping], max_n: int = SMALL_N, level: float = LEVEL, rtol: float = 1e-9
) -> list[str]:
    """Problems of summary rows (empty list: all good): an interval from fewer than MIN_N
    units, or, for n <= ``max_n`` units, an interval narrower than the t-interval for that n —
    ``2 t_{n-1} s / sqrt(n)`` from the row's ``std`` where each unit gave one value, and
    ``2 t_{n-1} se`` (the row's seed-level standard error) where values involve several units
    (method ``jackknife`` or ``n_values`` > ``n``). Rows without ``n_values`` (older summaries) count as one value per
    unit, so a bootstrap over pairs shows up here."""
    problems = []
    for row in rows:
        low, high, n = _f(row.get("ci_low")), _f(row.get("ci_high")), int(row.get("n") or 0)
        if not (math.isfinite(low) and math.isfinite(high)):
            continue
        label = _label(row)
        if n < MIN_N:
            problems.append(f"{label}: interval from n={n} < {MIN_N} units")
            continue
        if n > max_n:
            continue
        n_values = row.get("n_values")
        n_values = n if n_values in (None, "") else int(n_values)
        if row.get("method") == "jackknife" or n_values > n:
            se = _f(row.get("se"))
            if not math.isfinite(se):
                problems.append(f"{label}: pairwise interval without a seed-level se")
                continue
            ref = 2.0 * t_quantile(n, level) * se
        else:
            ref = 2.0 * t_quantile(n, level) * _f(row.get("std")) / math.sqrt(n)
        width = high - low
        if width < ref * (1.0 - rtol) - 1e-12:
            problems.append(f"{label}: width {width:.6g} < t-interval width {ref:.6g} for n={n}")
    return problems


def _f(value) -> float:
    if value in (None, ""):
        return math.nan
    return float(value)


def _label(row: Mapping) -> str:
    keys = ("dataset", "arch", "epoch", "layer", "metric", "source")
    return "/".join(str(row.get(k)) for k in keys if row.get(k) not in (None, ""))


def main(argv: list[str] | None = None) -> int:
    """``python -m xmsem.cli.check_intervals <summary.csv> ...``: run
    :func:`check_interval_widths` on each file; exit 1 and print the problems when any."""
    import csv

    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m xmsem.cli.check_intervals <summary.csv> [...]", file=sys.stderr)
        return 2
    bad = 0
    for path in paths:
        with open(path, newline="") as handle:
            problems = check_interval_widths(csv.DictReader(handle))
        for problem in problems:
            print(f"{path}: {problem}")
        bad += len(problems)
        if not problems:
            print(f"{path}: ok")
    return 1 if bad else 0


# --------------------------------------------------------------------------- multiplicity, power
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values, in the input order: with the m finite p-values
    sorted ascending, ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``. Non-finite p-values
    stay NaN and do not count in m (they were not tested)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p[i])))
        out[i] = running
    return [float(v) for v in out]


def mde(se: float, df: float, alpha: float = 1 - LEVEL, power: float = 0.80) -> float:
    """Minimum detectable effect of a two-sided t-test at level ``alpha`` with ``power``:
    ``(t_{1-alpha/2, df} + t_{power, df}) * se`` (se = sd / sqrt(n) for n paired units, df = n -
    1). NaN when se or df is not usable."""
    if not (math.isfinite(se) and math.isfinite(df) and df >= 1):
        return math.nan
    return float((sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df)) * se)


def se_from_interval(ci_low: float, ci_high: float, df: float, level: float = LEVEL) -> float:
    """The standard error behind a t-interval ``mean ± t_{df} se`` (NaN when not finite)."""
    if not (math.isfinite(ci_low) and math.isfinite(ci_high) and df >= 1):
        return math.nan
    return float((ci_high - ci_low) / (2.0 * sps.t.ppf(0.5 + level / 2.0, df)))


def t_test(diff: float, se: float, df: float, level: float = LEVEL) -> tuple[float, float, float]:
    """``(ci_low, ci_high, two-sided p)`` of ``diff`` with standard error ``se`` on ``df``
    degrees of freedom (NaN when se is 0 or not finite)."""
    if not (math.isfinite(diff) and math.isfinite(se) and se > 0 and df >= 1):
        return math.nan, math.nan, math.nan
    half = float(sps.t.ppf(0.5 + level / 2.0, df)) * se
    return diff - half, diff + half, float(2.0 * sps.t.sf(abs(diff / se), df))


def combine_cells(
    cells: Sequence[tuple[float, float, int]], signs: Sequence[int], level: float = LEVEL
) -> Paired:
    """A linear contrast ``sum_k signs[k] * mean_k`` of summary cells ``(mean, se, n)`` measured
    on (possibly) the same units, when only their means and standard errors are known: se =
    sqrt(sum se_k^2) (the cells taken as independent), df = min n - 1; t-interval and two-sided
    p. Exact for independent groups; for cells of the same seeds the per-unit values (the raw
    table) give the paired test."""
    means = np.array([c[0] for c in cells], dtype=np.float64)
    ses = np.array([c[1] for c in cells], dtype=np.float64)
    n = int(min(c[2] for c in cells)) if cells else 0
    diff = float(np.dot(np.asarray(signs, dtype=np.float64), means))
    se = float(math.sqrt(float(np.sum(ses**2))))
    nan = math.nan
    if n < MIN_N:
        return Paired(n, nan, nan, diff, nan, nan, nan, nan, nan, nan, 0, "n<3")
    low, high, p = t_test(diff, se, n - 1, level)
    return Paired(n, float(means[0]), float(means[-1]), diff, se * math.sqrt(n), low, high,
                  diff / se if se > 0 else nan, p, nan, 0, "cells")  # fmt: skip
