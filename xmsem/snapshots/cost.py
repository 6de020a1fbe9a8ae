"""What a snapshot plan will cost, said before it starts, and how far a snapshot has got.

One estimate, :class:`SnapshotCost` from :func:`estimate`, of a snapshot plan (the models' layers,
the metrics and pair choices, the snapshot epochs): its **rows** (counted from the plan with the
same pair and layer choices the snapshot makes; seed pairs grow as K^2), the **bytes** of CSV they
write, the **flops** of its measurements (once the layers' widths are known) and the **seconds**
one snapshot takes here. The representation callback warns in one line before the first
snapshot when the plan is above :data:`WARN_ROWS` rows per snapshot, :data:`WARN_BYTES` bytes of
CSV or :data:`WARN_SECONDS` seconds per snapshot, and logs the estimate by piece as each snapshot
starts (:func:`snapshot_pieces`; :class:`SnapshotProgress` reports the share done from them).

Rows and bytes: ``ensemble=1000`` with two 16-wide layers wrote 6,064,000 rows (352 MB: 58 bytes
of CSV per row) in an epoch-0 snapshot of 307 s at 701789c, with no warning; that run sets the
per-row time (~50 us per row, an upper bound now that the seed-pair loop converts each matrix
once).

Flops, from the layers' widths alone (no data touched): per representation (n examples, d
features, m = min(n, d)) the Gram or kernel ``2 n d m`` (:mod:`xmsem.alignment.prepared` works on
the cheaper side), the top-k basis (dense ``eigh`` ~``9 m^3`` up to 512, else Lanczos
~``60 m^2 k``) and the logistic-regression probe (``probe_max_iter`` iterations of
~``8 n_fit d C``); per compared pair the cross term (``2 n p q``, or ``2 n^2 min(p, q)`` /
``2 n^2`` when a side is wide), RBF kernels and the transfer maps (Procrustes: an SVD of a
``max(p, q)`` square matrix). An order-of-magnitude figure: :func:`flop_rate` (one timed float64
product, measured once per process) turns it into seconds on this machine.

Seconds of one snapshot = rows x the per-row time + flops / the flop rate: the first term rules
many narrow pairs (the K^2 seed pairs), the second wide layers.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from xmsem.alignment import configured
from xmsem.snapshots.copies import group_copies, plan_pairs, seed_pair_metrics
from xmsem.snapshots.measure import MeasureSettings, layer_pairs

__all__ = [
    "SnapshotCost",
    "SnapshotProgress",
    "describe_cost",
    "estimate",
    "estimate_flops",
    "flop_rate",
    "snapshot_pieces",
]

log = logging.getLogger(__name__)

Key = tuple[str, str]
_RATE: list[float] = []

WARN_ROWS = 200_000  # rows per snapshot above which the plan is announced before it starts
WARN_BYTES = 1_000_000_000  # bytes of CSV over all snapshots (1 GB)
WARN_SECONDS = 300.0  # seconds of one snapshot
CSV_BYTES_PER_ROW = 58  # metrics/alignment.csv, measured (352 MB / 6.06 M rows)
SECONDS_PER_ROW = 50e-6  # measured upper bound on a 2-core CPU (see the module docstring)


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


def snapshot_pieces(
    layers: Mapping[str, list[str]],
    split: Callable[[str], tuple[str, int | None]],
    widths: Mapping[Key, int],
    n: int,
    settings: MeasureSettings,
    pairs: str = "last",
    cross_layer_cka: bool = True,
) -> dict[Any, float]:
    """Flops of one snapshot by the pieces it runs in: ``"prepare"`` (every representation's
    own work), each compared pair of members ``(a, b)`` and each member's own rows ``m``."""
    s = settings
    # the per-representation work of the first piece, and the probes (fitted per member, with
    # its member rows); ``metrics=[]``: the cross product alone (linear CKA)
    specs = configured(s.metrics)
    prep = dataclasses.replace(s, metrics=[x.name for x in specs if not x.fits_probes])
    probes = dataclasses.replace(s, metrics=[x.name for x in specs if x.fits_probes])
    linear = dataclasses.replace(s, metrics=[])
    pieces: dict[Any, float] = {
        "prepare": sum(
            representation_flops(n, widths[(m, la)], prep) for m in layers for la in layers[m]
        )  # fmt: skip
    }
    for a, b in plan_pairs(list(layers), split):
        cost = sum(
            pair_flops(n, widths[(a, la)], widths[(b, lb)], s)
            for la, lb in layer_pairs(layers[a], layers[b], pairs)
        )
        if cross_layer_cka:
            cost += sum(pair_flops(n, widths[(a, la)], widths[(b, lb)], linear)
                        for la in layers[a] for lb in layers[b])  # fmt: skip
        pieces[(a, b)] = cost
    for m in layers:
        probe_cost = sum(representation_flops(n, widths[(m, la)], probes)
                         - 2.0 * n * widths[(m, la)] * min(n, widths[(m, la)])
                         for la in layers[m])  # fmt: skip
        pieces[m] = probe_cost + sum(
            pair_flops(n, widths[(m, la)], widths[(m, lb)], linear)
            for la in layers[m]
            for lb in layers[m]
        )
    return pieces


@dataclass(frozen=True)
class SnapshotCost:
    """The estimate of a snapshot plan (module doc); ``flops`` is None until widths are known."""

    rows: int  # rows of one snapshot
    seed_pair_rows: int  # of which between copies of one member (K^2 / 2 pairs)
    snapshots: int
    flops: float | None = None  # of one snapshot

    @property
    def csv_bytes(self) -> int:
        """Bytes of CSV over all snapshots."""
        return self.rows * self.snapshots * CSV_BYTES_PER_ROW

    @property
    def seconds(self) -> float:
        """Seconds of one snapshot on this machine."""
        return self.rows * SECONDS_PER_ROW + (self.flops or 0.0) / flop_rate()

    def too_large(self) -> bool:
        """Above a warning threshold: rows per snapshot, bytes in all, seconds per snapshot."""
        return (self.rows > WARN_ROWS or self.csv_bytes > WARN_BYTES
                or self.seconds > WARN_SECONDS)  # fmt: skip

    def line(self) -> str:
        """The one-line warning."""
        flops = f", ~{self.flops / 1e9:,.0f} GFLOP" if self.flops is not None else ""
        return (
            f"snapshot plan: ~{self.rows:,} rows per snapshot ({self.seed_pair_rows:,} between "
            f"copies of a member, K^2/2 seed pairs){flops}, ~{self.seconds:,.0f} s each, "
            f"~{self.csv_bytes / 1e6:,.0f} MB of CSV over {self.snapshots} snapshots; fewer "
            "copies (ensemble), callbacks.representations.seed_pairs=false, fewer metrics or "
            "layers make it smaller"
        )


def estimate(
    layers: Mapping[str, list[str]],
    split: Callable[[str], tuple[str, int | None]],
    settings: MeasureSettings,
    snapshots: int,
    pairs: str = "last",
    seed_pairs: bool = True,
    layer_cka: bool = True,
    cross_layer_cka: bool = True,
    widths: Mapping[Key, int] | None = None,
    n: int | None = None,
) -> SnapshotCost:
    """The cost of a snapshot plan of ``layers`` (model -> layer names) under these settings;
    with ``widths`` ((model, layer) -> features) and ``n`` probe examples, its flops too."""
    names = list(layers)
    metrics = len(settings.metrics)
    rows = 0
    for a, b in plan_pairs(names, split):  # different members, same copy: both directions
        rows += 2 * len(layer_pairs(layers[a], layers[b], pairs)) * metrics
        if cross_layer_cka:
            rows += len(layers[a]) * len(layers[b])
    for name in names:  # each model's own rows (probe accuracy, controls, layer x layer CKA)
        k = len(layers[name])
        rows += 4 * k + (k * (k + 1) // 2 if layer_cka else 0)
    between = 0
    if seed_pairs:
        wanted = len(seed_pair_metrics(settings))
        for copies in group_copies(names, split).values():
            k = len(copies)
            common = set(layers[copies[0]]).intersection(*(layers[c] for c in copies))
            between += k * (k - 1) // 2 * len(common) * wanted
    flops = None
    if widths is not None and n is not None:
        flops = sum(snapshot_pieces(layers, split, widths, n, settings, pairs,
                                    cross_layer_cka).values())  # fmt: skip
    return SnapshotCost(rows + between, between, snapshots, flops)


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
