"""Which measure to trust, second test: ReSi's grounding by prediction (Klabunde, Wald, Schumacher,
Maliha, Strohmaier, Lemmerich 2025, "ReSi: A Comprehensive Benchmark for Representational
Similarity Measures", ICLR; Sec. 3.1, tests 1 "correlation to accuracy difference" and 2
"correlation to output difference"; their ``OutputCorrelationExperiment``).

Definition implemented, per (dataset, architecture) group of models (seeds, or copies of an
ensemble; :func:`xmsem.analysis.sanity` groups) and per measure:

* the representations: each model's LAST hidden layer (ReSi: the final-layer representation) at
  the last snapshot epoch all models of the group share;
* the pairs: unordered {A, B} when the measure is symmetric, ordered (A, B), A != B, when it is
  not (ReSi uses ``combinations`` for symmetric and ``product`` for asymmetric measures);
* per pair, the representational DISsimilarity ``r(A, B)``: the measure's value, negated for a
  similarity (ReSi: "make similarities into distances"), and functional differences
  ``f(A, B)``:

  - ``accuracy``: |acc_A - acc_B| with acc the test accuracy the run recorded
    (``status.json`` results ``test/<model>/acc``; with ``early_stopping.test_on=best`` that of
    the best checkpoint);
  - ``disagreement``: the fraction of probe examples whose predicted classes differ,
    (1/n) sum_i [argmax_c o_A(i) != argmax_c o_B(i)];
  - ``jsd``: the mean over probe examples of the Jensen-Shannon divergence (log base 2, in
    [0, 1]) of the softmax outputs, (1/n) sum_i JSD(softmax o_A(i), softmax o_B(i));

  the outputs ``o`` (n, C) come from a callable (``outputs``; the CLI runs each checkpoint's
  layers after the last hidden one on the stored representation, :mod:`xmsem.analyze`);
* the grounding score: Spearman's rank correlation over the pairs of ``r`` and ``f``, pairs with
  a NaN on either side left out (ReSi reports Pearson, Spearman and Kendall with permutation
  p-values; this reports Spearman). A measure that tracks function scores near +1; fewer than 3
  pairs or a side constant up to rounding give NaN.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from scipy import stats
from torch import Tensor

from xmsem.alignment import METRICS, get_metric
from xmsem.analysis.crossrun import cross_settings
from xmsem.analysis.discovery import Run, discover
from xmsem.analysis.sanity import groups, pair_value  # one grouping for both tests

__all__ = ["FUNCTIONAL", "GroundingRow", "disagreement", "grounding", "jsd", "spearman"]

FUNCTIONAL = ("accuracy", "disagreement", "jsd")
# outputs(run, model, epoch, layer, h) -> (n, C) logits of the model on the probe set, or None
Outputs = Callable[[Run, str, int, str, Tensor], Tensor | None]


@dataclass(frozen=True)
class GroundingRow:
    """Spearman's rho of one measure's dissimilarity with each functional difference."""

    dataset: str
    arch: str
    epoch: int
    layer: str
    metric: str
    models: int
    rho: dict[str, float]  # functional difference -> Spearman's rho (NaN: undefined)
    pairs: dict[str, int]  # functional difference -> pairs counted


def disagreement(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Fraction of rows whose argmax differs: (1/n) sum_i [argmax o_A(i) != argmax o_B(i)]."""
    return (logits_a.argmax(dim=1) != logits_b.argmax(dim=1)).to(torch.float64).mean()


def jsd(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Mean Jensen-Shannon divergence (log base 2, in [0, 1]) of the row-wise softmax outputs:
    JSD(p, q) = (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2 (Lin 1991)."""
    lp = torch.log_softmax(logits_a.to(torch.float64), dim=1)
    lq = torch.log_softmax(logits_b.to(torch.float64), dim=1)
    lm = torch.logaddexp(lp, lq) - math.log(2.0)
    kl = lambda la: (la.exp() * (la - lm)).sum(dim=1)  # noqa: E731  0 log 0 = 0: exp(-inf) = 0
    return ((kl(lp) + kl(lq)) / (2.0 * math.log(2.0))).clamp(0.0, 1.0).mean()


def _constant(values: list[float]) -> bool:
    """All equal up to rounding (a spread <= 1e-12 of their scale): their ranks would order
    rounding noise (e.g. a translation-invariant measure on translated copies: 1 - 1e-16)."""
    return max(values) - min(values) <= 1e-12 * max(1.0, max(abs(v) for v in values))


def spearman(r: list[float], f: list[float]) -> tuple[float, int]:
    """Spearman's rho of the pairs with both values finite (scipy's average ranks for ties),
    and how many there are; NaN below 3 pairs or when a side is constant (up to rounding)."""
    keep = [(a, b) for a, b in zip(r, f, strict=True) if math.isfinite(a) and math.isfinite(b)]
    if len(keep) < 3 or _constant([a for a, _ in keep]) or _constant([b for _, b in keep]):
        return float("nan"), len(keep)
    rho = stats.spearmanr([a for a, _ in keep], [b for _, b in keep]).statistic
    return float(rho), len(keep)


def _functional(models, reps, outputs, epoch, layer) -> dict[str, Callable[[int, int], float]]:
    """Functional difference name -> f(i, j) over the models' indices."""
    acc = [run.results.get(f"test/{model}/acc") for run, model in models]
    acc = [float(a) if isinstance(a, (int, float)) else float("nan") for a in acc]
    out = [outputs(run, model, epoch, layer, reps[i]) if outputs else None
           for i, (run, model) in enumerate(models)]  # fmt: skip

    def on_outputs(fn: Callable[[Tensor, Tensor], Tensor]) -> Callable[[int, int], float]:
        return lambda i, j: (float("nan") if out[i] is None or out[j] is None
                             else float(fn(out[i], out[j])))  # fmt: skip

    return {
        "accuracy": lambda i, j: abs(acc[i] - acc[j]),
        "disagreement": on_outputs(disagreement),
        "jsd": on_outputs(jsd),
    }


def grounding(
    sweep_dir: str | Path,
    metrics: Iterable[str] | None = None,
    *,
    outputs: Outputs | None = None,
    max_models: int = 20,
    subspace_k: int = 10,
    slow_max_n: int = 2000,
) -> list[GroundingRow]:
    """The grounding scores (module doc) of each measure in each group with >= 3 models sharing
    a snapshot epoch and a last layer name; ``outputs``: None skips the output differences
    (their rho is NaN with 0 pairs)."""
    names = [m for m in (metrics or METRICS) if get_metric(m).inputs == "reps"]
    settings = cross_settings(subspace_k, slow_max_n)
    rows: list[GroundingRow] = []
    for (dataset, arch), models in sorted(groups(discover(Path(sweep_dir))).items()):
        models = models[:max_models]
        common = set.intersection(*(set(run.store.epochs()) for run, _ in models))
        if len(models) < 3 or not common:
            continue
        epoch = max(common)
        lasts = {(run.store.manifest(epoch) or {}).get("members", {}).get(m, [None])[-1]
                 for run, m in models}  # fmt: skip
        if len(lasts) != 1 or None in lasts:
            continue
        layer = lasts.pop()
        reps = {i: run.store.load(epoch, m, layer, torch.float64)
                for i, (run, m) in enumerate(models)}  # fmt: skip
        functional = _functional(models, reps, outputs, epoch, layer)
        for name in names:
            spec = get_metric(name)
            value = pair_value(spec, reps, settings)
            sign = -1.0 if spec.kind == "similarity" else 1.0
            pick = itertools.combinations if spec.quantity.symmetric else itertools.permutations
            pairs = list(pick(range(len(models)), 2))
            r = [sign * value(i, j) for i, j in pairs]
            rho, count = {}, {}
            for key, f in functional.items():
                rho[key], count[key] = spearman(r, [f(i, j) for i, j in pairs])
            rows.append(GroundingRow(dataset, arch, epoch, layer, name, len(models), rho, count))
    return rows
