"""Figures of a sweep analysis (matplotlib, Agg; each saved as PNG and PDF) from the summary rows.

Labels come from the metric registry (:func:`xmsem.alignment.quantity`): axis labels, which way
is more aligned, and what A and B mean in a directional metric; spectral bands are named in
words ("low-frequency kNN-graph band"). Epoch axes have integer ticks. A band is a 95%
confidence interval over seeds; with fewer than ``MIN_BAND_N`` seeds there is none, and the
legend's title says which. In a panel each compared pair (or seed-vs-seed architecture) has its
own colour, never repeated; the line style says what is compared (solid: same seed, dashed:
different seeds, dash-dot: seed vs seed). Controls (permutation null, untrained networks, pairs
with a shuffled-label control member, control rows) are drawn in ONE grey dotted style and named
"controls" in the legend; the shuffled-label members' accuracy has its own panel, so it does not
flatten the others'. Legends sit outside the axes. Every figure passes
:func:`xmsem.analysis.layout.layout_problems`. Files: ``<dataset>_<metric>.png`` (one panel per
layer), ``<dataset>_accuracy.png``, ``<dataset>_stability.png``, ``<dataset>_layer_cka.png``,
``<dataset>_epoch_cka_<arch>.png`` (one model's layers between its snapshots) and
``<dataset>_summary.png`` (the study on one page).
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from xmsem.alignment import quantity
from xmsem.alignment.registry import CROSS_PREFIX, headline_metrics
from xmsem.analysis.aggregate import layer_order
from xmsem.analysis.layout import CONTROL_GID
from xmsem.analysis.plots import heatmap_axes, plt, save_figure
from xmsem.analysis.report import headline, swap_layers

MAX_PART = 40  # characters of one part of a figure's file name (file systems stop at 255 bytes)
MIN_BAND_N = 3  # no interval from fewer than 3 seeds
SOURCES = ("live", "cross_run", "final")
CONTROL_STYLE = {"color": "0.6", "linestyle": ":", "linewidth": 1.3, "marker": None,
                 "gid": CONTROL_GID}  # fmt: skip
KIND_STYLE = {"same seed": "-", "different seeds": "--", "seed vs seed": "-."}
LEGEND_FONT = 7
LEGEND_WIDTH = 40  # characters per legend line (longer labels wrap)
LEGEND_ROWS = 14  # entries of a one-column legend; more take two columns
_BAND = re.compile(r"^(?P<base>.+)_band(?P<band>\d+)$")
# words for the blocks of a spectrum, by basis: (first block, middle blocks, last block)
_BAND_WORDS = {
    "spectral_graph": ("low-frequency", "mid-frequency", "high-frequency", "kNN-graph band"),
    "spectral_pca": ("leading", "middle", "trailing", "PCA components"),
}


def _safe(name: str) -> str:
    """``name`` as a file-name part: odd characters replaced; a long name (an architecture key
    made of many overrides) keeps its start plus a hash of the whole, so it stays short,
    deterministic and distinct."""
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")
    if len(safe) > MAX_PART:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        safe = f"{safe[: MAX_PART - 9]}~{digest}"
    return safe


def _pair(arch: str) -> tuple[str, str] | None:
    parts = arch.split("~")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def distinct_colours(n: int) -> list:
    """``n`` colours, none repeated and none grey (grey is the controls'): tab10 without its
    grey, then tab20 without its greys, then evenly spaced along the 'turbo' colour map."""
    if n <= 9:
        cycle = plt.get_cmap("tab10").colors
        return [c for i, c in enumerate(cycle) if i != 7][:n]
    if n <= 18:
        return [c for i, c in enumerate(plt.get_cmap("tab20").colors) if i not in (14, 15)][:n]
    return [tuple(c) for c in plt.get_cmap("turbo")(np.linspace(0.03, 0.97, n))]


def is_control(arch: str, controls: Collection[str]) -> bool:
    """Whether ``arch`` (a model or a pair ``a~b``) is or involves a shuffled-label control."""
    return any(part in controls for part in arch.split("~"))


# --------------------------------------------------------------------------- labels
def band_words(metric: str, n_bands: int | None = None) -> str | None:
    """``spectral_graph_band0`` -> "low-frequency kNN-graph band" (None: not a band metric).
    The middle blocks of more than three carry their place: "mid-frequency (2 of 4) ..."."""
    match = _BAND.match(metric.removeprefix(CROSS_PREFIX))
    if not match or match["base"] not in _BAND_WORDS:
        return None
    first, middle, last, what = _BAND_WORDS[match["base"]]
    b = int(match["band"])
    if n_bands is None:  # how many there are is unknown: the first is the lowest
        return f"{first} {what}" if b == 0 else f"{middle} ({b + 1}) {what}"
    n = max(n_bands, b + 1)
    if n == 1:
        return f"all {what}".replace("band", "bands")
    if b == 0:
        word = first
    elif b == n - 1:
        word = last
    else:
        word = middle if n == 3 else f"{middle} ({b + 1} of {n})"
    return f"{word} {what}"


def metric_label(metric: str, rows: Iterable[dict] = ()) -> str:
    """The registry's label of ``metric``, spectral bands in words (the number of bands is read
    from ``rows``: the highest band present + 1)."""
    q = quantity(metric)
    match = _BAND.match(metric.removeprefix(CROSS_PREFIX))
    if not match:
        return q.label
    stem = CROSS_PREFIX if metric.startswith(CROSS_PREFIX) else ""
    bands = {int(m["band"]) for r in rows
             if (m := _BAND.match(str(r["metric"]).removeprefix(CROSS_PREFIX)))
             and m["base"] == match["base"]}  # fmt: skip
    # a single band seen: the number of bands is not known (rows of one band's figure)
    words = band_words(metric, max(bands) + 1 if len(bands) > 1 else None)
    if words is None:
        return q.label
    base = quantity(match["base"]).label  # e.g. "linear CKA in kNN-graph band"
    measure = base.split(" in ")[0]
    return f"{'seed-vs-seed ' if stem else ''}{measure}, {words}"


def axis_label(metric: str, rows: Iterable[dict] = (), width: int = 38) -> str:
    """A y-axis label (which way is more aligned), wrapped so it fits beside a panel."""
    q = quantity(metric)
    label = metric_label(metric, rows)
    if q.higher_is_aligned is not None:
        label += f" ({'higher' if q.higher_is_aligned else 'lower'} = more aligned)"
    return textwrap.fill(label, width)


def short(arch: str) -> str:
    """A variant's label without the config path of its keys, for legends:
    ``pgnn[model.pgnn.shaping=none]`` -> ``pgnn[shaping=none]``."""
    return re.sub(r"(?<=[\[,])(?:[A-Za-z_][\w-]*\.)+", "", arch)


def _pair_name(arch: str, symmetric: bool) -> str:
    a, b = (short(x) for x in _pair(arch))
    return f"{a} vs {b}" if symmetric else f"{a}→{b}"


# --------------------------------------------------------------------------- legends
@dataclass
class Key:
    """The legend of a panel: one entry per colour (pair or architecture), one per line style
    used (same seed / different seeds), one "controls" entry; the title says over how many
    seeds the bands are."""

    entries: dict[str, Line2D] = field(default_factory=dict)
    styles: dict[str, str] = field(default_factory=dict)
    controls: list[str] = field(default_factory=list)  # what the grey lines are
    seeds: set[int] = field(default_factory=set)
    banded: bool = False

    def __bool__(self) -> bool:
        return bool(self.entries or self.controls)

    def colour(self, label: str, colour, style: str = "-") -> None:
        self.entries.setdefault(label, Line2D([], [], color=colour, linestyle=style, marker="o",
                                              ms=3))  # fmt: skip

    def control(self, what: str) -> None:
        if what not in self.controls:
            self.controls.append(what)

    def merge(self, other: Key) -> Key:
        for label, handle in other.entries.items():
            self.entries.setdefault(label, handle)
        self.styles.update(other.styles)
        for what in other.controls:
            self.control(what)
        self.seeds |= other.seeds
        self.banded |= other.banded
        return self

    def handles(self) -> tuple[list[Line2D], list[str]]:
        handles, labels = list(self.entries.values()), list(self.entries)
        if len(self.styles) > 1:
            for kind, style in self.styles.items():
                handles.append(Line2D([], [], color="black", linestyle=style))
                labels.append(kind)
        if self.controls:
            style = {k: v for k, v in CONTROL_STYLE.items() if k != "gid"}
            handles.append(Line2D([], [], **style))
            labels.append(textwrap.fill(f"controls ({', '.join(self.controls)})", 34))
        return handles, labels

    def title(self) -> str | None:
        if not self.seeds:
            return None
        lo, hi = min(self.seeds), max(self.seeds)
        n = f"{lo}" if lo == hi else f"{lo}–{hi}"
        seeds = "seed" if n == "1" else "seeds"
        if self.banded:
            fewer = f"; none where < {MIN_BAND_N}" if lo < MIN_BAND_N else ""
            return f"bands: 95% CI over {n} {seeds}{fewer}"
        if hi < MIN_BAND_N:
            return f"{n} {seeds}: too few for a 95% CI"
        return f"{n} {seeds}"

    def place(self, ax) -> None:
        """The legend to the right of ``ax``, outside the data (labels wrapped; two columns
        beyond ``LEGEND_ROWS`` entries)."""
        handles, labels = self.handles()
        if handles:
            labels = [textwrap.fill(t, LEGEND_WIDTH) for t in labels]
            ax.legend(handles, labels, title=self.title(), loc="upper left",
                      bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=LEGEND_FONT,
                      title_fontsize=LEGEND_FONT, frameon=False,
                      ncols=1 if len(labels) <= LEGEND_ROWS else 2)  # fmt: skip


def _series(ax, rows: list[dict], key: Key, label: str, colour=None, style: str = "-",
            control: bool = False) -> None:  # fmt: skip
    """One line (mean vs epoch) with its 95% CI band where n >= MIN_BAND_N and the interval is
    finite (none for a control); ``key`` learns the number of seeds."""
    rows = sorted(rows, key=lambda r: r["epoch"])
    x = np.array([r["epoch"] for r in rows], dtype=float)
    y = np.array([r["mean"] for r in rows], dtype=float)
    if control:
        ax.plot(x, y, label=label, **CONTROL_STYLE)
        return
    lo = np.array([_float(r["ci_low"]) for r in rows])
    hi = np.array([_float(r["ci_high"]) for r in rows])
    band = np.array([int(r["n"]) >= MIN_BAND_N for r in rows]) & np.isfinite(lo) & np.isfinite(hi)
    key.seeds |= {int(r["n"]) for r in rows}
    ax.plot(x, y, style, marker="o", ms=3, color=colour, label=label)
    if band.any():
        key.banded = True
        ax.fill_between(x, np.where(band, lo, np.nan), np.where(band, hi, np.nan), alpha=0.2,
                        color=colour, linewidth=0)  # fmt: skip


def _epoch_axis(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epochs trained")
    ax.grid(alpha=0.3)


# --------------------------------------------------------------------------- panels
def _oriented(cross: list[dict], live: Iterable[str]) -> list[dict]:
    """Cross-run rows of a pair named as the live rows name it (``mlp~pgnn`` -> ``pgnn~mlp``
    when the cohort measured ``pgnn~mlp``): one pair, one colour (cross-run metrics are
    symmetric)."""
    live = set(live)
    out = []
    for r in cross:
        pair = _pair(r["arch"])
        rev = "~".join(reversed(pair)) if pair else None
        out.append(dict(r, arch=rev) if rev in live and r["arch"] not in live else r)
    return out


def _baselines(live: Iterable[str], cross: Iterable[str]) -> list[str]:
    """The cross-run archs a panel draws: seed-vs-seed architectures, and different-seed pairs
    where they are the baseline of a pair measured live (either order); every pair when none
    was measured live (single-member runs: the cross-run pairs are all there is)."""
    live = set(live)
    return [a for a in dict.fromkeys(cross)
            if not _pair(a) or not live or a in live or "~".join(reversed(_pair(a))) in live]  # fmt: skip


def alignment_subjects(rows: list[dict], metric: str, controls: Collection[str] = ()) -> list[str]:
    """The coloured subjects of ``metric``'s panels: pairs (live, and their different-seed
    baselines) and seed-vs-seed architectures, controls left out (they are grey)."""
    live = [r["arch"] for r in rows
            if r["metric"] == metric and r["source"] == "live" and _pair(r["arch"])]  # fmt: skip
    cross = _oriented([r for r in rows if r["metric"] == CROSS_PREFIX + metric
                       and r["source"] == "cross_run"], live)  # fmt: skip
    subjects = live + _baselines(live, [r["arch"] for r in cross])
    kept = [a for a in dict.fromkeys(subjects) if not is_control(a, controls)]
    return sorted(kept, key=lambda a: _pair(a) is None)  # pairs first, then seed vs seed


def draw_alignment(ax, rows: list[dict], metric: str, layer: str,
                   controls: Collection[str] = (), colours: dict | None = None,
                   legend: bool = True, label_rows: list[dict] | None = None,
                   ) -> Key | None:  # fmt: skip
    """Same-seed (live, solid), different-seed (cross-run, dashed) and seed-vs-seed (dash-dot)
    values of ``metric`` at ``layer`` (a pair of differently named layers, ``fc1~h3``, from
    either model's side), each pair in its own colour; the controls in grey: the chance value
    (permutation null, ``<metric>_null`` rows), the untrained networks (``untrained``), pairs
    with a shuffled-label member of ``controls``, other control rows. The legend (outside,
    right) unless ``legend=False``; ``label_rows``: rows that tell how many spectral bands
    there are (default ``rows``). Returns the panel's :class:`Key`, None when nothing drawn."""
    q = quantity(metric)
    mine = [r for r in rows if r["layer"] in (layer, swap_layers(layer)) and r["epoch"] is not None]
    live = [r for r in mine if r["metric"] == metric and r["source"] == "live" and _pair(r["arch"])]
    cross = [r for r in mine if r["metric"] == CROSS_PREFIX + metric and r["source"] == "cross_run"]
    cross = _oriented(cross, [r["arch"] for r in live])
    kept = set(_baselines([r["arch"] for r in live], [r["arch"] for r in cross]))
    cross = [r for r in cross if r["arch"] in kept]
    other = [r for r in mine if r["source"] not in SOURCES
             and r["metric"] in (metric, CROSS_PREFIX + metric)]  # fmt: skip
    if not (live or cross or other):
        return None
    key = Key()
    subjects = alignment_subjects(mine, metric, controls)
    if colours is None:
        colours = dict(zip(subjects, distinct_colours(len(subjects)), strict=True))
    for arch in dict.fromkeys([r["arch"] for r in live] + [r["arch"] for r in cross]):
        control = is_control(arch, controls)
        name = _pair_name(arch, q.symmetric) if _pair(arch) else f"{short(arch)}, seed vs seed"
        colour = None if control else colours[arch]
        for kind, sel in (("same seed", [r for r in live if r["arch"] == arch]),
                          ("different seeds", [r for r in cross if r["arch"] == arch])):  # fmt: skip
            if not sel:
                continue
            if not _pair(arch):
                kind = "seed vs seed"
            _series(ax, sel, key, f"{name}, {kind}", colour, KIND_STYLE[kind], control)
            if control:
                key.control("shuffled labels")
            else:
                key.colour(name, colour, KIND_STYLE[kind] if kind == "seed vs seed" else "-")
                if kind != "seed vs seed":
                    key.styles[kind] = KIND_STYLE[kind]
    for arch in dict.fromkeys(r["arch"] for r in live):  # the same-seed values' controls
        null = [r for r in mine if r["metric"] == f"{metric}_null" and r["arch"] == arch]
        if null:
            _series(ax, null, key, f"{_pair_name(arch, q.symmetric)}, chance", control=True)
            key.control("chance")
        untrained = [dict(r, mean=_float(r.get("untrained"))) for r in live if r["arch"] == arch]
        if untrained and all(np.isfinite(r["mean"]) for r in untrained):
            _series(ax, untrained, key, f"{_pair_name(arch, q.symmetric)}, untrained",
                    control=True)  # fmt: skip
            key.control("untrained")
    for source, arch in dict.fromkeys((r["source"], r["arch"]) for r in other):
        sel = [r for r in other if (r["source"], r["arch"]) == (source, arch)]
        _series(ax, sel, key, f"control {source}: {arch}", control=True)
        key.control(source)
    _epoch_axis(ax)
    ax.set_ylabel(axis_label(metric, rows if label_rows is None else label_rows), fontsize=8)
    ax.set_title(f"layer {layer}", fontsize=9)
    if legend:
        key.place(ax)
    return key


def draw_accuracy(ax, rows: list[dict], controls: Collection[str] = ()) -> Key | None:
    """Validation accuracy vs epochs trained of every architecture that is not a control."""
    acc = [r for r in rows if r["metric"] == "val_acc" and r["source"] == "live"
           and not is_control(r["arch"], controls)]  # fmt: skip
    key = Key()
    archs = list(dict.fromkeys(r["arch"] for r in acc))
    for arch, colour in zip(archs, distinct_colours(len(archs)), strict=True):
        _series(ax, [r for r in acc if r["arch"] == arch], key, short(arch), colour)
        key.colour(short(arch), colour)
    _epoch_axis(ax)
    ax.set(ylabel=quantity("val_acc").label, title="accuracy")
    key.place(ax)
    return key if acc else None


def draw_control_accuracy(ax, rows: list[dict], controls: Collection[str]) -> Key | None:
    """Validation accuracy of the shuffled-label control members, on their own axis."""
    acc = [r for r in rows if r["metric"] == "val_acc" and r["source"] == "live"
           and is_control(r["arch"], controls)]  # fmt: skip
    if not acc:
        return None
    key = Key()
    for arch in dict.fromkeys(r["arch"] for r in acc):
        _series(ax, [r for r in acc if r["arch"] == arch], key, arch, control=True)
    key.control(", ".join(dict.fromkeys(short(r["arch"]) for r in acc)))
    _epoch_axis(ax)
    ax.set(ylabel=quantity("val_acc").label, title="accuracy of the shuffled-label controls")
    key.place(ax)
    return key


def draw_stability(ax, rows: list[dict], controls: Collection[str] = ()) -> Key | None:
    """Seed-vs-seed linear CKA per layer at the last epoch, one line per architecture."""
    metric = CROSS_PREFIX + "linear_cka"
    mine = [r for r in rows if r["metric"] == metric and not _pair(r["arch"]) and r["layer"]]
    if not mine:
        return None
    last = max(r["epoch"] for r in mine)
    mine = [r for r in mine if r["epoch"] == last]
    layers = sorted({r["layer"] for r in mine}, key=layer_order)
    archs = list(dict.fromkeys(r["arch"] for r in mine))
    coloured = [a for a in archs if not is_control(a, controls)]
    colours = dict(zip(coloured, distinct_colours(len(coloured)), strict=True))
    key = Key()
    for arch in archs:
        by = {r["layer"]: r for r in mine if r["arch"] == arch}
        x = [i for i, layer in enumerate(layers) if layer in by]
        sel = [by[layers[i]] for i in x]
        y = np.array([r["mean"] for r in sel])
        if arch not in colours:
            ax.plot(x, y, label=arch, **CONTROL_STYLE)
            key.control("shuffled labels")
            continue
        err = np.vstack([y - [r["ci_low"] for r in sel], [r["ci_high"] for r in sel] - y])
        ok = np.array([int(r["n"]) >= MIN_BAND_N for r in sel])
        key.banded |= bool(ok.any())
        key.seeds |= {int(r["n"]) for r in sel}
        err = np.where(np.isfinite(err) & ok, err, 0.0)
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=colours[arch], label=short(arch))
        key.colour(short(arch), colours[arch])
    ax.set_xticks(range(len(layers)), layers)
    ax.set(xlabel="layer", title=f"cross-seed stability (epoch {last})")
    ax.set_ylabel(axis_label(metric), fontsize=8)
    ax.grid(alpha=0.3)
    key.place(ax)
    return key


def layer_cka_matrix(rows: list[dict], arch: str) -> tuple[list[str], np.ndarray, int] | None:
    """Mean layer x layer linear CKA of ``arch`` at its last snapshot epoch."""
    mine = [r for r in rows if r["metric"] == "layer_cka" and r["source"] == "live"
            and r["arch"] == arch]  # fmt: skip
    if not mine:
        return None
    last = max(r["epoch"] for r in mine)
    mine = [r for r in mine if r["epoch"] == last]
    pairs = [tuple(r["layer"].split("~")) if "~" in r["layer"] else (r["layer"],) * 2 for r in mine]
    labels = sorted({p for pair in pairs for p in pair}, key=layer_order)
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.full((len(labels), len(labels)), np.nan)
    for (la, lb), r in zip(pairs, mine, strict=True):
        matrix[index[la], index[lb]] = matrix[index[lb], index[la]] = r["mean"]
    return labels, matrix, last


# --------------------------------------------------------------------------- figures
def legend_room(rows: list[dict], controls: Collection[str] = ()) -> tuple[float, float]:
    """(width, height) in inches that the largest legend of ``rows``'s panels needs: one entry
    per coloured architecture or pair of a panel plus the style and control entries."""
    panels = [
        [short(a) for a in dict.fromkeys(r["arch"] for r in rows if r["metric"] == "val_acc")],
        *(
            [_pair_name(a, True) if _pair(a) else f"{short(a)}, seed vs seed"
             for a in alignment_subjects(rows, metric, controls)]
            for metric in {r["metric"].removeprefix(CROSS_PREFIX) for r in rows}
        ),
    ]  # fmt: skip
    names = max(panels, key=lambda p: sum(-(-len(n) // LEGEND_WIDTH) for n in p))
    entries = len(names) + 4
    chars = min(LEGEND_WIDTH, max((len(n) for n in names), default=10))
    lines = sum(-(-len(n) // LEGEND_WIDTH) for n in names) + 5
    ncols = 1 if entries <= LEGEND_ROWS else 2
    char_in = LEGEND_FONT * 0.6 / 72
    return ncols * (chars * char_in + 0.45), (lines / ncols) * LEGEND_FONT * 1.6 / 72 + 0.6


def _by_dataset(summary: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in summary:
        out.setdefault(r["dataset"], []).append(r)
    return out


def _note(fig, notes: list[str], width_in: float) -> None:
    """Notes (what A→B means) under the panels, wrapped to the figure's width."""
    if notes:
        chars = max(40, int(width_in * 72 / (7 * 0.55)))
        fig.supxlabel(textwrap.fill(" ".join(notes), chars), fontsize=7, ha="center")


def _direction(metric: str) -> list[str]:
    q = quantity(metric)
    if q.symmetric or not q.direction:
        return []
    return [f"{q.label.split(' (')[0]} A→B: {q.direction}."]


def _one_per_pair(layers: Iterable[str]) -> list[str]:
    """Layers in order, a pair of differently named layers once (``fc1~h3`` or ``h3~fc1``)."""
    out: list[str] = []
    for layer in sorted(set(layers), key=layer_order):
        if swap_layers(layer) not in out:
            out.append(layer)
    return out


def alignment_figures(summary: list[dict], out: Path, controls: Collection[str] = ()) -> list[Path]:
    """One figure per (dataset, alignment metric): a panel per layer with the same-seed,
    different-seed, seed-vs-seed and control values; one legend, right of the last panel."""
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        metrics = {r["metric"].removeprefix(CROSS_PREFIX) for r in rows
                   if r["source"] != "final" and headline(r["metric"]) and r["layer"]
                   and (r["source"] != "live" or _pair(r["arch"]))}  # fmt: skip
        for metric in sorted(metrics):
            relevant = [r for r in rows if r["metric"].removeprefix(CROSS_PREFIX)
                        in (metric, f"{metric}_null")]  # fmt: skip
            layers = _one_per_pair(r["layer"] for r in relevant if r["layer"])
            subjects = alignment_subjects(relevant, metric, controls)
            colours = dict(zip(subjects, distinct_colours(len(subjects)), strict=True))
            room_w, room_h = legend_room(relevant, controls)
            width = 3.6 * len(layers) + room_w + 0.4
            fig, axes = plt.subplots(1, len(layers), figsize=(width, max(3.6, room_h)),
                                     squeeze=False, sharey=True, layout="constrained")  # fmt: skip
            key = Key()
            for ax, layer in zip(axes[0], layers, strict=True):
                drawn = draw_alignment(ax, relevant, metric, layer, controls, colours, False, rows)
                if drawn:
                    key.merge(drawn)
            for ax in axes[0][1:]:
                ax.set_ylabel("")
            key.place(axes[0][-1])
            fig.suptitle(f"{ds}: {metric_label(metric, rows)}", fontsize=10)
            _note(fig, _direction(metric), width)
            paths.append(save_figure(fig, out / f"{_safe(ds)}_{_safe(metric)}.png"))
    return paths


def _single(summary: list[dict], out: Path, suffix: str, draws: list[Callable]) -> list[Path]:
    """One figure per dataset with a panel per drawing function that drew something."""
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        room_w, room_h = legend_room(rows)
        fig, axes = plt.subplots(1, len(draws), figsize=((4.0 + room_w) * len(draws),
                                 max(3.8, room_h)), squeeze=False, layout="constrained")  # fmt: skip
        drawn = [bool(draw(ax, rows)) for ax, draw in zip(axes[0], draws, strict=True)]
        if not drawn[0]:
            plt.close(fig)
            continue
        for ax, ok in zip(axes[0], drawn, strict=True):
            if not ok:
                fig.delaxes(ax)
        fig.suptitle(f"{ds}: {axes[0][0].get_title()}", fontsize=10)
        paths.append(save_figure(fig, out / f"{_safe(ds)}_{suffix}.png"))
    return paths


def accuracy_curves(summary: list[dict], out: Path, controls: Collection[str] = ()) -> list[Path]:
    """Validation accuracy vs epochs trained per architecture; the shuffled-label controls in a
    panel of their own."""
    return _single(summary, out, "accuracy", [
        lambda ax, r: draw_accuracy(ax, r, controls),
        lambda ax, r: draw_control_accuracy(ax, r, controls),
    ])  # fmt: skip


def stability(summary: list[dict], out: Path, controls: Collection[str] = ()) -> list[Path]:
    """Seed-vs-seed linear CKA vs layer at the last epoch, one line per architecture."""
    return _single(summary, out, "stability", [lambda ax, r: draw_stability(ax, r, controls)])


def layer_heatmaps(summary: list[dict], out: Path) -> list[Path]:
    """Layer x layer linear CKA, one panel per architecture (mean over seeds, last epoch)."""
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        archs = list(dict.fromkeys(r["arch"] for r in rows if r["metric"] == "layer_cka"))
        mats = [(a, m) for a in archs if (m := layer_cka_matrix(rows, a)) is not None]
        if not mats:
            continue
        fig, axes = plt.subplots(1, len(mats), figsize=(3.8 * len(mats) + 0.8, 3.6),
                                 squeeze=False, layout="constrained")  # fmt: skip
        for ax, (arch, (labels, matrix, last)) in zip(axes[0], mats, strict=True):
            heatmap_axes(ax, matrix, labels, f"{short(arch)} (epoch {last})")
        fig.suptitle(f"{ds}: layer x layer linear CKA (mean over seeds)", fontsize=10)
        paths.append(save_figure(fig, out / f"{_safe(ds)}_layer_cka.png"))
    return paths


def epoch_cka_figures(epoch_cka: list[dict], out: Path) -> list[Path]:
    """Training dynamics: one figure per (dataset, architecture), a heatmap per layer of the
    linear CKA between every two snapshots (mean over seeds; :mod:`xmsem.analysis.dynamics`;
    rows carry dataset, arch, layer, epoch_a, epoch_b, mean and n)."""
    from xmsem.analysis.dynamics import matrix_of, panels

    paths = []
    for (ds, arch), layers in panels(epoch_cka).items():
        size = max(3.4, 0.35 * max(len(matrix_of(epoch_cka, ds, arch, la)[0]) for la in layers) + 2)
        fig, axes = plt.subplots(1, len(layers), figsize=((size + 0.8) * len(layers), size),
                                 squeeze=False, layout="constrained")  # fmt: skip
        for ax, layer in zip(axes[0], layers, strict=True):
            epochs, matrix = matrix_of(epoch_cka, ds, arch, layer)
            heatmap_axes(ax, matrix, [str(e) for e in epochs], f"layer {layer}")
            ax.set(xlabel="epochs trained", ylabel="epochs trained")
        n = max(int(r["n"]) for r in epoch_cka if (r["dataset"], r["arch"]) == (ds, arch))
        over = f" (mean over {n} seeds)" if n > 1 else ""
        fig.suptitle(textwrap.fill(f"{ds}: {arch}, linear CKA between its snapshots{over}",
                                   int(fig.get_figwidth() * 72 / (10 * 0.6))), fontsize=10)  # fmt: skip
        paths.append(save_figure(fig, out / f"{_safe(ds)}_epoch_cka_{_safe(arch)}.png"))
    return paths


def _deepest_shared(rows: list[dict]) -> str | None:
    """The deepest layer both models of a pair have by name; for models whose layers are named
    differently (a CNN next to an MLP), the deepest pair of layers compared (``fc1~h3``)."""
    live = [r["layer"] for r in rows if r["metric"] == "linear_cka" and r["source"] == "live"
            and _pair(r["arch"]) and r["layer"]]  # fmt: skip
    layers = [layer for layer in live if "~" not in layer] or live
    if not layers:
        layers = [r["layer"] for r in rows if r["metric"] == CROSS_PREFIX + "linear_cka"
                  and r["layer"]]  # fmt: skip
    return max(layers, key=layer_order) if layers else None


def summary_figures(summary: list[dict], out: Path, controls: Collection[str] = ()) -> list[Path]:
    """The study on one page per dataset: accuracy (the shuffled-label controls in a panel of
    their own); linear CKA, probe transfer and stitching (same seed vs different seeds, deepest
    shared layer); cross-seed stability; layer CKA."""
    paths = []
    for ds, rows in sorted(_by_dataset(summary).items()):
        layer = _deepest_shared(rows)
        panels: list[Callable] = []
        accuracy = {is_control(r["arch"], controls) for r in rows
                    if r["metric"] == "val_acc" and r["source"] == "live"}  # fmt: skip
        if False in accuracy:
            panels.append(lambda ax, r=rows: draw_accuracy(ax, r, controls))
        if True in accuracy:
            panels.append(lambda ax, r=rows: draw_control_accuracy(ax, r, controls))
        notes = []
        for metric in headline_metrics():
            if layer and any(r["metric"] in (metric, CROSS_PREFIX + metric) for r in rows):
                panels.append(
                    lambda ax, m=metric, r=rows, lay=layer: _titled(
                        ax,
                        draw_alignment(ax, r, m, _layer_of(r, m, lay), controls),
                        metric_label(m, r),
                    )
                )
                notes += _direction(metric)
        if any(r["metric"] == CROSS_PREFIX + "linear_cka" and not _pair(r["arch"]) for r in rows):
            panels.append(lambda ax, r=rows: draw_stability(ax, r, controls))
        arch = next((r["arch"] for r in rows if r["metric"] == "layer_cka"
                     and not is_control(r["arch"], controls)), None)  # fmt: skip
        if arch is not None:
            labels, matrix, last = layer_cka_matrix(rows, arch)
            panels.append(
                lambda ax, a=arch, lab=labels, m=matrix, e=last: (
                    heatmap_axes(ax, m, lab, f"{short(a)}: layer x layer CKA (epoch {e})") or True
                )
            )
        room_w, room_h = legend_room(rows, controls)
        col_width = 4.0 + room_w
        cols = max(1, min(3 if col_width <= 7.0 else 2, len(panels)))
        nrows = -(-len(panels) // cols)
        width = col_width * cols
        fig, axes = plt.subplots(nrows, cols, figsize=(width, max(3.9, room_h) * nrows),
                                 squeeze=False, layout="constrained")  # fmt: skip
        for ax, draw in zip(axes.flat, panels, strict=False):
            if not draw(ax):
                fig.delaxes(ax)  # nothing to show: no empty titled panel
        for ax in list(axes.flat)[len(panels) :]:
            fig.delaxes(ax)
        at = f" (alignment at layer {layer})" if layer else ""
        fig.suptitle(f"{ds}: study summary{at}", fontsize=11)
        _note(fig, notes, width)
        paths.append(save_figure(fig, out / f"{_safe(ds)}_summary.png"))
    return paths


def _layer_of(rows: list[dict], metric: str, layer: str) -> str:
    """``layer``, or the deepest layer (pair) the metric was measured at (stitching: primary)."""
    have = {r["layer"] for r in rows if r["metric"] in (metric, CROSS_PREFIX + metric)
            and r["layer"]}  # fmt: skip
    if layer in have or swap_layers(layer) in have or not have:
        return layer
    return max(have, key=layer_order)


def _titled(ax, drawn, title: str):
    if drawn:
        ax.set_title(textwrap.fill(f"{title} — layer {ax.get_title().removeprefix('layer ')}", 60),
                     fontsize=9)  # fmt: skip
    return drawn


def all_figures(summary: list[dict], out: Path, controls: Collection[str] = (),
                epoch_cka: list[dict] | None = None) -> list[Path]:  # fmt: skip
    """Every figure of the analysis into ``out`` (created); the PNG paths (a PDF beside each).
    ``controls``: the architectures of the shuffled-label control members (drawn grey);
    ``epoch_cka``: :func:`xmsem.analysis.dynamics.summarize` rows (training dynamics)."""
    out.mkdir(parents=True, exist_ok=True)
    return (
        summary_figures(summary, out, controls)
        + accuracy_curves(summary, out, controls)
        + stability(summary, out, controls)
        + layer_heatmaps(summary, out)
        + epoch_cka_figures(epoch_cka or [], out)
        + alignment_figures(summary, out, controls)
    )


def figure_files(paths: Iterable[Path]) -> list[Path]:
    """Every file written for ``paths``: the PNG and its PDF."""
    return [f for p in paths for f in (p, p.with_suffix(".pdf"))]
