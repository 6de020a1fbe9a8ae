"""torchmetrics classes for the streaming CKA estimators, for any training or evaluation loop.

* :class:`LinearCKA` -- the exact full-data linear CKA (biased, or debiased with
  ``debiased=True``) from moments accumulated in float64:
  ``n, sum x, sum y, X^T X, Y^T Y, X^T Y`` (and for the debiased estimator the row-norm sums of
  :mod:`xmsem.alignment.streaming`). Memory O(p^2 + q^2 + pq), independent of n.
* :class:`MinibatchCKA` -- Nguyen, Raghu & Kornblith (2021, arXiv 2010.15327, eq. 3): the
  per-batch unbiased HSIC_1 terms are summed and divided once at the end.

Every state is a sum over examples or batches, registered with ``dist_reduce_fx="sum"``, so under
DDP each process accumulates its own shard and ``compute()`` sees the sum over all processes:
the result equals the single-process value on all the data (tests check this through
torchmetrics' own state reduction). The final formulas are those of
:mod:`xmsem.alignment.streaming` (one implementation).

Unlike :class:`xmsem.alignment.StreamingLinearCKA`, which shifts by its first batch's mean,
:class:`LinearCKA` accumulates unshifted moments (a shift would differ between processes): in
float64 the cancellation costs ~eps (|mean| / std)^2 relative accuracy, negligible for
activations unless their mean is ~1e5 standard deviations from zero.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from xmsem.alignment.streaming import (
    add_moments,
    checked_batch,
    linear_cka_from_moments,
    minibatch_cka_from_sums,
    minibatch_terms,
    moment_shapes,
    nan_result,
)

__all__ = ["LinearCKA", "MinibatchCKA"]


def _count() -> Tensor:
    return torch.zeros((), dtype=torch.float64)


class LinearCKA(Metric):
    """Exact linear CKA of all examples seen (module doc).

    ``LinearCKA(p, q)`` for representations of widths p and q; ``update(x, y)`` with x (b, p),
    y (b, q), any batch size; ``compute()`` -> 0-d float64 tensor equal to
    ``xmsem.alignment.linear_cka(cat(xs), cat(ys), debiased)`` to rounding. A batch with NaN/inf
    makes the result NaN (with a warning)."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_features_x: int, num_features_y: int, debiased: bool = False,
                 **kwargs) -> None:  # fmt: skip
        super().__init__(**kwargs)
        for name, value in (("num_features_x", num_features_x), ("num_features_y", num_features_y)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LinearCKA {name} must be a positive int, got {value!r}")
        self.p, self.q, self.debiased = num_features_x, num_features_y, bool(debiased)
        self._moments = list(moment_shapes(self.p, self.q, self.debiased))
        for name, shape in moment_shapes(self.p, self.q, self.debiased).items():
            self.add_state(name, torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", _count(), dist_reduce_fx="sum")
        self.add_state("nonfinite", _count(), dist_reduce_fx="sum")

    def update(self, x: Tensor, y: Tensor) -> None:
        x, y, finite = checked_batch(x, y, min_n=1)
        if x.shape[1] != self.p or y.shape[1] != self.q:
            raise ValueError(
                f"LinearCKA: expected x (*, {self.p}) and y (*, {self.q}), got {tuple(x.shape)} "
                f"and {tuple(y.shape)}"
            )
        self.n += x.shape[0]
        if not finite:
            self.nonfinite += 1
            return
        moments = {name: getattr(self, name) for name in self._moments}
        add_moments(moments, x, y, x, y, self.debiased)  # in place: the states themselves

    def compute(self) -> Tensor:
        what = "LinearCKA" + ("(debiased)" if self.debiased else "")
        n, min_n = int(self.n), 4 if self.debiased else 2
        if n < min_n:
            raise ValueError(f"{what}.compute() needs n >= {min_n} examples, got n={n}")
        if bool(self.nonfinite > 0):
            return nan_result(what, "input contained NaN or inf", self.n.device)
        moments = {name: getattr(self, name) for name in self._moments}
        return linear_cka_from_moments(moments, n, self.debiased, what)


class MinibatchCKA(Metric):
    """Minibatch CKA (module doc): ``kernel`` ``"linear"`` or ``"rbf"`` (bandwidth from each
    batch's median, scaled by ``threshold``); every batch needs >= 4 examples. A batch with
    NaN/inf makes the result NaN (with a warning)."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, kernel: str = "linear", threshold: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if kernel not in ("linear", "rbf"):
            raise ValueError(f"MinibatchCKA kernel must be 'linear' or 'rbf', got {kernel!r}")
        if not (isinstance(threshold, (int, float)) and 0 < threshold < float("inf")):
            raise ValueError(
                f"MinibatchCKA threshold must be positive and finite, got {threshold!r}"
            )
        self.kernel, self.threshold = kernel, float(threshold)
        self.add_state("hsic", torch.zeros(3, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n_batches", _count(), dist_reduce_fx="sum")
        self.add_state("bad", _count(), dist_reduce_fx="sum")

    def update(self, x: Tensor, y: Tensor) -> None:
        x, y, finite = checked_batch(x, y, min_n=4)
        self.n_batches += 1
        if not finite:
            self.bad += 1
            return
        terms = minibatch_terms(x, y, self.kernel, self.threshold)
        if terms is None:
            self.bad += 1
            return
        self.hsic += terms

    def compute(self) -> Tensor:
        if int(self.n_batches) == 0:
            raise ValueError("MinibatchCKA.compute() called before any update()")
        if bool(self.bad > 0):
            reason = "a batch contained NaN/inf or an undefined bandwidth"
            return nan_result("MinibatchCKA", reason, self.hsic.device)
        return minibatch_cka_from_sums(self.hsic)
