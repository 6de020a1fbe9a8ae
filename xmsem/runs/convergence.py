"""Convergence measures of a validation-accuracy curve (pure functions, no I/O).

The argmax of validation accuracy is a poor "convergence epoch": on a plateau it lands anywhere
along the flat top, driven by noise in the third decimal. Two measures that mean something:

* **epochs (steps) to a fraction of the best**: the first epoch at which validation accuracy
  reaches ``fraction * max(acc)`` (default fraction 0.95: the training time to get within 5% of
  what the model ever reaches; its best accuracy is the reference, not the final one, so a model
  whose accuracy decays late still gets a defined time). Epochs count epochs trained (1-based,
  the snapshot convention); steps are the optimizer steps done by the end of that epoch.
* **area under the validation-accuracy curve, normalised by epochs**: the mean validation
  accuracy over the epochs trained, ``(1/E) sum_{e=1}^{E} acc_e`` in [0, 1] — large when a model
  is accurate early and stays so. With early stopping E differs between models; compare AUCs of
  runs with the same E (or without early stopping).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DEFAULT_FRACTION = 0.95


def _check(acc: Sequence[float], fraction: float) -> list[float]:
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"convergence fraction must be in (0, 1], got {fraction}")
    return [float(a) for a in acc]


def epochs_to_fraction(acc: Sequence[float], fraction: float = DEFAULT_FRACTION) -> float:
    """First epoch (1-based: ``acc[e-1]`` is the accuracy after e epochs) with
    ``acc >= fraction * max(acc)`` over the finite values; NaN for an empty or all-NaN curve."""
    values = _check(acc, fraction)
    finite = [a for a in values if math.isfinite(a)]
    if not finite:
        return math.nan
    target = fraction * max(finite)
    for epoch, a in enumerate(values, start=1):
        if math.isfinite(a) and a >= target:
            return float(epoch)
    return math.nan  # unreachable: the maximum itself reaches the target


def steps_to_fraction(
    acc: Sequence[float], steps: Sequence[float], fraction: float = DEFAULT_FRACTION
) -> float:
    """Optimizer steps done by the end of the epoch :func:`epochs_to_fraction` returns
    (``steps[e-1]`` = global step after e epochs)."""
    epoch = epochs_to_fraction(acc, fraction)
    if math.isnan(epoch) or len(steps) < epoch:
        return math.nan
    return float(steps[int(epoch) - 1])


def accuracy_auc(acc: Sequence[float]) -> float:
    """``(1/E) sum_e acc_e``: area under the validation-accuracy curve over the E epochs trained,
    divided by E (NaN when any value is missing: a gap would bias it)."""
    values = [float(a) for a in acc]
    if not values or not all(math.isfinite(a) for a in values):
        return math.nan
    return sum(values) / len(values)
