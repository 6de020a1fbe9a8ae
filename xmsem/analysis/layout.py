"""Layout check of a matplotlib figure: does it read like a paper's figure?

:func:`layout_problems` draws the figure with its own renderer and returns one line per problem:

* **text outside the canvas**: every visible, non-empty text artist (titles, axis and tick
  labels, legend texts, notes, cell annotations) has its window extent inside the figure's
  bounding box (a clipped y-label is such a text);
* **a legend over the data**: a legend that overlaps its axes holds at most
  ``MAX_INSIDE_ENTRIES`` entries and covers no plotted point or line segment (lines, error
  bars, markers); a figure legend overlaps no axes' plotting area;
* **repeated looks**: within a panel, no two legend entries share colour, line style and
  marker; and no two non-control lines of different labels share one colour and style;
* **controls in one style**: artists marked as controls (``gid="control"``) are all drawn in
  one grey and one line style, and the legend names them in ONE entry that starts with
  "controls";
* **bands named in words**: no text says "band 0" / "band0" (say "low frequency").

:func:`checking_layout` checks every figure :func:`xmsem.analysis.plots.save_figure` saves in
its block (the tests use it on every figure of a tiny sweep).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Text

MAX_INSIDE_ENTRIES = 4  # a legend inside its axes may hold this many entries at most
CONTROL_GID = "control"  # gid of every artist that draws a control (null, untrained, shuffled)
TOLERANCE_PX = 1.0  # rounding of text extents
_BAND_NUMBER = re.compile(r"\bband\s*\d", re.IGNORECASE)

# the open checking_layout blocks (save_figure calls each through on_save)
_CHECKERS: list = []


def _undrawn_tick_labels(fig: Figure) -> set[int]:
    """ids of the axis texts that are never drawn: tick labels matplotlib keeps for ticks outside
    the view limits, and every axis text of an axes whose axis is off."""
    out: set[int] = set()
    for ax in fig.axes:
        if not (ax.get_visible() and ax.axison):  # axis off: none of its axis texts is drawn
            for axis in (ax.xaxis, ax.yaxis):
                texts = [axis.label, axis.offsetText, *axis.get_ticklabels(which="both")]
                out |= {id(t) for t in texts}
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            tol = 1e-9 * max(1.0, abs(hi - lo))
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                loc = tick.get_loc()
                if loc is None or not lo - tol <= loc <= hi + tol:
                    out |= {id(tick.label1), id(tick.label2)}
    return out


def _texts(fig: Figure) -> list[Text]:
    undrawn = _undrawn_tick_labels(fig)
    return [
        t for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in undrawn
        and (t.axes is None or (t.axes.get_visible() and t.axes.axison))
    ]  # fmt: skip


def _text_name(t: Text) -> str:
    text = " ".join(t.get_text().split())
    return text if len(text) <= 50 else text[:47] + "..."


def _data_points(ax: Axes) -> np.ndarray:
    """Display coordinates of every plotted point of ``ax`` and points along each segment (a
    legend box over a line between two markers hides the line), inside the axes only."""
    chunks = []
    for line in ax.get_lines():
        if not line.get_visible() or line.get_gid() == "legend-proxy":
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        if len(xy):
            chunks.append(_densify(line.get_transform().transform(xy)))
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                if len(seg):
                    chunks.append(_densify(coll.get_transform().transform(np.asarray(seg))))
        elif isinstance(coll, PathCollection):
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            if len(offsets):
                chunks.append(coll.get_offset_transform().transform(offsets))
    if not chunks:
        return np.empty((0, 2))
    points = np.vstack(chunks)
    points = points[np.isfinite(points).all(axis=1)]
    box = ax.bbox
    inside = (
        (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
        & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
    )  # fmt: skip
    return points[inside]


def _densify(xy: np.ndarray, step: float = 2.0) -> np.ndarray:
    """Points every ``step`` pixels along the polyline ``xy`` (display coordinates)."""
    out = [xy]
    for p, q in zip(xy[:-1], xy[1:], strict=True):
        if not (np.isfinite(p).all() and np.isfinite(q).all()):
            continue
        k = int(np.hypot(*(q - p)) // step)
        if k > 1:
            t = np.linspace(0.0, 1.0, k + 1)[1:-1, None]
            out.append(p + t * (q - p))
    return np.vstack(out)


def _legend_entries(legend: Legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts() if t.get_text().strip()]


def _look(handle) -> tuple:
    colour = handle.get_color() if hasattr(handle, "get_color") else None
    if colour is None and hasattr(handle, "get_facecolor"):
        colour = handle.get_facecolor()
    colour = np.asarray(colour, dtype=object).tolist() if colour is not None else None
    try:
        rgba = tuple(round(c, 3) for c in to_rgba(colour))
    except (ValueError, TypeError):
        rgba = tuple(np.round(np.asarray(to_rgba(np.asarray(colour)[0])), 3)) if colour else None
    style = handle.get_linestyle() if hasattr(handle, "get_linestyle") else None
    marker = handle.get_marker() if hasattr(handle, "get_marker") else None
    return rgba, str(style), str(marker)


def _inside(inner, outer, tol: float = TOLERANCE_PX) -> bool:
    return (
        inner.x0 >= outer.x0 - tol and inner.y0 >= outer.y0 - tol
        and inner.x1 <= outer.x1 + tol and inner.y1 <= outer.y1 + tol
    )  # fmt: skip


def _legend_problems(ax: Axes, legend: Legend, renderer, where: str) -> list[str]:
    problems = []
    box = legend.get_window_extent(renderer)
    entries = _legend_entries(legend)
    if not box.overlaps(ax.bbox):
        return problems
    if len(entries) > MAX_INSIDE_ENTRIES:
        problems.append(f"{where}: a legend of {len(entries)} entries inside the axes "
                        f"(at most {MAX_INSIDE_ENTRIES}; put it outside)")  # fmt: skip
    points = _data_points(ax)
    covered = (
        (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
        & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
    )  # fmt: skip
    if covered.any():
        problems.append(f"{where}: the legend covers {int(covered.sum())} plotted points")
    return problems


def _axes_name(ax: Axes, i: int) -> str:
    title = ax.get_title() or ax.get_title(loc="left")
    return f"panel {i + 1}" + (f" ({_text_name(ax.title)})" if title else "")


def _panel_looks(ax: Axes, where: str) -> list[str]:
    """Distinct looks of the legend entries and of the labelled non-control lines."""
    problems = []
    legend = ax.get_legend()
    if legend is not None:
        seen: dict[tuple, str] = {}
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=False):
            if handle is None:
                continue
            look = _look(handle)
            if look in seen and seen[look] != text.get_text():
                problems.append(f"{where}: legend entries {seen[look]!r} and {text.get_text()!r} "
                                "look the same")  # fmt: skip
            seen.setdefault(look, text.get_text())
    colours: dict[tuple, str] = {}
    for line in ax.get_lines():
        label = line.get_label()
        if line.get_gid() == CONTROL_GID or not label or label.startswith("_"):
            continue
        look = (_look(line)[0], str(line.get_linestyle()))
        if look in colours and colours[look] != label:
            problems.append(
                f"{where}: lines {colours[look]!r} and {label!r} share colour and style"
            )
        colours.setdefault(look, label)
    return problems


def _control_problems(fig: Figure) -> list[str]:
    problems = []
    looks = set()
    for artist in fig.findobj(lambda a: a.get_gid() == CONTROL_GID):
        if isinstance(artist, Line2D):
            looks.add((_look(artist)[0], str(artist.get_linestyle())))
    if len(looks) > 1:
        problems.append(f"controls are drawn in {len(looks)} styles (one grey style expected)")
    for i, ax in enumerate(fig.axes):
        legend = ax.get_legend()
        has_control = any(a.get_gid() == CONTROL_GID for a in ax.get_children())
        if legend is None or not has_control:
            continue
        named = [t for t in _legend_entries(legend) if t.lower().startswith("controls")]
        if len(named) != 1:
            problems.append(f"{_axes_name(ax, i)}: {len(named)} legend entries named 'controls' "
                            "(one expected)")  # fmt: skip
    return problems


def layout_problems(fig: Figure) -> list[str]:
    """Every layout problem of ``fig`` (module doc), one line each; [] when it passes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    problems = []
    for t in _texts(fig):
        box = t.get_window_extent(renderer)
        if box.width == 0 and box.height == 0:
            continue
        if not _inside(box, canvas):
            problems.append(f"text {_text_name(t)!r} is outside the canvas")
        if _BAND_NUMBER.search(t.get_text()):
            problems.append(f"text {_text_name(t)!r} names a band by number (use words)")
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    for i, ax in enumerate(axes):
        where = _axes_name(ax, i)
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            problems += _legend_problems(ax, legend, renderer, where)
        problems += _panel_looks(ax, where)
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        for i, ax in enumerate(axes):
            if box.overlaps(ax.bbox) and len(_data_points(ax)):
                problems.append(f"the figure legend overlaps {_axes_name(ax, i)}")
    problems += _control_problems(fig)
    return problems


class LayoutError(AssertionError):
    """A figure that fails :func:`layout_problems`."""


def check_layout(fig: Figure, name: str = "figure") -> None:
    """Raise :class:`LayoutError` listing every problem of ``fig``."""
    problems = layout_problems(fig)
    if problems:
        raise LayoutError(f"{name}: " + "; ".join(problems))


@contextmanager
def checking_layout() -> Iterator[dict[Path, list[str]]]:
    """Within the block, every figure saved by :func:`xmsem.analysis.plots.save_figure` is checked
    before it is closed; yields ``{png path: problems}`` (filled as figures are saved)."""
    found: dict[Path, list[str]] = {}

    def check(fig: Figure, path: Path) -> None:
        found[Path(path)] = layout_problems(fig)

    _CHECKERS.append(check)
    try:
        yield found
    finally:
        _CHECKERS.remove(check)


def on_save(fig: Figure, path: Path) -> None:
    """Called by :func:`~xmsem.analysis.plots.save_figure` before it closes ``fig``: runs the
    checks of every open :func:`checking_layout` block (none: nothing, no extra drawing)."""
    for check in list(_CHECKERS):
        check(fig, path)
