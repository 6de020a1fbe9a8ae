"""Alignment rows from representation snapshots (long format, one row per number).

A row is ``{member_a, member_b, layer_a, layer_b, metric, value}`` (the caller adds ``epoch`` and,
across runs, run identifiers). Pairwise rows compare two models on the same probe inputs;
member rows describe one model (probe accuracy per layer, the layer x layer CKA matrix, drift).
The probe set's first ``n_fit`` examples are the fit half, the rest the eval half.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from xmsem import alignment as al
from xmsem.alignment.latent import latent_r2

Row = dict[str, object]

DEFAULT_METRICS = (
    "linear_cka",
    "linear_cka_debiased",
    "rbf_cka",
    "subspace_overlap",
    "probe_transfer",
    "stitching",
)


@dataclass(frozen=True)
class MeasureSettings:
    """Research choices of the alignment measurements (documented defaults, see conf/callbacks)."""

    metrics: tuple[str, ...] = DEFAULT_METRICS
    subspace_k: int = 10
    rbf_threshold: float = 1.0
    rbf_max_n: int = 2000
    probe_l2: float = 1e-3
    probe_max_iter: int = 100
    transfer_map: str = "orthogonal"
    spectral_bands: int = 4
    spectral_k: int = 10
    spectral_max_n: int = 2000
    extra: dict = field(default_factory=dict)


def _row(a: str, b: str, la: str, lb: str, metric: str, value: float) -> Row:
    return {
        "member_a": a,
        "member_b": b,
        "layer_a": la,
        "layer_b": lb,
        "metric": metric,
        "value": float(value),
    }


def rep_metrics(x: Tensor, y: Tensor, s: MeasureSettings) -> dict[str, float]:
    """Every registered representation-only (``inputs == "reps"``) metric of ``s.metrics``."""
    out: dict[str, float] = {}
    for name in s.metrics:
        spec = al.METRICS.get(name)
        if spec is None or spec.inputs != "reps":
            continue
        if name.startswith("rbf_"):  # the n x n kernel: on the first rbf_max_n probe examples,
            m = min(len(x), s.rbf_max_n)  # a random subset since the probe set is a permutation
            value = spec.fn(x[:m], y[:m], threshold=s.rbf_threshold)
        elif name == "subspace_overlap":
            value = spec.fn(x, y, k=s.subspace_k)
        else:
            value = spec.fn(x, y)
        out[name] = float(value)
    return out


class ProbeCache:
    """Logistic-regression probes fitted once per (model, layer) on the fit half."""

    def __init__(self, labels: Tensor, n_fit: int, s: MeasureSettings) -> None:
        self.labels, self.n_fit, self.s = labels, n_fit, s
        self._probes: dict[tuple[str, str], object] = {}

    def accuracy(self, key: tuple[str, str], reps: Tensor) -> float:
        """Eval-half accuracy of the probe fitted on the fit half of ``reps``."""
        if key not in self._probes:
            self._probes[key] = al.fit_probe(
                reps[: self.n_fit],
                self.labels[: self.n_fit],
                l2=self.s.probe_l2,
                max_iter=self.s.probe_max_iter,
            )
        return float(self._probes[key].accuracy(reps[self.n_fit :], self.labels[self.n_fit :]))


def pair_rows(
    a: str,
    b: str,
    reps_a: Mapping[str, Tensor],
    reps_b: Mapping[str, Tensor],
    layer_pairs: Iterable[tuple[str, str]],
    labels: Tensor,
    n_fit: int,
    s: MeasureSettings,
    tails: Mapping[str, Callable[[str], tuple[Callable[[Tensor], Tensor], float]]] | None = None,
    stitch_layers: Iterable[tuple[str, str]] = (),
    inputs: Tensor | None = None,
) -> list[Row]:
    """Rows comparing model ``a`` with model ``b`` at each ``(layer_a, layer_b)``.

    ``probe_transfer`` gives, per direction, ``transfer_acc`` and ``transfer_ratio`` (A's probe on B
    mapped into A, over A's own accuracy; rows with member_a=A, member_b=B). ``stitching`` (needs
    ``tails``: model -> layer -> (tail function, Lipschitz bound of the tail)) stitches A's layer into
    B's at each pair of ``stitch_layers``, both directions. ``spectral`` needs the probe ``inputs``.
    """
    rows: list[Row] = []
    fit, ev = slice(0, n_fit), slice(n_fit, None)
    for la, lb in layer_pairs:
        x, y = reps_a[la], reps_b[lb]
        for metric, value in rep_metrics(x, y, s).items():
            rows.append(_row(a, b, la, lb, metric, value))
        if "probe_transfer" in s.metrics:
            for (m1, l1, r1), (m2, l2, r2) in (((a, la, x), (b, lb, y)), ((b, lb, y), (a, la, x))):
                kind = s.transfer_map
                if kind == "identity" and r1.shape[1] != r2.shape[1]:
                    kind = "orthogonal"
                res = al.probe_transfer(
                    r1[fit], labels[fit], r1[ev], labels[ev], r2[fit], r2[ev],
                    map=kind, l2=s.probe_l2, max_iter=s.probe_max_iter,
                )  # fmt: skip
                rows.append(_row(m1, m2, l1, l2, "transfer_acc", res.transfer_acc))
                rows.append(_row(m1, m2, l1, l2, "transfer_ratio", res.ratio))
        if "spectral" in s.metrics and inputs is not None:
            m = min(len(x), s.spectral_max_n)
            table = al.spectral_alignment(
                inputs[:m], x[:m], y[:m], n_bands=s.spectral_bands, k_neighbors=s.spectral_k
            )
            for entry in table:
                name = f"spectral_{entry['basis']}_band{entry['band']}"
                rows.append(_row(a, b, la, lb, name, entry["value"]))
    if "stitching" in s.metrics and tails:
        for la, lb in stitch_layers:
            for (m1, l1, r1), (m2, l2, r2) in (
                ((a, la, reps_a[la]), (b, lb, reps_b[lb])),
                ((b, lb, reps_b[lb]), (a, la, reps_a[la])),
            ):
                tail, lipschitz = tails[m2](l2)
                res = al.linear_stitch(
                    r1[fit],
                    r2[fit],
                    r1[ev],
                    labels[ev],
                    tail,
                    b_eval=r2[ev],
                    tail_lipschitz=lipschitz,
                )
                rows.append(_row(m1, m2, l1, l2, "stitch_acc", res.stitched_acc))
                rows.append(_row(m1, m2, l1, l2, "stitch_penalty", res.own_acc - res.stitched_acc))
                rows.append(_row(m1, m2, l1, l2, "stitch_loss", res.stitched_loss))
                rows.append(_row(m1, m2, l1, l2, "stitch_gap", res.gap))
    return rows


def member_rows(
    name: str,
    reps: Mapping[str, Tensor],
    labels: Tensor,
    n_fit: int,
    s: MeasureSettings,
    layer_cka: bool = True,
    previous: Mapping[str, Tensor] | None = None,
    latents: Tensor | None = None,
    probes: ProbeCache | None = None,
) -> list[Row]:
    """Rows describing one model: probe accuracy per layer (``probe_acc``), the layer x layer linear
    CKA matrix (``linear_cka`` with member_a = member_b), ``drift`` = 1 - linear CKA to ``previous``
    (the same layer at the previous snapshot; 0 when there is none), and with ``latents`` the R^2 of
    a least-squares readout of the known latent factors (``latent_r2``, fit half -> eval half)."""
    rows: list[Row] = []
    probes = probes or ProbeCache(labels, n_fit, s)
    layers = list(reps)
    for layer in layers:
        if "probe_transfer" in s.metrics or "probe_acc" in s.metrics:
            rows.append(
                _row(
                    name,
                    name,
                    layer,
                    layer,
                    "probe_acc",
                    probes.accuracy((name, layer), reps[layer]),
                )
            )
        if previous is not None and layer in previous:
            drift = 1.0 - float(al.linear_cka(previous[layer], reps[layer]))
            rows.append(_row(name, name, layer, layer, "drift", drift))
        if latents is not None:
            r2 = latent_r2(
                reps[layer][:n_fit], latents[:n_fit], reps[layer][n_fit:], latents[n_fit:]
            )
            rows.append(_row(name, name, layer, layer, "latent_r2", float(r2)))
    if layer_cka:
        for i, la in enumerate(layers):
            for lb in layers[i:]:
                value = float(al.linear_cka(reps[la], reps[lb]))
                rows.append(_row(name, name, la, lb, "layer_cka", value))
    return rows


def to_float(x: Tensor) -> Tensor:
    """Snapshots are stored in low precision; measure them in float32 (metrics upcast to float64)."""
    return x.to(torch.float32)
