"""The settings of the alignment measurements and of the snapshots, and their choices: torch-free,
so config validation (the ``callbacks.representations`` schema extends :class:`MeasureSettings`)
runs before torch is imported. The measurement code (:mod:`xmsem.snapshots.measure`, which
re-exports these names) and the store read them from here."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from xmsem.catalog import check_metric_params, default_metrics, metric_catalog

__all__ = ["PAIRINGS", "STORAGE_DTYPE_NAMES", "MeasureSettings"]

# how the layers of two models are paired (xmsem.snapshots.measure.layer_pairs)
PAIRINGS = ("same_name", "last", "all")
# the dtypes snapshots can be stored in (torch's names; xmsem.snapshots.store maps them)
STORAGE_DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64")


@dataclass
class MeasureSettings:
    """Research choices of the alignment measurements: the one schema of these settings.

    ``xmsem.config.Representations`` (the ``callbacks.representations`` schema) extends it, and
    ``conf/callbacks/default.yaml`` lists the same keys with the same defaults (a test checks
    both). A registered metric names the settings it reads in ``MetricSpec.params``."""

    metrics: list[str] = field(default_factory=lambda: list(default_metrics(metric_catalog())))
    subspace_k: int = 10
    rbf_threshold: float = 1.0
    rbf_max_n: int = 1000
    probe_l2: float = 1e-2
    probe_max_iter: int = 200
    probe_tol: float = 1e-3
    normalize: str = "standardize"
    transfer_maps: list[str] = field(default_factory=lambda: ["orthogonal", "linear"])
    spectral_bands: int = 3
    spectral_k: int = 10
    spectral_max_n: int = 1000
    spectral_null_perms: int = 20
    pairwise_max_n: int = 1000  # measures on n x n matrices (RSA, kNN, dCor, ...): first n examples
    controls: bool = True  # chance rows (<metric>_null) and CKA(input, h) per layer
    # a metric's own options (MetricSpec.options), e.g. {"mutual_knn": {"k": 20}}; None: defaults
    # (None, not {}, in the YAML: Hydra's struct mode lets an override replace a null by a dict)
    metric_params: dict[str, dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        check_metric_params(metric_catalog(), self.metric_params)

    @classmethod
    def of(cls, node: Any) -> MeasureSettings:
        """The measurement settings in ``node`` (a mapping or config with these keys and maybe
        others, e.g. a validated ``callbacks.representations``)."""
        names = [f.name for f in fields(cls) if f.name in node]
        lists = ("metrics", "transfer_maps")
        values = {n: list(node[n]) if n in lists else node[n] for n in names}
        if values.get("metric_params") is not None:  # plain dicts, not a (typed) DictConfig node
            values["metric_params"] = {m: dict(v) for m, v in values["metric_params"].items()}
        return cls(**values)
