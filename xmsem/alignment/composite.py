"""The rows of the composite metrics (``MetricSpec.rows``): probe transfer, spectral alignment
and stitching each produce several numbers per pair of models, and need more than two
representations (labels, the fit/eval split, the probe inputs, B's tail).

A hook ``rows(context, spec)`` (here for probe transfer and stitching; the spectral one,
:func:`xmsem.alignment.spectral.spectral_rows`, lives with its metric) gets a :class:`PairContext` and its own spec and returns ``(member_a, member_b, layer_a, layer_b, metric,
value)`` tuples; the snapshot code (:func:`xmsem.snapshots.measure.pair_rows`) calls the hook of
every configured metric that has one, so no metric name is spelled out there. ``cache`` is the
snapshot's per-representation cache (any object with ``probe(key, x)`` and
``probe_accuracy(key, x)``: fitted once per (model, layer); ``memo(key, compute)`` and
``known(key)`` for work several hooks share, such as the least-squares maps of probe transfer,
which stitching reuses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from .maps import fit_maps_both
from .probe import probe_transfer
from .stitch import linear_stitch

__all__ = ["PairContext", "RowTuple", "probe_rows", "stitch_rows"]

RowTuple = tuple[str, str, str, str, str, float]


@dataclass(frozen=True)
class PairContext:
    """Model ``a``'s layer ``la`` (representation ``x``) against model ``b``'s ``lb`` (``y``) on
    the probe set (first ``n_fit`` examples: fit half; the rest: eval half)."""

    a: str
    b: str
    la: str
    lb: str
    x: Tensor
    y: Tensor
    labels: Tensor
    n_fit: int
    settings: Any
    cache: Any
    inputs: Tensor | None = None
    tails: Mapping[str, Callable[[str], tuple[Callable[[Tensor], Tensor], float]]] | None = None

    @property
    def fit(self) -> slice:
        return slice(0, self.n_fit)

    @property
    def ev(self) -> slice:
        return slice(self.n_fit, None)


def probe_rows(c: PairContext, spec: Any = None) -> list[RowTuple]:
    """Per direction and per map of ``transfer_maps``: ``transfer_acc_<map>`` and
    ``transfer_ratio_<map>`` (A's probe on B mapped into A, over A's own accuracy; rows with
    member_a = A), the first map's also as ``transfer_acc`` / ``transfer_ratio``."""
    s, fit, ev = c.settings, c.fit, c.ev
    out: list[RowTuple] = []
    # no identity between different widths (validated for the headline)
    kinds = [k for k in s.transfer_maps if k != "identity" or c.x.shape[1] == c.y.shape[1]]
    # (b -> a, a -> b) per kind, fitted between the normalised fit halves, in raw coordinates
    fitted = fit_maps_both(c.y[fit], c.x[fit], kinds, normalize=s.normalize)
    if "linear" in fitted:  # the least-squares maps are also stitching's (stitch_rows)
        for (src, dst), t in zip((((c.b, c.lb), (c.a, c.la)), ((c.a, c.la), (c.b, c.lb))),
                                 fitted["linear"], strict=True):  # fmt: skip
            c.cache.memo(_linear_map_key(src, dst, s.normalize), lambda t=t: t)
    for i, kind in enumerate(s.transfer_maps):
        if kind not in fitted:
            continue
        maps = fitted[kind]
        for (m1, l1, r1), (m2, l2, r2), t in (
            ((c.a, c.la, c.x), (c.b, c.lb, c.y), maps[0]),
            ((c.b, c.lb, c.y), (c.a, c.la, c.x), maps[1]),
        ):
            res = probe_transfer(
                r1[fit], c.labels[fit], r1[ev], c.labels[ev], r2[fit], r2[ev], map=kind,
                probe=c.cache.probe((m1, l1), r1), transfer=t, normalize=s.normalize,
                self_acc=c.cache.probe_accuracy((m1, l1), r1),
            )  # fmt: skip
            for suffix in [f"_{kind}", ""] if i == 0 else [f"_{kind}"]:
                out.append((m1, m2, l1, l2, f"transfer_acc{suffix}", res.transfer_acc))
                out.append((m1, m2, l1, l2, f"transfer_ratio{suffix}", res.ratio))
    return out


def _linear_map_key(src: tuple[str, str], dst: tuple[str, str], normalize: str) -> tuple:
    """The snapshot cache's key of the least-squares map from one (model, layer) to another."""
    return ("linear_map", src, dst, normalize)


def stitch_rows(c: PairContext, spec: Any = None) -> list[RowTuple]:
    """A's layer stitched into B's tail and back (both directions): ``stitch_acc``,
    ``stitch_penalty`` (own - stitched accuracy), ``stitch_loss``, ``stitch_gap``; a direction
    into a model without a runnable tail (missing from ``tails``) is left out (the caller
    records the skip)."""
    if not c.tails:
        return []
    out: list[RowTuple] = []
    fit, ev = c.fit, c.ev
    for (m1, l1, r1), (m2, l2, r2) in (
        ((c.a, c.la, c.x), (c.b, c.lb, c.y)),
        ((c.b, c.lb, c.y), (c.a, c.la, c.x)),
    ):
        if m2 not in c.tails:
            continue
        tail, lipschitz = c.tails[m2](l2)
        key = _linear_map_key((m1, l1), (m2, l2), c.settings.normalize)
        res = linear_stitch(r1[fit], r2[fit], r1[ev], c.labels[ev], tail, b_eval=r2[ev],
                            tail_lipschitz=lipschitz, normalize=c.settings.normalize,
                            stitch_map=c.cache.known(key))  # fmt: skip
        out.append((m1, m2, l1, l2, "stitch_acc", res.stitched_acc))
        out.append((m1, m2, l1, l2, "stitch_penalty", res.own_acc - res.stitched_acc))
        out.append((m1, m2, l1, l2, "stitch_loss", res.stitched_loss))
        out.append((m1, m2, l1, l2, "stitch_gap", res.gap))
    return out
