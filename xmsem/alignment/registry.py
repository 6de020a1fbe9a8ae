"""Registry of alignment metrics: the one source of a metric's function, parameters, fast path,
claimed invariances and the labels that reports and figures print.

``inputs`` says how a metric is called:

* ``"reps"``: ``fn(x, y, **params) -> 0-d float64 tensor`` on two (n, p), (n, q) representations;
* ``"probe"``: :func:`probe_transfer` (fit/eval splits of two members plus labels);
* ``"stitch"``: :func:`linear_stitch` (fit/eval splits plus B's tail as a callable);
* ``"spectral"``: :func:`spectral_alignment` (inputs plus two representations).

``invariances`` is a subset of ``INVARIANCES``: the metric's value is unchanged when either
representation is transformed by an orthogonal map (x -> x Q), an isotropic scaling
(x -> c x, c > 0), a translation (x -> x + t) or any invertible linear map (x -> x A). For
"reps" metrics the test-suite checks each claim both ways: invariant where claimed, changed by
a generic transformation where not. For the other kinds the flags describe the default
configuration and refer to transforming the *source* member (B for probe transfer with the
orthogonal map, A for stitching).

``params`` maps a keyword of ``fn`` to the name of a measurement setting shared by several
metrics (:class:`xmsem.snapshots.measure.MeasureSettings`, the ``callbacks.representations``
keys); ``options`` are the metric's OWN parameters (an :class:`Option` per keyword: its check and
what is valid; the default is the one in ``fn``'s signature), set per run under
``metric_params.<metric>.<keyword>``, so a new metric's research choices are config values
without touching the settings schema; ``max_n`` names the setting that caps the number of probe
examples (the n x n kernel of RBF CKA). ``prepared`` is the optional fast path on
:class:`~xmsem.alignment.prepared.Prepared` representations, ``prepared(px, py, params, shared)``
where ``shared`` is a dict private to one pair of representations: metrics that come from the
same cross product store it there (``shared["frob2"] = ||X^T Y||_F^2``, which the cross-run
analysis fills from one batched product). ``prepare(x, params)`` / ``finish(a, b, params)`` split
a metric into per-representation work (done once per representation of a snapshot or copy) and
per-pair work; ``batched(stack, params)`` gives the (K, K) values of all pairs of the K copies of
a seed ensemble (:class:`~xmsem.alignment.batched.PreparedStack`) at once. ``chance(px, py,
params)`` is the exact chance value (mean of the permutation null) that the snapshot rows report
as ``<name>_null`` beside the metric. ``rows(context, spec)`` produces the rows of a composite
metric (:mod:`~xmsem.alignment.composite`), at every compared layer pair (``rows_at="layers"``)
or at the stitched pairs (``"stitch"``).

Knowledge the snapshot code used to keep as name lists lives on the spec too: ``default`` (on
in the live measurements unless the config says otherwise), ``shares_frob2`` (its prepared path
reads ``shared["frob2"]``, which the caller fills once per pair), ``fits_probes`` (it fits a
linear probe per representation: member rows then report the probe's own accuracy,
``probe_acc``), ``prepare_stack(stack, views, params)`` (per-stack work for the K copies of a
member, e.g. one batched ``eigh`` for the subspace bases), ``between_copies`` (False: not
measured between the copies of a seed ensemble even with a fast path, because its
per-representation part is large -- RBF CKA's n x n kernel, K of them at once), ``rank_setting`` (a setting that
counts directions of the compared layers: it may not exceed the narrowest layer nor the probe
size), and the cost hooks ``rep_flops(n, d, settings, n_classes)`` / ``pair_flops(n, p, q,
settings)`` of :mod:`xmsem.snapshots.cost` (metrics that share a hook share its work: counted
once).

``headline`` marks the metric whose ``summary`` row (its own name by default) appears in the
end-of-run table and the summary figures (:func:`headline_metrics`). ``one_sided`` lists further
invariances that hold when only one argument (``"x"`` or ``"y"``) is transformed, for metrics
that are not symmetric (linear regression: any invertible map of the regressor).

Metric modules in :mod:`xmsem.alignment.measures` register themselves when the package is
imported (:func:`xmsem.alignment.measures.discover`): adding a measure is its module and its test.

Every number a row can hold (``metric`` column of ``alignment.csv``) has a :class:`Quantity`:
its human label, what A and B mean in it (``direction``), its range and whether higher means more
aligned. :func:`quantity` resolves row names, including ``seed_<name>`` (cross-run seed vs seed)
and ``<name>_band<i>`` (spectral bands).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor

import xmsem.catalog.choices as catalog
from xmsem.catalog.choices import (  # noqa: F401  (the measure modules import them from here)
    CLOSED_UNIT_INTERVAL,
    INT_AT_LEAST_2,
    NONNEGATIVE_FLOAT,
    POSITIVE_FLOAT,
    POSITIVE_INT,
    UNIT_INTERVAL,
    Option,
    check_options,
    choice,
)

from ._checks import numpy_io
from .batched import PreparedStack, linear_cka_stack, subspace_overlap_stack
from .chance import linear_cka_chance, subspace_overlap_chance
from .cka import linear_cka, rbf_centred_kernel, rbf_cka, rbf_cka_of_kernels
from .composite import PairContext, probe_rows, stitch_rows
from .maps import MAP_KINDS
from .prepared import Prepared, linear_cka_prepared, subspace_overlap_prepared
from .probe import probe_transfer
from .stitch import linear_stitch
from .subspace import cca_r2, procrustes_distance, subspace_overlap

__all__ = [
    "INVARIANCES",
    "METRICS",
    "QUANTITIES",
    "MetricSpec",
    "Option",
    "Quantity",
    "check_metric_params",
    "configured",
    "default_metrics",
    "get_metric",
    "headline_metrics",
    "order",
    "quantity",
    "register",
    "resolve_reps_metric",
]

INVARIANCES = frozenset({"orthogonal", "isotropic_scale", "translation", "invertible_linear"})
_KINDS = ("similarity", "distance")
_INPUTS = ("reps", "probe", "stitch", "spectral")
CROSS_PREFIX = "seed_"
SYMMETRIC = "symmetric in A and B"


@dataclass(frozen=True)
class Quantity:
    """Labels of one number in the alignment rows (reports, figures, terminal, wandb).

    ``higher_is_aligned``: True when a larger value means the two representations agree more,
    False when less (a distance, a penalty), None for numbers that are not an alignment."""

    name: str
    label: str
    direction: str = ""
    bounds: tuple[float, float] = (0.0, 1.0)
    higher_is_aligned: bool | None = True
    headline: bool = True  # shown in the report's tables and the figures

    @property
    def symmetric(self) -> bool:
        """Whether A and B play the same role (one value per pair, not one per direction)."""
        return self.direction == SYMMETRIC

    def axis_label(self) -> str:
        """The y-axis label of a figure: the label plus which way is more aligned."""
        if self.higher_is_aligned is None:
            return self.label
        return f"{self.label} ({'higher' if self.higher_is_aligned else 'lower'} = more aligned)"


@dataclass(frozen=True, eq=False)
class MetricSpec:
    """One registered metric (module doc). ``bounds``: the value range (debiased CKA can be
    negative). ``label`` / ``direction`` / ``higher_is_aligned`` describe the metric's own row
    name; ``outputs`` lists further row names it produces (e.g. ``transfer_ratio``)."""

    name: str
    kind: str
    invariances: frozenset[str]
    inputs: str
    fn: Callable[..., Any]
    doc: str
    bounds: tuple[float, float] = field(default=(0.0, 1.0))
    label: str = ""
    direction: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    max_n: str | None = None
    prepared: Callable[[Prepared, Prepared, Mapping[str, Any], dict], Any] | None = None
    outputs: tuple[Quantity, ...] = ()
    options: Mapping[str, Option] = field(default_factory=dict)
    prepare: Callable[[Tensor, Mapping[str, Any]], Any] | None = None
    finish: Callable[[Any, Any, Mapping[str, Any]], Any] | None = None
    batched: Callable[[Any, Mapping[str, Any]], Tensor] | None = None
    headline: bool = False
    summary: str = ""
    one_sided: Mapping[str, frozenset[str]] = field(default_factory=dict)
    chance: Callable[[Prepared, Prepared, Mapping[str, Any]], float] | None = None
    rows: Callable[[PairContext, MetricSpec], list[tuple]] | None = None
    rows_at: str = "layers"
    default: bool = False
    shares_frob2: bool = False
    fits_probes: bool = False
    prepare_stack: Callable[[PreparedStack, list[Prepared], Mapping[str, Any]], None] | None = None
    between_copies: bool = True
    rank_setting: str | None = None
    rep_flops: Callable[[int, int, Any, int], float] | None = None
    pair_flops: Callable[[int, int, int, Any], float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if self.inputs not in _INPUTS:
            raise ValueError(f"inputs must be one of {_INPUTS}, got {self.inputs!r}")
        if not self.invariances <= INVARIANCES:
            bad = sorted(self.invariances - INVARIANCES)
            raise ValueError(f"unknown invariances {bad}; valid: {sorted(INVARIANCES)}")
        for side, extra in self.one_sided.items():
            if side not in ("x", "y") or not extra <= INVARIANCES:
                raise ValueError(f"one_sided: keys x/y with invariances of {sorted(INVARIANCES)}")
        if self.rows_at not in ("layers", "stitch"):
            raise ValueError(f"rows_at must be 'layers' or 'stitch', got {self.rows_at!r}")
        if (self.prepare is None) != (self.finish is None):
            raise ValueError(f"metric {self.name!r}: prepare and finish come together")
        signature = inspect.signature(self.fn).parameters
        for kw in self.options:
            if kw not in signature or signature[kw].default is inspect.Parameter.empty:
                raise ValueError(f"metric {self.name!r}: option {kw!r} needs a default in fn")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))
        if not self.summary:
            object.__setattr__(self, "summary", self.name)
        if not self.direction and self.inputs == "reps":  # most are; say so when not
            object.__setattr__(self, "direction", SYMMETRIC)

    @property
    def quantity(self) -> Quantity:
        """Labels of the row named after the metric itself."""
        return Quantity(self.name, self.label, self.direction, self.bounds,
                        self.kind == "similarity")  # fmt: skip

    @property
    def defaults(self) -> dict[str, Any]:
        """The metric's own options at their defaults (those of ``fn``'s signature)."""
        signature = inspect.signature(self.fn).parameters
        return {kw: signature[kw].default for kw in self.options}

    def check_options(self, values: Mapping[str, Any], where: str = "metric_params") -> None:
        """One-line ValueError naming ``<where>.<metric>.<keyword>`` for an unknown option or a
        value its check refuses."""
        check_options(self.name, self.options, values, where)

    def kwargs(self, settings: Any = None) -> dict[str, Any]:
        """``fn``'s keyword arguments read from ``settings`` (an object with the setting names
        as attributes, e.g. MeasureSettings; its ``metric_params`` override the options'
        defaults)."""
        shared = {kw: getattr(settings, key) for kw, key in self.params.items()}
        own = self.defaults
        own.update((getattr(settings, "metric_params", None) or {}).get(self.name, {}))
        return {**shared, **own}

    def limit(self, settings: Any) -> int | None:
        """How many probe examples the metric uses (None: all)."""
        return None if self.max_n is None else int(getattr(settings, self.max_n))

    def setting_key(self, settings: Any) -> str:
        """The parameters as one string (cache keys: a changed parameter is a new value)."""
        parts = [f"{kw}={v}" for kw, v in sorted(self.kwargs(settings).items())]
        if self.max_n is not None:
            parts.append(f"n={self.limit(settings)}")
        return ",".join(parts)

    def compute(self, x: Tensor, y: Tensor, settings: Any) -> float:
        """A "reps" metric on two representations with the parameters of ``settings``."""
        if self.inputs != "reps":
            raise ValueError(f"metric {self.name!r} needs {self.inputs}, not two representations")
        m = self.limit(settings)
        if m is not None:  # the probe set is a fixed permutation: its first m are a random subset
            x, y = x[:m], y[:m]
        return float(self.fn(x, y, **self.kwargs(settings)))

    def prepare_one(self, x: Tensor, settings: Any) -> Any:
        """The per-representation part (``prepare``) on the first ``limit`` examples of ``x``."""
        m = self.limit(settings)
        return self.prepare(x if m is None else x[:m], self.kwargs(settings))

    def compute_finish(self, a: Any, b: Any, settings: Any) -> float:
        """The per-pair part (``finish``) of two outputs of :meth:`prepare_one`."""
        return float(self.finish(a, b, self.kwargs(settings)))

    def compute_prepared(
        self, px: Prepared, py: Prepared, settings: Any, shared: dict | None = None
    ) -> float:
        """The fast path on prepared representations (requires ``prepared``)."""
        if self.prepared is None:
            raise ValueError(f"metric {self.name!r} has no prepared fast path")
        shared = {} if shared is None else shared
        return float(self.prepared(px, py, self.kwargs(settings), shared))


# --------------------------------------------------------------------------- fast paths
def _linear_cka_pair(px: Prepared, py: Prepared, shared: dict) -> tuple[Tensor, Tensor]:
    """(biased, debiased) from one cross product, memoised in ``shared`` for this pair."""
    if "linear_cka_pair" not in shared:
        shared["linear_cka_pair"] = linear_cka_prepared(px, py, frob2=shared.get("frob2"))
    return shared["linear_cka_pair"]


def _linear_cka_fast(px: Prepared, py: Prepared, params: Mapping, shared: dict) -> Tensor:
    return _linear_cka_pair(px, py, shared)[0]


def _linear_cka_debiased_fast(px: Prepared, py: Prepared, params: Mapping, shared: dict) -> Tensor:
    return _linear_cka_pair(px, py, shared)[1]


def _subspace_fast(px: Prepared, py: Prepared, params: Mapping, shared: dict) -> Tensor:
    return subspace_overlap_prepared(px, py, params["k"])


def _linear_cka_stack_pair(stack: PreparedStack, shared: dict) -> tuple[Tensor, Tensor]:
    """(biased, debiased) (K, K) of a stack, from one set of cross products (memoised)."""
    if "linear_cka_stack" not in shared:
        shared["linear_cka_stack"] = linear_cka_stack(stack)
    return shared["linear_cka_stack"]


def _linear_cka_batched(stack: PreparedStack, params: Mapping, shared: dict) -> Tensor:
    return _linear_cka_stack_pair(stack, shared)[0]


def _linear_cka_debiased_batched(stack: PreparedStack, params: Mapping, shared: dict) -> Tensor:
    return _linear_cka_stack_pair(stack, shared)[1]


def _subspace_batched(stack: PreparedStack, params: Mapping, shared: dict) -> Tensor:
    k = params["k"]
    if not 1 <= k <= min(stack.n - 1, stack.xc.shape[2]):  # no k-dim subspace: NaN, not an error
        return torch.full((stack.k, stack.k), float("nan"), dtype=torch.float64,
                          device=stack.xc.device)  # fmt: skip
    return subspace_overlap_stack(stack, k)


def _subspace_stack_bases(stack: PreparedStack, views: list[Prepared], params: Mapping) -> None:
    """The top-k bases of every copy of a stack from one batched ``eigh``, stored in the views
    (the prepared path then reads them instead of decomposing each copy alone)."""
    k = params["k"]
    if 1 <= k <= min(stack.n - 1, stack.xc.shape[2]):
        for view, u, low in zip(views, *stack.bases(k), strict=True):
            view._bases[k] = None if bool(low) else u


def _subspace_rep_flops(n: int, d: int, settings: Any, n_classes: int) -> float:
    """The top-k basis of one representation (eigh of its Gram or covariance matrix)."""
    m, k = min(n, d), settings.subspace_k
    return 9.0 * m**3 if m <= 512 else 60.0 * m * m * k


def _probe_rep_flops(n: int, d: int, settings: Any, n_classes: int) -> float:
    """The probe of one representation on the fit half (L-BFGS iterations of softmax)."""
    return settings.probe_max_iter * 8.0 * (n // 2) * d * n_classes


def _probe_pair_flops(n: int, p: int, q: int, settings: Any) -> float:
    """The maps of probe transfer: one cross product shared by every kind and direction, plus
    per kind of ``settings.transfer_maps`` an SVD (Procrustes) or the two Grams (least squares)."""
    kinds = [k for k in settings.transfer_maps if k != "identity"]
    flops = 2.0 * n * p * q if kinds else 0.0
    for kind in kinds:
        flops += 12.0 * max(p, q) ** 3 if kind != "linear" else 2.0 * n * (p * p + q * q)
    return flops


def _rbf_pair_flops(n: int, p: int, q: int, settings: Any) -> float:
    """The two RBF kernels on the first ``rbf_max_n`` examples (shared by both estimators)."""
    r = min(n, settings.rbf_max_n)
    return 2.0 * r * r * (p + q)


def _subspace_chance(px: Prepared, py: Prepared, params: Mapping) -> float:
    k = params["k"]
    if k > min(px.xc.shape[1], py.xc.shape[1]):
        return float("nan")
    return subspace_overlap_chance(px.n, k)


@numpy_io
def subspace_overlap_value(x: Tensor, y: Tensor, k: int = 10) -> Tensor:
    """Mean cos^2 of the principal angles of :func:`subspace_overlap` (top-k subspaces)."""
    return subspace_overlap(x, y, k).mean_cos2


# --------------------------------------------------------------------------- the registry
_SIM = frozenset({"orthogonal", "isotropic_scale", "translation"})

METRICS: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to :data:`METRICS` (its row quantities too); returns it. A name that is
    already registered is an error (a metric has one definition)."""
    if spec.name in METRICS:
        raise ValueError(f"metric {spec.name!r} is already registered")
    METRICS[spec.name] = spec
    for q in (spec.quantity, *spec.outputs):
        QUANTITIES[q.name] = q
    return spec


def unregister(name: str) -> None:
    """Remove a metric and its row quantities (tests that register a temporary metric)."""
    spec = METRICS.pop(name)
    for q in (spec.quantity, *spec.outputs):
        QUANTITIES.pop(q.name, None)


# Numbers that are not produced by a registered metric's own rows: per-member rows of the
# snapshot callback and per-run training results.
QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("probe_acc", "probe accuracy", "a linear probe on the member's own layer", (0, 1),
                 None),
        Quantity("layer_cka", "layer x layer linear CKA", "two layers of one member"),
        Quantity("drift", "drift (1 - linear CKA to the previous snapshot)",
                 "a layer against itself at the previous snapshot", (0, 1), None),
        Quantity("latent_r2", "latent R² (linear readout of the true factors)", "", (0, 1), None),
        Quantity("val_acc", "validation accuracy", "", (0, 1), None),
        Quantity("test_acc", "test accuracy", "", (0, 1), None),
        Quantity("val_best_acc", "best validation accuracy", "", (0, 1), None),
        Quantity("best_epoch", "convergence epoch", "", (0, float("inf")), None),
    )
}  # fmt: skip

for _spec in (
    MetricSpec(
        "linear_cka", "similarity", _SIM, "reps", linear_cka,
        "Linear CKA, biased HSIC (Kornblith et al. 2019).",
        label="linear CKA", direction=SYMMETRIC, prepared=_linear_cka_fast,
        batched=_linear_cka_batched, headline=True, default=True, shares_frob2=True,
        chance=lambda px, py, params: linear_cka_chance(px, py),
    ),
    MetricSpec(
        "linear_cka_debiased", "similarity", _SIM, "reps", partial(linear_cka, debiased=True),
        "Linear CKA with unbiased HSIC (Song et al. 2012); range [-1, 1].", (-1.0, 1.0),
        label="debiased linear CKA", direction=SYMMETRIC, prepared=_linear_cka_debiased_fast,
        batched=_linear_cka_debiased_batched, default=True, shares_frob2=True,
    ),
    MetricSpec(
        "rbf_cka", "similarity", _SIM, "reps", rbf_cka,
        "RBF CKA, sigma = threshold * sqrt(median sq. distance) (Kornblith 2019).",
        label="RBF CKA", direction=SYMMETRIC, params={"threshold": "rbf_threshold"}, max_n="rbf_max_n",
        default=True, pair_flops=_rbf_pair_flops,
        prepare=lambda x, kw: rbf_centred_kernel(x, kw["threshold"]),
        finish=lambda a, b, kw: rbf_cka_of_kernels(a, b), between_copies=False,
    ),
    MetricSpec(
        "rbf_cka_debiased", "similarity", _SIM, "reps", partial(rbf_cka, debiased=True),
        "RBF CKA with unbiased HSIC (Song et al. 2012); range [-1, 1].", (-1.0, 1.0),
        label="debiased RBF CKA", direction=SYMMETRIC, params={"threshold": "rbf_threshold"},
        max_n="rbf_max_n", pair_flops=_rbf_pair_flops,
    ),
    MetricSpec(
        "subspace_overlap", "similarity", _SIM, "reps", subspace_overlap_value,
        "Mean cos^2 of principal angles between top-k left singular subspaces.",
        label="subspace overlap (mean cos²)", direction=SYMMETRIC, params={"k": "subspace_k"},
        prepared=_subspace_fast, batched=_subspace_batched, chance=_subspace_chance, default=True,
        prepare_stack=_subspace_stack_bases, rank_setting="subspace_k",
        rep_flops=_subspace_rep_flops,
    ),
    MetricSpec(
        "cca_r2", "similarity", INVARIANCES, "reps", cca_r2,
        "Mean squared canonical correlation R^2_CCA (Yanai 1974).",
        label="CCA R²", direction=SYMMETRIC,
    ),
    MetricSpec(
        "procrustes", "distance", _SIM, "reps", procrustes_distance,
        "Orthogonal Procrustes distance on normalised reps (Ding et al. 2021).", (0.0, 2.0),
        label="Procrustes distance", direction=SYMMETRIC,
    ),
    MetricSpec(
        "probe_transfer", "similarity", frozenset({"isotropic_scale", "translation"}), "probe",
        probe_transfer, "A's linear probe on Procrustes-mapped B: transfer / self accuracy.",
        (0.0, float("inf")), label="probe transfer", headline=True, summary="transfer_ratio",
        rows=probe_rows, default=True, fits_probes=True, rep_flops=_probe_rep_flops,
        pair_flops=_probe_pair_flops,
        params={"l2": "probe_l2", "max_iter": "probe_max_iter", "tol": "probe_tol",
                "normalize": "normalize"},
        outputs=(
            Quantity("transfer_acc", "transfer accuracy",
                     "A's probe on B's features (mapped into A)", (0.0, 1.0), headline=False),
            Quantity("transfer_ratio", "transfer ratio (transfer / own accuracy)",
                     "A's probe on B's features (mapped into A), over A's own probe accuracy",
                     (0.0, float("inf"))),
            *(q for kind in MAP_KINDS for q in (
                Quantity(f"transfer_acc_{kind}", f"transfer accuracy, {kind} map",
                         f"A's probe on B's features ({kind} map into A)", (0.0, 1.0),
                         headline=False),
                Quantity(f"transfer_ratio_{kind}", f"transfer ratio, {kind} map",
                         f"A's probe on B's features ({kind} map into A), over A's own accuracy",
                         (0.0, float("inf"))),
            )),
        ),
    ),
    MetricSpec(
        "stitching", "similarity", INVARIANCES, "stitch", linear_stitch,
        "Least-squares stitch of A into B's tail (Insulla et al. 2025).",
        label="stitching", headline=True, summary="stitch_penalty", rows=stitch_rows,
        rows_at="stitch", default=True,
        outputs=(
            Quantity("stitch_acc", "stitched accuracy",
                     "A's layer mapped into B's and run through B's remaining layers", headline=False),
            Quantity("stitch_penalty", "stitching penalty (own − stitched accuracy)",
                     "B's own accuracy minus A stitched into B's tail", (-1.0, 1.0), False),
            Quantity("stitch_loss", "stitched loss",
                     "A stitched into B's tail: B's cross-entropy", (0.0, float("inf")), False, False),
            Quantity("stitch_gap", "stitching gap E‖Sa − b‖²",
                     "A's layer mapped into B's against B's own", (0.0, float("inf")), False, False),
        ),
    ),
):  # fmt: skip
    register(_spec)


def get_metric(name: str) -> MetricSpec:
    """The registered metric called ``name``; ValueError listing the valid names otherwise."""
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown metric {name!r}; valid: {sorted(METRICS)}") from None


def resolve_reps_metric(
    metric: str | Callable[..., Any], fn: Callable[..., Any] | None = None
) -> tuple[str, Callable[..., Any]]:
    """``(name, function)`` of a registered ``"reps"`` metric named ``metric``, or whose function
    IS ``metric``, so a row's label and the number in it cannot come from two different metrics.
    ``fn`` (optional) must then be that very function. Anything else (an unknown name, an
    unregistered function, a name and a function that disagree, a metric of another kind) is
    a one-line ValueError."""
    reps = sorted(n for n, s in METRICS.items() if s.inputs == "reps")
    if callable(metric):
        names = [n for n in reps if METRICS[n].fn is metric]
        if not names:
            what = getattr(metric, "__name__", repr(metric))
            raise ValueError(
                f"metric function {what} is not registered; pass a registered name ({reps}) "
                "or register it (xmsem.alignment.register(MetricSpec(...)))"
            )
        metric = names[0]
    spec = get_metric(metric)
    if spec.inputs != "reps":
        raise ValueError(
            f"metric {metric!r} compares {spec.inputs}, not two representations; valid: {reps}"
        )
    if fn is not None and fn is not spec.fn:
        what = getattr(fn, "__name__", repr(fn))
        raise ValueError(
            f"metric name {metric!r} and function {what} disagree; pass only the name (or only "
            "the registered function)"
        )
    return metric, spec.fn


def check_metric_params(metric_params: Mapping[str, Mapping[str, Any]] | None,
                        where: str = "metric_params") -> None:  # fmt: skip
    """One-line ValueError for a ``metric_params`` entry naming an unknown metric, an unknown
    option or a refused value (``<where>.<metric>.<keyword>``)."""
    catalog.check_metric_params(METRICS, metric_params, where)


def default_metrics() -> tuple[str, ...]:
    """The metrics the live measurements compute unless the config lists others (registry
    order)."""
    return catalog.default_metrics(METRICS)


def configured(names: Iterable[str]) -> list[MetricSpec]:
    """The registered specs of ``names`` (e.g. ``settings.metrics``), in that order."""
    return catalog.configured(METRICS, names)


def headline_metrics() -> tuple[str, ...]:
    """The summary row names of the headline metrics, in registry order (the end-of-run table
    and the summary figures show these)."""
    return tuple(spec.summary for spec in METRICS.values() if spec.headline)


_BAND = re.compile(r"^(?P<base>.+)_band(?P<band>\d+)$")


def quantity(name: str) -> Quantity:
    """Labels of a row's metric name: registered names, ``seed_<name>`` (seed vs seed across
    runs), ``<name>_band<i>`` (one spectral band); unknown names get their own name as label."""
    if name in QUANTITIES:
        return QUANTITIES[name]
    if name.startswith(CROSS_PREFIX):
        base = quantity(name.removeprefix(CROSS_PREFIX))
        return dataclasses.replace(base, name=name, label=f"seed-vs-seed {base.label}")
    match = _BAND.match(name)
    if match:
        base = quantity(match["base"])
        return dataclasses.replace(base, name=name, label=f"{base.label} {match['band']}")
    return Quantity(name, name.replace("_", " "), "", (float("-inf"), float("inf")), None)


def order(names: Iterable[str]) -> list[str]:
    """``names`` (row metric names, maybe ``seed_`` prefixed) in registry order: each metric,
    then its outputs, then the other quantities; unknown names last, alphabetically."""
    rank: dict[str, int] = {}
    for spec in METRICS.values():
        for q in (spec.quantity, *spec.outputs):
            rank.setdefault(q.name, len(rank))
    for name in QUANTITIES:
        rank.setdefault(name, len(rank))

    def key(name: str) -> tuple:
        base = name.removeprefix(CROSS_PREFIX)
        match = _BAND.match(base)
        stem, band = (match["base"], int(match["band"])) if match else (base, -1)
        return (rank.get(stem, len(rank)), stem, band, name)

    return sorted(dict.fromkeys(names), key=key)


def trivially_one(row: Mapping[str, Any]) -> bool:
    """A row whose value is 1 by construction, so no measurement: the diagonal of a member's
    layer x layer CKA matrix (``layer_cka`` of a layer with itself)."""
    return (row["metric"] == "layer_cka" and row["member_a"] == row["member_b"]
            and row["layer_a"] == row["layer_b"])  # fmt: skip
