"""What a snapshot will cost, said before it starts, and how far it has got while it runs.

:func:`estimate_flops` counts the floating-point operations of one snapshot's measurements from
the layers' widths alone (no data touched): per representation (n examples, d features,
m = min(n, d)) the Gram or kernel ``2 n d m`` (:mod:`xmsem.alignment.prepared` works on the
cheaper side), the top-k basis (dense ``eigh`` ~``9 m^3`` up to 512, else Lanczos ~``60 m^2 k``)
and the logistic-regression probe (``probe_max_iter`` iterations of ~``8 n_fit d C``); per
compared pair the cross term (``2 n p q``, or ``2 n^2 min(p, q)`` / ``2 n^2`` when a side is wide),
RBF kernels and the transfer maps (Procrustes: an SVD of a ``max(p, q)`` square matrix). It is an
order-of-magnitude figure: :func:`flop_rate` (one timed float64 product, measured once per
process) turns it into seconds on this machine.

:class:`SnapshotProgress` logs a line per finished piece once a snapshot has run longer than a few
seconds (at most one line every few seconds), with the share done and the time left estimated
from the pieces' flops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

import torch

from xmsem.alignment import configured

__all__ = ["SnapshotProgress", "estimate_flops", "flop_rate", "describe_cost"]

log = logging.getLogger(__name__)

Key = tuple[str, str]
_RATE: list[float] = []


def flop_rate() -> float:
    """Float64 matrix-product flops per second on this process's CPU (timed once; >= 1e8)."""
    if not _RATE:
        a = torch.randn(384, 384, dtype=torch.float64)
        a @ a  # warm-up
        start = time.perf_counter()
        for _ in range(3):
            a @ a
        seconds = max(time.perf_counter() - start, 1e-6)
        _RATE.append(max(3 * 2 * 384**3 / seconds, 1e8))
    return _RATE[0]


def _hooks(settings, kind: str) -> list:
    """The distinct cost hooks (``rep_flops`` | ``pair_flops``) of the configured metrics:
    metrics that share a hook (the two RBF CKA estimators, one kernel) share its work."""
    hooks = [getattr(spec, kind) for spec in configured(settings.metrics)]
    return list(dict.fromkeys(h for h in hooks if h is not None))


def representation_flops(n: int, d: int, settings, n_classes: int = 10) -> float:
    """Work of one representation of n examples and d features (module doc): centring and
    self-terms, plus each configured metric's per-representation hook (``rep_flops``)."""
    m = min(n, d)
    flops = 2.0 * n * d * m
    return flops + sum(hook(n, d, settings, n_classes) for hook in _hooks(settings, "rep_flops"))


def pair_flops(n: int, p: int, q: int, settings) -> float:
    """Work of one compared pair of representations of widths p and q (module doc): the cross
    product, plus each configured metric's per-pair hook (``pair_flops``)."""
    if p > n and q > n:
        flops = 2.0 * n * n
    elif p > n or q > n:
        flops = 2.0 * n * n * min(p, q)
    else:
        flops = 2.0 * n * p * q
    return flops + sum(hook(n, p, q, settings) for hook in _hooks(settings, "pair_flops"))


def estimate_flops(
    widths: Mapping[Key, int], pairs: Iterable[tuple[Key, Key]], n: int, settings
) -> float:
    """Flops of a snapshot: every representation of ``widths`` ((model, layer) -> d) once and
    every compared pair of ``pairs``, on n examples."""
    total = sum(representation_flops(n, d, settings) for d in widths.values())
    return total + sum(pair_flops(n, widths[a], widths[b], settings) for a, b in pairs)


def describe_cost(flops: float, widths: Mapping[Key, int], n: int) -> str:
    """One line: the estimate in seconds here and the widest layer."""
    (model, layer), d = max(widths.items(), key=lambda item: item[1])
    seconds = flops / flop_rate()
    return (f"~{flops / 1e9:,.0f} GFLOP, about {seconds:,.0f}s here; widest layer {model}/{layer}: "
            f"{d:,} features on {n:,} probe examples")  # fmt: skip


class SnapshotProgress:
    """Progress lines of one snapshot (module doc): ``step(what, flops)`` after each piece."""

    def __init__(
        self,
        epoch: int,
        total_flops: float,
        after: float = 3.0,
        every: float = 5.0,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.epoch, self.total = epoch, max(float(total_flops), 1.0)
        self.after, self.every = after, every
        self.emit = emit or log.info
        self.start = self.last = time.perf_counter()
        self.done = 0.0
        self.lines = 0

    def step(self, what: str, flops: float) -> None:
        self.done += flops
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.after or now - self.last < self.every:
            return
        share = min(self.done / self.total, 1.0)
        left = elapsed * (1 - share) / share if share > 0 else float("nan")
        self.emit(f"snapshot epoch {self.epoch}: {share:.0%} done ({what}), {elapsed:.0f}s, "
                  f"~{left:.0f}s left")  # fmt: skip
        self.last = now
        self.lines += 1
