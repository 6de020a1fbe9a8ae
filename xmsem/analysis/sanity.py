"""Which measure to trust, on your own networks: the layer-identification test of Kornblith,
Norouzi, Lee, Hinton 2019 ("Similarity of Neural Network Representations Revisited", ICML,
Sec. 6.1).

For two models of the same architecture trained from different initialisations (seeds, or copies
of an ensemble), each layer of A is compared by a measure with every layer of B; the test passes
for that layer when B's most similar layer (highest similarity, lowest distance) is the
corresponding one (same layer name). A measure's *accuracy* is the fraction of (ordered pair of
models, layer) that pass, per dataset and architecture, at the last snapshot all models of the
group share. Kornblith et al. found CKA near 1 and CCA-family measures far below on CIFAR CNNs;
this runs the same check on the sweep at hand, for every registered two-representation measure.

A layer whose values are all NaN for a measure (degenerate input) is not counted; ties count as
a pass only when the corresponding layer is among the best. Measures use the cross-run settings
(n x n measures on the first ``slow_max_n`` examples; :func:`xmsem.analysis.crossrun.cross_settings`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from xmsem.alignment import METRICS, get_metric
from xmsem.analysis.crossrun import cross_settings
from xmsem.analysis.discovery import AnalysisError, Run, discover

__all__ = ["SanityRow", "groups", "layer_identification", "pair_value"]


@dataclass(frozen=True)
class SanityRow:
    """Accuracy of one measure's layer identification in one (dataset, architecture)."""

    dataset: str
    arch: str
    epoch: int
    metric: str
    passed: int
    counted: int
    models: int

    @property
    def accuracy(self) -> float:
        return self.passed / self.counted if self.counted else float("nan")


def groups(runs: Iterable[Run]) -> dict[tuple[str, str], list[tuple[Run, str]]]:
    """(dataset, architecture) -> its models (run, model name) with snapshots."""
    out: dict[tuple[str, str], list[tuple[Run, str]]] = {}
    for run in runs:
        if not run.store.epochs():
            continue
        for model in run.models:
            out.setdefault((run.dataset, run.arch(model)), []).append((run, model))
    return out


def _layers(run: Run, model: str, epoch: int) -> list[str]:
    manifest = run.store.manifest(epoch) or {}
    return list(manifest.get("members", {}).get(model, []))


def _passes(values: list[float], target: int, higher: bool) -> bool | None:
    """Whether ``target`` is (among) the best of ``values``; None when all are NaN."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite or math.isnan(values[target]):
        return None if not finite else False
    best = max(finite) if higher else min(finite)
    return values[target] == best


def pair_value(spec, reps: dict, settings) -> Callable[[tuple, tuple], float]:
    """``value(key_a, key_b)`` of ``spec`` between two loaded layers; a measure with a
    per-representation part prepares each layer once."""
    if spec.prepare is None:
        return lambda a, b: spec.compute(reps[a], reps[b], settings)
    parts: dict = {}

    def value(a: tuple, b: tuple) -> float:
        for key in (a, b):
            if key not in parts:
                parts[key] = spec.prepare_one(reps[key], settings)
        return spec.compute_finish(parts[a], parts[b], settings)

    return value


def layer_identification(
    sweep_dir: str | Path,
    metrics: Iterable[str] | None = None,
    *,
    max_models: int = 6,
    subspace_k: int = 10,
    slow_max_n: int = 2000,
) -> list[SanityRow]:
    """The layer-identification accuracy of each measure (module doc); ``metrics``: registered
    two-representation measures (default: all of them); ``max_models``: the first models of
    each group used (their ordered pairs are compared)."""
    names = [m for m in (metrics or METRICS) if get_metric(m).inputs == "reps"]
    if not names:
        raise AnalysisError("--sanity needs two-representation metrics; valid: "
                            + ", ".join(n for n, s in METRICS.items() if s.inputs == "reps"))  # fmt: skip
    settings = cross_settings(subspace_k, slow_max_n)
    rows: list[SanityRow] = []
    for (dataset, arch), models in sorted(groups(discover(Path(sweep_dir))).items()):
        models = models[:max_models]
        if len(models) < 2:
            continue
        common = set.intersection(*(set(run.store.epochs()) for run, _ in models))
        if not common:
            continue
        epoch = max(common)
        layers = _layers(*models[0], epoch)
        if len(layers) < 2 or any(_layers(r, m, epoch) != layers for r, m in models):
            continue  # layer identification needs >= 2 layers with the same names in every model
        reps: dict[tuple[int, str], Tensor] = {
            (i, la): run.store.load(epoch, model, la, torch.float64)
            for i, (run, model) in enumerate(models)
            for la in layers
        }
        for name in names:
            spec = get_metric(name)
            value = pair_value(spec, reps, settings)
            passed = counted = 0
            for i, j in itertools.permutations(range(len(models)), 2):
                for t, la in enumerate(layers):
                    values = [value((i, la), (j, lb)) for lb in layers]
                    ok = _passes(values, t, spec.kind == "similarity")
                    if ok is not None:
                        counted += 1
                        passed += int(ok)
            rows.append(SanityRow(dataset, arch, epoch, name, passed, counted, len(models)))
    if not rows:
        raise AnalysisError(f"{sweep_dir}: no architecture with >= 2 models sharing a snapshot "
                            "epoch and >= 2 layers; the layer-identification test needs both")  # fmt: skip
    return rows
