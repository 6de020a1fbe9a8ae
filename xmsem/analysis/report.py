"""``report.md``: the tables a paper would show, from the summary rows (numbers with 3 decimals)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from xmsem.alignment import order, quantity
from xmsem.alignment.registry import CROSS_PREFIX
from xmsem.analysis.aggregate import layer_order
from xmsem.analysis.discovery import Run
from xmsem.analysis.dynamics import markdown as dynamics_markdown


def headline(metric: str) -> bool:
    """An alignment number the report tabulates (labels and selection from the registry)."""
    q = quantity(metric)
    return q.headline and q.higher_is_aligned is not None


def num(value: float | None) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
    )


def mean_std(row: Mapping | None) -> str:
    """``mean ± std``; a single value (one seed, or the one pair two seeds make) has no spread
    and says so instead of ``± –``."""
    if row is None:
        return "–"
    std = row.get("std")
    if row["n"] > 1 and std is not None and math.isfinite(std):
        return f"{num(row['mean'])} ± {num(std)}"
    values = row.get("n_values") or row["n"]
    if row["n"] > 1 and values == 1:
        return f"{num(row['mean'])} (one pair, no spread)"
    return num(row["mean"])


def no_interval(n) -> str:
    """Why a cell has no interval: too few seeds (n < 3) say how many."""
    return f"none ({n} seed{'s' if n != 1 else ''}; needs 3)"


def ci(row: Mapping | None) -> str:
    """``[low, high]``; where too few seeds gave no interval, says so with the number."""
    if row is None:
        return "–"
    if math.isnan(row["ci_low"]):
        return no_interval(row["n"]) if row.get("note") == "n<3" else "–"
    return f"[{num(row['ci_low'])}, {num(row['ci_high'])}]"


def pvalue(p: float) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


STATS_NOTE = (
    "Intervals are 95% over independent seed units (run seed, copy): Student t over seeds; "
    "seed-vs-seed metrics use the delete-one-seed jackknife (pairs share seeds, so they are "
    "not independent). n = seeds; no interval from fewer than 3 seeds (the cell says "
    '"none (2 seeds; needs 3)"); a number without ± is a single value (one seed, or the one '
    "pair of two seeds)."
)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return lines + [""]


class _Index:
    """Summary rows by (dataset, arch, epoch, layer, metric, source)."""

    def __init__(self, summary: list[dict]) -> None:
        self.rows = summary
        self.map = {
            (r["dataset"], r["arch"], _e(r["epoch"]), r["layer"] or "", r["metric"], r["source"]): r
            for r in summary
        }

    def get(self, dataset, arch, epoch, layer, metric, source) -> dict | None:
        return self.map.get((dataset, arch, _e(epoch), layer or "", metric, source))

    def select(self, **where) -> list[dict]:
        return [r for r in self.rows if all(r.get(k) == v for k, v in where.items())]


def _e(epoch) -> int | None:
    return None if epoch in ("", None) else int(epoch)


def _rev(arch: str) -> str:
    a, b = _pair(arch)
    return f"{b}~{a}"


def swap_layers(layer: str) -> str:
    """``a~b`` -> ``b~a`` (the same pair of layers seen from the other model); ``h1`` unchanged."""
    parts = (layer or "").split("~")
    return "~".join(reversed(parts)) if len(parts) == 2 else layer


def _pair(arch: str) -> tuple[str, str] | None:
    parts = arch.split("~")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def baseline_for(arch: str, archs: Sequence[str], types: Mapping[str, str]) -> str | None:
    """The MLP architecture an architecture is compared with: same override suffix if present,
    else plain ``mlp``, else the first MLP-type architecture."""
    mlps = [a for a in archs if types.get(a) == "mlp"]
    if not mlps or types.get(arch) == "mlp":
        return None
    suffix = arch[arch.index("[") :] if "[" in arch else ""
    for cand in mlps:
        if (cand[cand.index("[") :] if "[" in cand else "") == suffix:
            return cand
    return "mlp" if "mlp" in mlps else mlps[0]


def build_report(
    sweep_dir: Path,
    runs: list[Run],
    summary: list[dict],
    figures: list[Path],
    out_dir: Path,
    refused: list[tuple[Run, str]],
    arch_types: Mapping[str, str],
    subspace_k: int,
    paired: list[dict] | None = None,
    nonfinite: list[dict] | None = None,
    convergence_fraction: float = 0.95,
    epoch_cka: list[dict] | None = None,
) -> str:
    """The markdown report (see the module doc of :mod:`xmsem.analysis`)."""
    idx = _Index(summary)
    counts = {s: sum(r.state == s for r in runs) for s in ("completed", "failed", "incomplete")}
    lines = [
        f"# Sweep analysis: `{sweep_dir}`",
        "",
        f"Runs: {len(runs)} — completed {counts['completed']}, failed {counts['failed']}, "
        f"incomplete {counts['incomplete']}. Only completed runs enter the tables.",
        "",
        STATS_NOTE,
        "",
    ]
    bad = [r for r in runs if r.state != "completed"]
    if bad:
        lines += ["## Failed and incomplete runs", ""]
        lines += table(["run", "state", "error"], [[r.name, r.state, r.error or ""] for r in bad])
    if refused:
        lines += ["## Runs left out of the cross-run comparison", ""]
        lines += table(["run", "dataset", "why"], [[r.name, r.dataset, why] for r, why in refused])
    datasets = sorted({r["dataset"] for r in summary})
    for ds in datasets:
        lines += _dataset_sections(idx, ds, arch_types, subspace_k, convergence_fraction)
        lines += _paired_section([r for r in paired or [] if r["dataset"] == ds])
        lines += dynamics_markdown([r for r in epoch_cka or [] if r["dataset"] == ds])
    lines += _nonfinite_section(nonfinite or [])
    if figures:
        lines += [
            "## Figures",
            "",
            "Each figure is a PNG with a PDF beside it. Bands: 95% CI over "
            "the number of seeds the legend gives; none below 3.",
            "",
        ]
        for p in figures:
            rel = p.relative_to(out_dir).as_posix()
            if p.stem.endswith("_summary"):
                lines += [f"![{p.stem}]({rel})", ""]
        lines += [f"- [{p.stem}]({p.relative_to(out_dir).as_posix()}) "
                  f"([pdf]({p.with_suffix('.pdf').relative_to(out_dir).as_posix()}))"
                  for p in figures] + [""]  # fmt: skip
    return "\n".join(lines)


def _dataset_sections(
    idx: _Index, ds: str, types: Mapping[str, str], k: int, fraction: float = 0.95
) -> list[str]:
    lines = [f"## Dataset `{ds}`", ""]
    lines += _accuracy_section(idx, ds, fraction)
    live = _live_sections(idx, ds, types)
    lines += live
    lines += _cross_section(idx, ds, types, k, has_live=bool(live))
    return lines


def _accuracy_section(idx: _Index, ds: str, fraction: float) -> list[str]:
    """Test accuracy and convergence per architecture (the ``final`` rows)."""
    archs = list(dict.fromkeys(r["arch"] for r in idx.select(dataset=ds, source="final")))
    if not archs:
        return []
    pct = f"{100 * fraction:g}%"
    lines = [
        "### Accuracy and convergence",
        "",
        "Test accuracy (mean ± std over seeds, 95% t-interval of the mean; n = seeds). "
        f"Convergence: epochs and optimizer steps until the validation accuracy first "
        f"reaches {pct} of its best, and the area under the validation-accuracy curve / "
        "epochs (= mean validation accuracy over the epochs trained).",
        "",
    ]
    rows = []
    for arch in archs:

        def get(metric: str, arch: str = arch) -> dict | None:
            return idx.get(ds, arch, None, None, metric, "final")

        acc, ep, params = get("test_acc"), get("epochs_to_target"), get("parameters")
        rows.append([
            arch, str(acc["n"] if acc else 0), mean_std(acc), ci(acc),
            mean_std(get("val_best_acc")), mean_std(ep), ci(ep),
            mean_std(get("steps_to_target")), mean_std(get("val_acc_auc")),
            f"{params['mean']:,.0f}" if params else "–",
        ])  # fmt: skip
    header = ["architecture", "n", "test acc", "95% CI", "best val acc",
              f"epochs to {pct} of best", "95% CI", f"steps to {pct}", "val acc AUC / epochs",
              "parameters"]  # fmt: skip
    return lines + table(header, rows)


def _canonical_pairs(idx: _Index, ds: str, live_pairs: list[str], types: Mapping) -> list[str]:
    """The direction of each live pair that its table is named after: the one the cohort
    measured the symmetric metrics in (e.g. mlp~mlp_shuffled); pairs without them: non-MLP
    first."""
    symmetric = {
        r["arch"]
        for r in idx.select(dataset=ds, source="live")
        if quantity(r["metric"]).symmetric and _pair(r["arch"])
    }
    return list(
        dict.fromkeys(
            a
            for a in live_pairs
            if (a in symmetric)
            or (_rev(a) not in symmetric and (_rev(a) not in live_pairs or types_rank(a, types)))
        )
    )


def _live_sections(idx: _Index, ds: str, types: Mapping[str, str]) -> list[str]:
    """One same-seed table per pair of members (live rows of the headline metrics)."""
    live = [
        r
        for r in idx.select(dataset=ds, source="live")
        if _pair(r["arch"]) and headline(r["metric"])
    ]
    lines: list[str] = []
    for pair in _canonical_pairs(idx, ds, sorted({r["arch"] for r in live}), types):
        lines += _live_pair_table(idx, ds, pair, live, types)
    return lines


def _live_pair_table(
    idx: _Index, ds: str, pair: str, live: list[dict], types: Mapping[str, str]
) -> list[str]:
    a, b = _pair(pair)
    rev = f"{b}~{a}"
    mine = [r for r in live if r["arch"] in (pair, rev)]
    header = ["epoch", "layer"]
    cols: list[tuple[str, str]] = []
    notes = []
    for m in order(r["metric"] for r in mine):
        q = quantity(m)
        if q.symmetric:
            cols.append((m, pair))
            header.append(q.label)
        else:
            cols += [(m, pair), (m, rev)]
            header += [f"{q.label} {a}→{b}", f"{q.label} {b}→{a}"]
            notes.append(f"{q.label} `A→B`: {q.direction}.")
    # one row per pair of layers: rows of the reversed pair name them from B's side
    keys = sorted(
        {(r["epoch"], r["layer"] if r["arch"] == pair else swap_layers(r["layer"]))
         for r in mine},
        key=lambda t: (t[0], layer_order(t[1] or "")),
    )  # fmt: skip
    lines = [
        f"### Same-seed alignment `{a}` vs `{b}` (live, per run, mean ± std over seeds)",
        "",
        *([" ".join(notes), ""] if notes else []),
    ]
    rows = [
        [str(e), layer]
        + [
            mean_std(idx.get(ds, arch, e, layer if arch == pair else swap_layers(layer), m, "live"))
            for m, arch in cols
        ]
        for e, layer in keys  # fmt: skip
    ]
    lines += table(header, rows)
    return lines + _controls_table(idx, ds, a, b, keys, types)


def _cross_section(
    idx: _Index, ds: str, types: Mapping[str, str], k: int, has_live: bool = True
) -> list[str]:
    """Cross-run alignment from the snapshots: one table per architecture or pair."""
    cross = idx.select(dataset=ds, source="cross_run")
    if not cross:
        return []
    same = (
        "same-seed numbers: the tables *Same-seed alignment* above"
        if has_live
        else "these runs measured no pair of models live, so there are no same-seed numbers"
    )
    lines = [
        "### Cross-run alignment from the snapshots",
        "",
        f"`seed_*` metrics: every pair of different seeds within an architecture "
        f"(initialisation stability), and `A~B`: seed s_i of A against seed "
        f"s_(i+1 mod S) of B — a *different-seed* baseline for cross-architecture "
        f"alignment ({same}). Subspace overlap "
        f"uses the top k={k} directions. Mean ± std over pairs; the interval is the "
        f"delete-one-seed jackknife (n = seeds, pairs = values).",
        "",
    ]
    for arch in dict.fromkeys(r["arch"] for r in cross):
        lines += _cross_table(idx, ds, arch, [r for r in cross if r["arch"] == arch])
    return lines + _stability(idx, ds, cross, types)


def _cross_table(idx: _Index, ds: str, arch: str, mine: list[dict]) -> list[str]:
    keys = sorted(
        {(r["epoch"], r["layer"]) for r in mine}, key=lambda t: (t[0], layer_order(t[1] or ""))
    )
    metrics = order(r["metric"] for r in mine)
    rows = []
    for e, layer in keys:
        cells = [idx.get(ds, arch, e, layer, m, "cross_run") for m in metrics]
        n = next((c["n"] for c in cells if c), 0)
        pairs = next((c.get("n_values", "–") for c in cells if c), 0)
        rows.append(
            [str(e), layer, str(n), str(pairs)]
            + [mean_std(c) for c in cells]
            + [ci(cells[0]), _untrained(cells[0])]
        )
    first = quantity(metrics[0]).label
    header = ["epoch", "layer", "seeds", "pairs", *(quantity(m).label for m in metrics),
              f"{first} 95% CI", f"{first} untrained"]  # fmt: skip
    return [f"#### `{arch}`", "", *table(header, rows)]


def types_rank(arch: str, types: Mapping[str, str]) -> bool:
    """True when the pair's first member is not an MLP (the canonical ``pgnn~mlp`` direction)."""
    first = _pair(arch)[0]
    return types.get(first) != "mlp"


def _stability(idx: _Index, ds: str, cross: list[dict], types: Mapping[str, str]) -> list[str]:
    within = [
        r for r in cross if not _pair(r["arch"]) and r["metric"] == CROSS_PREFIX + "linear_cka"
    ]
    if not within:
        return []
    last = max(r["epoch"] for r in within)
    archs = list(dict.fromkeys(r["arch"] for r in within))
    layers = sorted({r["layer"] for r in within if r["epoch"] == last}, key=layer_order)
    header = ["layer"] + [f"{a}" for a in archs]
    rel_cols = [(a, baseline_for(a, archs, types)) for a in archs]
    rel_cols = [(a, b) for a, b in rel_cols if b]
    header += [f"rel. diff ({a} − {b}) / {b}" for a, b in rel_cols]
    rows = []
    for layer in layers:
        cells = {a: idx.get(ds, a, last, layer, "seed_linear_cka", "cross_run") for a in archs}
        row = [layer] + [f"{mean_std(cells[a])} {ci(cells[a])}" for a in archs]
        for a, b in rel_cols:
            va, vb = cells[a], cells[b]
            ok = va and vb and vb["mean"] not in (0.0,) and not math.isnan(vb["mean"])
            row.append(num((va["mean"] - vb["mean"]) / vb["mean"]) if ok else "–")
        rows.append(row)
    return [
        f"### Cross-seed stability (epoch {last})",
        "",
        "Mean seed-vs-seed linear CKA per layer (± std over pairs, 95% CI), and its relative "
        "difference to the MLP baseline.",
        "",
    ] + table(header, rows)


PAIRED_FINAL = (
    "test_acc",
    "test_loss",
    "val_best_acc",
    "epochs_to_target",
    "steps_to_target",
    "val_acc_auc",
)


def _paired_section(paired: list[dict]) -> list[str]:
    """Architecture minus its MLP baseline by seed: final results and, at the last epoch,
    the seed-vs-seed linear CKA per layer."""
    if not paired:
        return []
    rows = [r for r in paired if r["source"] == "final" and r["metric"] in PAIRED_FINAL]
    cross = [r for r in paired if r["source"] == "cross_run" and r["metric"] == "seed_linear_cka"]
    if cross:
        last = max(r["epoch"] for r in cross)
        rows += sorted(
            (r for r in cross if r["epoch"] == last), key=lambda r: layer_order(r["layer"] or "")
        )
    if not rows:
        return []
    body = [
        [
            f"{r['arch_a']} − {r['arch_b']}",
            r["metric"] + (f" (epoch {r['epoch']}, {r['layer']})" if r["layer"] else ""),
            str(r["n"]),
            num(r["mean_diff"]),
            ci(r)
            if not math.isnan(r["ci_low"])
            else (no_interval(r["n"]) if r["note"] == "n<3" else "–"),
            pvalue(r["p_value"]),
            num(r["cohens_dz"]),
            r["method"],
        ]
        for r in rows
    ]
    return [
        "### Paired differences by seed",
        "",
        "Same run seed and copy (the two share every batch): mean difference, 95% t-interval, "
        "two-sided paired t-test, Cohen's d_z = mean / sd of the differences. Seed-vs-seed CKA: "
        "delete-one-seed jackknife of the difference of the two means (d_z undefined). All rows "
        "are in paired.csv.",
        "",
    ] + table(["comparison", "metric", "n", "mean diff", "95% CI", "p", "d_z", "method"], body)


def _nonfinite_section(nonfinite: list[dict]) -> list[str]:
    """Every non-finite value that was left out of a mean (none are dropped silently)."""
    if not nonfinite:
        return []
    body = [
        [r["dataset"], r["arch"], str(r["epoch"] if r["epoch"] is not None else ""),
         r["layer"] or "", r["metric"], r["source"], r["run"], r["value"]]
        for r in nonfinite
    ]  # fmt: skip
    return [
        "## Non-finite values",
        "",
        f"{len(nonfinite)} values were NaN or infinite and are left out of the means above "
        "(counted in summary.csv's n_nonfinite; also in nonfinite.csv).",
        "",
    ] + table(["dataset", "arch", "epoch", "layer", "metric", "source", "run", "value"], body)


def _live(idx: _Index, ds: str, arch: str, epoch, layer: str, metric: str) -> dict | None:
    return idx.get(ds, arch, epoch, layer, metric, "live")


def _either(idx: _Index, ds: str, a: str, b: str, epoch, layer: str, metric: str) -> dict | None:
    """The live row of pair a~b in whichever order the cohort listed it."""
    found = _live(idx, ds, f"{a}~{b}", epoch, layer, metric)
    if found is None and layer:
        found = _live(idx, ds, f"{b}~{a}", epoch, swap_layers(layer), metric)
    return found


def _mean(row: dict | None) -> str:
    return "–" if row is None else num(row["mean"])


def _untrained(row: dict | None) -> str:
    return "–" if row is None else num(row.get("untrained", math.nan))


def _controls_table(
    idx: _Index, ds: str, a: str, b: str, keys: list, types: Mapping[str, str]
) -> list[str]:
    """Each alignment number of the pair beside its controls: the same measurement on the
    untrained networks (epoch 0), the chance value (exact permutation mean at this n and
    width), each model against the shuffled-label control member, and CKA(input, layer)."""
    pair = f"{a}~{b}"
    controls = [c for c, t in types.items() if t == "control" and c not in (a, b)]
    header = ["epoch", "layer", "linear CKA", "untrained", "chance"]
    for c in controls:
        header += [f"{a} vs {c}", f"{b} vs {c}"]
    header += [f"CKA(input, {a})", f"CKA(input, {b})", "subspace overlap", "untrained", "chance"]
    rows = []
    for e, layer in keys:
        la, _, lb = (layer or "").partition("~")
        lb = lb or la
        cka = _live(idx, ds, pair, e, layer, "linear_cka")
        sub = _live(idx, ds, pair, e, layer, "subspace_overlap")
        if cka is None and sub is None:
            continue
        row = [str(e), layer, mean_std(cka), _untrained(cka),
               _mean(_live(idx, ds, pair, e, layer, "linear_cka_null"))]  # fmt: skip
        for c in controls:
            row += [
                _mean(_either(idx, ds, a, c, e, la, "linear_cka")),
                _mean(_either(idx, ds, b, c, e, lb, "linear_cka")),
            ]
        row += [
            _mean(_live(idx, ds, a, e, la, "input_cka")),
            _mean(_live(idx, ds, b, e, lb, "input_cka")),
            mean_std(sub),
            _untrained(sub),
            _mean(_live(idx, ds, pair, e, layer, "subspace_overlap_null")),
        ]
        rows.append(row)
    if not rows:
        return []
    return [
        f"Controls for `{a}` vs `{b}`: untrained = the same measurement at epoch 0; chance = "
        "exact mean over row permutations (unrelated representations of this n and width); "
        "`vs <control>` = each model against the shuffled-label control member of the same run; "
        "CKA(input, ·) = how much of the layer is the input geometry. Controls: means over seeds.",
        "",
    ] + table(header, rows)
