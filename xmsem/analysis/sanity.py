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

import csv
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

__all__ = ["SanityRow", "layer_identification", "sanity_report"]


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


def _groups(runs: Iterable[Run]) -> dict[tuple[str, str], list[tuple[Run, str]]]:
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


def _pair_value(spec, reps: dict, settings) -> Callable[[tuple, tuple], float]:
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
    for (dataset, arch), models in sorted(_groups(discover(Path(sweep_dir))).items()):
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
            value = _pair_value(spec, reps, settings)
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


def sanity_report(rows: list[SanityRow], out: str | Path, figures: bool = True) -> list[Path]:
    """``sanity.csv``, ``sanity.md`` and (``figures``) ``sanity.png`` in ``out``: one row per
    (dataset, architecture, measure); measures ordered by accuracy in the figure."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fields = ["dataset", "arch", "epoch", "metric", "accuracy", "passed", "counted", "models"]
    with open(out / "sanity.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for r in rows:
            w.writerow([r.dataset, r.arch, r.epoch, r.metric, f"{r.accuracy:.4f}", r.passed,
                        r.counted, r.models])  # fmt: skip
    lines = ["# Layer identification (Kornblith et al. 2019)", "",
             "Fraction of (ordered pair of models, layer) whose most similar layer in the other "
             "model is the corresponding one.", "",
             "| dataset | architecture | epoch | measure | accuracy | pairs × layers | models |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r.dataset} | {r.arch} | {r.epoch} | {METRICS[r.metric].label} | "
                     f"{r.accuracy:.3f} | {r.counted} | {r.models} |")  # fmt: skip
    (out / "sanity.md").write_text("\n".join(lines) + "\n")
    paths = [out / "sanity.csv", out / "sanity.md"]
    if figures:
        paths.append(_figure(rows, out / "sanity.png"))
    return paths


def _figure(rows: list[SanityRow], path: Path) -> Path:
    from xmsem.analysis.plots import plt, save_figure

    groups = sorted({(r.dataset, r.arch) for r in rows})
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 0.25 * len(rows) / len(groups) + 1.5
                                                       * len(groups)), squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax, (ds, arch) in zip(axes[:, 0], groups, strict=True):
        sel = sorted((r for r in rows if (r.dataset, r.arch) == (ds, arch)),
                     key=lambda r: (r.accuracy if r.counted else -1.0))  # fmt: skip
        ax.barh([METRICS[r.metric].label for r in sel], [r.accuracy for r in sel], color="C0")
        ax.set_xlim(0, 1)
        ax.set_xlabel("layer-identification accuracy")
        ax.set_title(f"{ds}: {arch} (epoch {sel[0].epoch}, {sel[0].models} models)", fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    return save_figure(fig, path)
