"""The report of ``python -m xmsem.analyze --sanity``: which measure to trust, by the
layer-identification test (:mod:`xmsem.analysis.sanity`) and ReSi's grounding by prediction
(:mod:`xmsem.analysis.grounding`), as one table (csv, markdown) and one figure."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from xmsem.alignment import METRICS
from xmsem.analysis.grounding import FUNCTIONAL, GroundingRow
from xmsem.analysis.sanity import SanityRow

__all__ = ["sanity_report"]


def _merged(rows: list[SanityRow], grounding: Iterable[GroundingRow]) -> list[tuple]:
    """(dataset, arch, metric, layer-identification row or None, grounding row or None), one per
    (dataset, architecture, measure) either test produced, in the order of ``rows``."""
    by_key = {(g.dataset, g.arch, g.metric): g for g in grounding}
    keys = [(r.dataset, r.arch, r.metric) for r in rows]
    keys += [k for k in by_key if k not in set(keys)]
    ident = {(r.dataset, r.arch, r.metric): r for r in rows}
    return [(*k, ident.get(k), by_key.get(k)) for k in keys]


def _cells(r: SanityRow | None, g: GroundingRow | None) -> list[str]:
    """The table cells after the measure: identification (accuracy, counted) and each rho."""
    out = [f"{r.accuracy:.3f}", str(r.counted)] if r else ["", ""]
    for key in FUNCTIONAL:
        out.append(f"{g.rho[key]:.3f}" if g and g.pairs[key] else "")
    return out + ([str(g.pairs["accuracy"]), g.layer] if g else ["", ""])


def sanity_report(rows: list[SanityRow], out: str | Path, figures: bool = True,
                  grounding: Iterable[GroundingRow] = ()) -> list[Path]:  # fmt: skip
    """``sanity.csv``, ``sanity.md`` and (``figures``) ``sanity.png`` in ``out``: one row per
    (dataset, architecture, measure) with its layer-identification accuracy and, from
    ``grounding`` (:class:`~xmsem.analysis.grounding.GroundingRow`), its Spearman rho with each
    functional difference; measures ordered by accuracy in the figure."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    merged = _merged(rows, list(grounding))
    rho_cols = [f"rho_{k}" for k in FUNCTIONAL]
    fields = ["dataset", "arch", "metric", "accuracy", "counted", *rho_cols, "pairs", "layer"]
    with open(out / "sanity.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for ds, arch, metric, r, g in merged:
            w.writerow([ds, arch, metric, *_cells(r, g)])
    lines = ["# Which measure to trust", "",
             "**Layer identification** (Kornblith et al. 2019): fraction of (ordered pair of "
             "models, layer) whose most similar layer in the other model is the corresponding "
             "one. **Grounding** (ReSi, Klabunde et al. 2025): Spearman's rho, over pairs of "
             "models, of the measure's dissimilarity of their last hidden layers with |accuracy "
             "difference|, prediction disagreement and output JSD (+1: tracks function; empty: "
             "not available, e.g. no checkpoints for outputs).", "",
             "| dataset | architecture | measure | layer id. | pairs × layers | rho acc | "
             "rho disagreement | rho JSD | model pairs | layer |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for ds, arch, metric, r, g in merged:
        lines.append(f"| {ds} | {arch} | {METRICS[metric].label} | " + " | ".join(_cells(r, g))
                     + " |")  # fmt: skip
    (out / "sanity.md").write_text("\n".join(lines) + "\n")
    paths = [out / "sanity.csv", out / "sanity.md"]
    if figures:
        paths.append(_figure(merged, out / "sanity.png"))
    return paths


def _figure(merged: list[tuple], path: Path) -> Path:
    """Per (dataset, architecture): layer-identification accuracy (left) and the grounding rhos
    (right), one row per measure, ordered by accuracy."""
    from xmsem.analysis.plots import plt, save_figure

    groups_ = sorted({(m[0], m[1]) for m in merged})
    per = max(sum(1 for m in merged if (m[0], m[1]) == g) for g in groups_)
    fig, axes = plt.subplots(len(groups_), 2, figsize=(12, (0.25 * per + 1.5) * len(groups_)),
                             squeeze=False, layout="constrained")  # fmt: skip
    for (ax, bx), (ds, arch) in zip(axes, groups_, strict=True):
        sel = sorted((m for m in merged if (m[0], m[1]) == (ds, arch)),
                     key=lambda m: m[3].accuracy if m[3] and m[3].counted else -1.0)  # fmt: skip
        labels = [METRICS[m[2]].label for m in sel]
        pos = list(range(len(sel)))
        ax.barh(pos, [m[3].accuracy if m[3] else float("nan") for m in sel], color="C0")
        ax.set(xlim=(0, 1), xlabel="layer-identification accuracy", title=f"{ds}: {arch}")
        for k, key in enumerate(FUNCTIONAL):
            vals = [m[4].rho[key] if m[4] else float("nan") for m in sel]
            bx.barh([p + (k - 1) * 0.27 for p in pos], vals, height=0.27, label=key,
                    color=f"C{k + 1}")  # fmt: skip
        bx.axvline(0, color="0.5", lw=0.8)
        bx.set(xlim=(-1, 1), xlabel="Spearman rho with functional difference (ReSi)")
        bx.legend(fontsize=7, loc="lower right")
        for a in (ax, bx):
            a.set_yticks(pos, labels, fontsize=7)
    return save_figure(fig, path)
