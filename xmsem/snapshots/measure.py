"""Alignment rows from representation snapshots (long format, one row per number).

A row is ``{member_a, member_b, layer_a, layer_b, metric, value}`` (the caller adds ``epoch`` and,
across runs, run identifiers). Pairwise rows compare two models on the same probe inputs;
member rows describe one model (probe accuracy per layer, the layer x layer CKA matrix, drift).
The probe set's first ``n_fit`` examples are the fit half, the rest the eval half.

One snapshot compares the same representations many times (every pair of members, every pair of
layers, drift, probes in both directions), so a :class:`RepCache` keeps the per-representation
work — centring and self-terms (:func:`xmsem.alignment.prepare`) and fitted probes — and each
comparison pays only for what is new to it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from torch import Tensor

from xmsem import alignment as al
from xmsem.snapshots.settings import PAIRINGS, MeasureSettings  # re-exported: their old home

Row = dict[str, object]
Key = tuple[str, str]  # (model, layer)
TailFn = Callable[[str], tuple[Callable[[Tensor], Tensor], float]]

DEFAULT_METRICS = al.default_metrics()  # the specs with ``default=True``, registry order


INPUT_KEY: Key = ("__input__", "x")  # the probe inputs (flattened) in a RepCache


class RepCache:
    """Per-representation work of one snapshot, keyed by (model, layer)."""

    def __init__(self, labels: Tensor, n_fit: int, s: MeasureSettings) -> None:
        self.labels, self.n_fit, self.s = labels, n_fit, s
        self._prepared: dict[Key, al.Prepared] = {}
        self._probes: dict[Key, al.LinearProbe] = {}
        self._accuracy: dict[Key, float] = {}
        self._frob2: dict[tuple[Key, Key], Tensor] = {}
        self._parts: dict[tuple[str, Key], Any] = {}
        self._memo: dict[Hashable, Any] = {}
        self.n_classes = int(labels.max()) + 1

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per snapshot under ``key``: work every pair shares that belongs
        to no single representation (e.g. the probe inputs' graph spectrum)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def known(self, key: Hashable) -> Any:
        """What :meth:`memo` holds under ``key`` (None when nothing was computed yet)."""
        return self._memo.get(key)

    def prepared(self, key: Key, x: Tensor) -> al.Prepared:
        if key not in self._prepared:
            self._prepared[key] = al.prepare(x)
        return self._prepared[key]

    def cross_frob2(self, ka: Key, x: Tensor, kb: Key, y: Tensor) -> Tensor:
        """``||X^T Y||_F^2`` of the centred representations of ``ka`` and ``kb`` (the only
        per-pair work of linear CKA), computed once per unordered pair: the same pair of layers is
        met by the pairwise rows and by the cross-layer CKA matrix."""
        pair = (ka, kb) if ka <= kb else (kb, ka)
        if pair not in self._frob2:
            px, py = self.prepared(ka, x), self.prepared(kb, y)
            if px is py:
                self._frob2[pair] = px.hsic
            else:
                self._frob2[pair] = al.cross_frob2(px, py)
        return self._frob2[pair]

    def part(self, spec: al.MetricSpec, key: Key, x: Tensor) -> Any:
        """The per-representation part of a metric with ``prepare`` / ``finish`` (once per key)."""
        slot = (spec.name, key)
        if slot not in self._parts:
            self._parts[slot] = spec.prepare_one(x, self.s)
        return self._parts[slot]

    def add_prepared(self, key: Key, prepared: al.Prepared) -> None:
        """Register a representation prepared elsewhere (e.g. a view into a stack of copies)."""
        self._prepared[key] = prepared

    def probe(self, key: Key, x: Tensor) -> al.LinearProbe:
        """The probe fitted on the fit half of ``x`` (once per key)."""
        if key not in self._probes:
            self._probes[key] = al.fit_probe(
                x[: self.n_fit], self.labels[: self.n_fit], l2=self.s.probe_l2,
                max_iter=self.s.probe_max_iter, n_classes=self.n_classes, tol=self.s.probe_tol,
                normalize=self.s.normalize,
            )  # fmt: skip
        return self._probes[key]

    def probe_accuracy(self, key: Key, x: Tensor) -> float:
        """Eval-half accuracy of the probe fitted on the fit half of ``x`` (once per key)."""
        if key not in self._accuracy:
            probe = self.probe(key, x)
            self._accuracy[key] = probe.accuracy(x[self.n_fit :], self.labels[self.n_fit :])
        return self._accuracy[key]


def layer_pairs(
    layers_a: list[str], layers_b: list[str], mode: str = "last"
) -> list[tuple[str, str]]:
    """The (layer_a, layer_b) pairs two models are compared at (``callbacks.representations.pairs``).

    ``same_name``: the layers whose names both models list, in A's order; ``last``: those plus
    (A's last listed layer, B's last listed layer); ``all``: every layer of A with every layer of B.
    A layer missing on one side is never replaced by another: with no common name ``same_name``
    gives no pairs (the caller records the skip).
    """
    if mode not in PAIRINGS:
        raise ValueError(f"pairs={mode!r}; valid: {', '.join(PAIRINGS)}")
    if mode == "all":
        return [(la, lb) for la in layers_a for lb in layers_b]
    pairs = [(la, la) for la in layers_a if la in layers_b]
    if mode == "last" and layers_a and layers_b and (layers_a[-1], layers_b[-1]) not in pairs:
        pairs.append((layers_a[-1], layers_b[-1]))
    return pairs


def row(a: str, b: str, la: str, lb: str, metric: str, value: float) -> Row:
    return {"member_a": a, "member_b": b, "layer_a": la, "layer_b": lb, "metric": metric,
            "value": float(value)}  # fmt: skip


def rep_metrics(
    x: Tensor, y: Tensor, s: MeasureSettings, cache: RepCache | None = None,
    kx: Key | None = None, ky: Key | None = None,
) -> dict[str, float]:  # fmt: skip
    """Every registered representation-only (``inputs == "reps"``) metric of ``s.metrics``.

    Metrics with a prepared fast path (linear CKA, both estimators from one cross product, and
    subspace overlap) use the cache's prepared representations when a cache and keys are given
    (same values, less work); metrics with ``prepare`` / ``finish`` prepare each representation
    once per snapshot."""
    out: dict[str, float] = {}
    fast = cache is not None and kx is not None and ky is not None
    shared: dict = {}  # per-pair work shared between metrics (the X^T Y product)
    for name in s.metrics:
        spec = al.METRICS.get(name)
        if spec is None or spec.inputs != "reps":
            continue
        if fast and spec.prepared is not None:
            px, py = cache.prepared(kx, x), cache.prepared(ky, y)
            if spec.shares_frob2 and "frob2" not in shared:
                shared["frob2"] = cache.cross_frob2(kx, x, ky, y)
            out[name] = spec.compute_prepared(px, py, s, shared)
        elif fast and spec.prepare is not None:
            out[name] = spec.compute_finish(cache.part(spec, kx, x), cache.part(spec, ky, y), s)
        else:
            out[name] = spec.compute(x, y, s)
    return out


def null_rows(
    a: str, b: str, la: str, lb: str, x: Tensor, y: Tensor, s: MeasureSettings, cache: RepCache
) -> list[Row]:
    """The chance value (``<metric>_null``) of every configured metric with a ``chance`` hook
    (linear CKA, subspace overlap): the exact mean over row permutations of one side
    (:mod:`xmsem.alignment.chance`) — what the metric gives for two unrelated representations
    with these spectra, n and widths."""
    rows = []
    for name, spec in al.METRICS.items():
        if spec.chance is not None and name in s.metrics:
            px, py = cache.prepared((a, la), x), cache.prepared((b, lb), y)
            rows.append(row(a, b, la, lb, f"{name}_null", spec.chance(px, py, spec.kwargs(s))))
    return rows


def composite_specs(s: MeasureSettings, at: str) -> list[al.MetricSpec]:
    """The configured metrics whose rows come from a ``rows`` hook at ``at`` (layers | stitch)."""
    return [
        spec for spec in al.configured(s.metrics) if spec.rows is not None and spec.rows_at == at
    ]


def pair_rows(
    a: str,
    b: str,
    reps_a: Mapping[str, Tensor],
    reps_b: Mapping[str, Tensor],
    layer_pairs: Iterable[tuple[str, str]],
    labels: Tensor,
    n_fit: int,
    s: MeasureSettings,
    tails: Mapping[str, TailFn] | None = None,
    stitch_layers: Iterable[tuple[str, str]] = (),
    inputs: Tensor | None = None,
    cache: RepCache | None = None,
) -> list[Row]:
    """Rows comparing model ``a`` with model ``b`` at each ``(layer_a, layer_b)``: every
    two-representation metric of ``s.metrics``, their chance values (``s.controls``), and the
    rows of the composite metrics (their ``rows`` hooks, :mod:`xmsem.alignment.composite`):
    ``probe_transfer`` gives, per direction and per map of ``s.transfer_maps``,
    ``transfer_acc_<map>`` and ``transfer_ratio_<map>`` (the first map's also as
    ``transfer_acc`` / ``transfer_ratio``); ``spectral`` needs the probe ``inputs``;
    ``stitching`` (needs ``tails``: model -> layer -> (tail function, Lipschitz bound of the
    tail)) stitches A's layer into B's at each pair of ``stitch_layers``, both directions, leaving
    out a direction into a model missing from ``tails``. Probes, maps and stitches all see
    features normalised by ``s.normalize``.
    """
    cache = cache or RepCache(labels, n_fit, s)
    rows: list[Row] = []

    def context(la: str, lb: str) -> al.PairContext:
        return al.PairContext(a, b, la, lb, reps_a[la], reps_b[lb], labels, n_fit, s, cache,
                              inputs, tails)  # fmt: skip

    for la, lb in layer_pairs:
        x, y = reps_a[la], reps_b[lb]
        for metric, value in rep_metrics(x, y, s, cache, (a, la), (b, lb)).items():
            rows.append(row(a, b, la, lb, metric, value))
        if s.controls:
            rows += null_rows(a, b, la, lb, x, y, s, cache)
        for spec in composite_specs(s, "layers"):
            rows += [row(*r) for r in spec.rows(context(la, lb), spec)]
    for spec in composite_specs(s, "stitch"):
        for la, lb in stitch_layers:
            rows += [row(*r) for r in spec.rows(context(la, lb), spec)]
    return rows


def cross_layer_rows(
    a: str,
    b: str,
    reps_a: Mapping[str, Tensor],
    reps_b: Mapping[str, Tensor],
    cache: RepCache | None = None,
) -> list[Row]:
    """The cross-model layer x layer linear CKA matrix (metric ``cross_layer_cka``): one row per
    (layer of A, layer of B), biased linear CKA ``||X^T Y||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` of
    the centred representations (Kornblith et al. 2019), whatever the layers' widths."""
    rows: list[Row] = []
    for la, x in reps_a.items():
        px = cache.prepared((a, la), x) if cache is not None else al.prepare(x)
        for lb, y in reps_b.items():
            if cache is not None:
                py, frob2 = cache.prepared((b, lb), y), cache.cross_frob2((a, la), x, (b, lb), y)
            else:
                py, frob2 = al.prepare(y), None
            rows.append(row(a, b, la, lb, "cross_layer_cka",
                             al.linear_cka_prepared(px, py, frob2=frob2)[0]))  # fmt: skip
    return rows


def member_rows(
    name: str,
    reps: Mapping[str, Tensor],
    labels: Tensor,
    n_fit: int,
    s: MeasureSettings,
    layer_cka: bool = True,
    previous: Mapping[str, Tensor | al.Prepared] | None = None,
    latents: Tensor | None = None,
    cache: RepCache | None = None,
    inputs: Tensor | None = None,
) -> list[Row]:
    """Rows describing one model: ``input_cka`` = linear CKA between the probe inputs (flattened)
    and each layer when ``inputs`` are given (how much of a layer is the input geometry: the
    reference any alignment between models should exceed), probe accuracy per layer (``probe_acc``), the layer x layer linear
    CKA matrix (``layer_cka`` with member_a = member_b), ``drift`` = 1 - linear CKA to ``previous``
    (the same layer at the previous snapshot, as a tensor or already prepared), and with ``latents`` the R^2 of a least-squares
    readout of the known latent factors (``latent_r2``, fit half -> eval half)."""
    cache = cache or RepCache(labels, n_fit, s)
    rows: list[Row] = []
    layers = list(reps)
    if inputs is not None:
        pin = cache.prepared(INPUT_KEY, inputs.reshape(len(inputs), -1).double())
        for layer in layers:
            ph = cache.prepared((name, layer), reps[layer])
            rows.append(row(name, name, layer, layer, "input_cka",
                             float(al.linear_cka_prepared(pin, ph)[0])))  # fmt: skip
    probes = any(spec.fits_probes for spec in al.configured(s.metrics))
    for layer in layers:
        if probes:
            acc = cache.probe_accuracy((name, layer), reps[layer])
            rows.append(row(name, name, layer, layer, "probe_acc", acc))
        if previous is not None and layer in previous:
            ref = previous[layer]
            if isinstance(ref, al.Prepared):
                before = ref
            elif ref is reps[layer]:
                before = cache.prepared((name, layer), ref)
            else:
                before = cache.prepared((f"{name}@previous", layer), ref)
            now = cache.prepared((name, layer), reps[layer])
            frob2 = now.hsic if before is now else None  # compared with itself: known
            cka = al.linear_cka_prepared(before, now, frob2=frob2)[0]
            rows.append(row(name, name, layer, layer, "drift", 1.0 - float(cka)))
        if latents is not None:
            h = reps[layer]
            r2 = al.latent_r2(h[:n_fit], latents[:n_fit], h[n_fit:], latents[n_fit:])
            rows.append(row(name, name, layer, layer, "latent_r2", float(r2)))
    if layer_cka:
        for i, la in enumerate(layers):
            pa = cache.prepared((name, la), reps[la])
            for lb in layers[i:]:
                pb = cache.prepared((name, lb), reps[lb])
                # the diagonal: ||X^T X||_F^2 is already known (the value is 1 up to rounding)
                frob2 = pa.hsic if pb is pa else None
                value = float(al.linear_cka_prepared(pa, pb, frob2=frob2)[0])
                rows.append(row(name, name, la, lb, "layer_cka", value))
    return rows
