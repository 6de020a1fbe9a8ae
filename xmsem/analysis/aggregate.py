"""Aggregation per dataset x arch x epoch x layer x metric (x source) into ``summary.csv`` (long
format): mean, std, the seed-level standard error and 95% interval of :mod:`xmsem.analysis.stats`
(t-interval by default, BCa on request; the delete-one-seed jackknife where a value involves
several seed units), n = independent seed units, n_values, n_nonfinite, and ``untrained`` = the
group's mean at epoch 0 (the same measurement on the untrained networks).

Sources: ``live`` (the runs' own metrics/alignment.csv and CSV logs, one value per run),
``cross_run`` (one value per pair of instances), ``final`` (status.json, one value per instance).
A value row may carry ``units`` (the seed units it involves, default: its own) and ``run``
(listed in :func:`nonfinite_rows` when the value is not finite).
"""

from __future__ import annotations

import csv
import io
import math
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from xmsem.analysis.stats import Estimate, jackknife_difference, paired_difference, summarize
from xmsem.runs.atomic import atomic_write_text

SUMMARY_COLUMNS = (
    "dataset",
    "arch",
    "epoch",
    "layer",
    "metric",
    "mean",
    "std",
    "se",
    "ci_low",
    "ci_high",
    "n",
    "n_values",
    "n_nonfinite",
    "method",
    "note",
    "untrained",
    "source",
)
GROUP_KEYS = ("dataset", "arch", "epoch", "layer", "metric", "source")
NONFINITE_COLUMNS = GROUP_KEYS + ("run", "value")
PAIRED_COLUMNS = (
    "dataset",
    "arch_a",
    "arch_b",
    "epoch",
    "layer",
    "metric",
    "source",
    "n",
    "mean_a",
    "mean_b",
    "mean_diff",
    "sd_diff",
    "ci_low",
    "ci_high",
    "t",
    "p_value",
    "cohens_dz",
    "n_nonfinite",
    "method",
    "note",
)
_FLOATS = ("mean", "std", "se", "ci_low", "ci_high", "untrained")
_INTS = ("n", "n_values", "n_nonfinite")


def describe(
    values: Iterable[float],
    resamples: int = 1000,
    seed: int = 0,
    key: str = "",
    units: Iterable[Iterable] | None = None,
    method: str = "t",
) -> Estimate:
    """The :class:`~xmsem.analysis.stats.Estimate` of ``values`` (None counts as non-finite).

    The BCa generator is seeded with ``(seed, crc32(key))``: a group's interval does not depend
    on which other groups exist or on their order."""
    vals = [math.nan if v is None else float(v) for v in values]
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    return summarize(vals, units=units, method=method, resamples=resamples, rng=rng)


def _group_key(row: Mapping) -> tuple:
    return tuple(None if row.get(k) in ("", None) else row.get(k) for k in GROUP_KEYS)


def _units(row: Mapping, index: int) -> tuple:
    units = row.get("units")
    return tuple(units) if units else (("row", index),)


def aggregate(
    rows: Iterable[Mapping], resamples: int = 1000, seed: int = 0, method: str = "t"
) -> list[dict]:
    """Summary rows (``SUMMARY_COLUMNS``) of value rows carrying ``GROUP_KEYS`` and ``value``
    (and optionally ``units``)."""
    groups: dict[tuple, tuple[list[float], list[tuple]]] = {}
    for i, row in enumerate(rows):
        values, units = groups.setdefault(_group_key(row), ([], []))
        value = row.get("value")
        values.append(math.nan if value in (None, "") else float(value))
        units.append(_units(row, i))
    out = []
    for key, (values, units) in groups.items():
        stat = describe(values, resamples, seed, "|".join(map(str, key)), units, method)
        entry = dict(zip(GROUP_KEYS, key, strict=True))
        entry.update(
            mean=stat.mean, std=stat.std, se=stat.se, ci_low=stat.ci_low, ci_high=stat.ci_high,
            n=stat.n, n_values=stat.n_values, n_nonfinite=stat.n_nonfinite, method=stat.method,
            note=stat.note,
        )  # fmt: skip
        out.append(entry)
    _add_untrained(out)
    out.sort(key=_sort_key)
    return out


def _add_untrained(summary: list[dict]) -> None:
    """``untrained``: the mean of the same (dataset, arch, layer, metric, source) at epoch 0."""
    at0 = {
        (r["dataset"], r["arch"], r["layer"], r["metric"], r["source"]): r["mean"]
        for r in summary
        if r["epoch"] not in (None, "") and int(r["epoch"]) == 0
    }
    for r in summary:
        ref = None
        if r["epoch"] not in (None, ""):
            ref = at0.get((r["dataset"], r["arch"], r["layer"], r["metric"], r["source"]))
        r["untrained"] = math.nan if ref is None else ref


def paired_comparisons(
    rows: Iterable[Mapping], comparisons: Iterable[tuple[str, str]]
) -> list[dict]:
    """``arch_a - arch_b`` by seed unit for every (dataset, epoch, layer, metric, source) both
    architectures have (``PAIRED_COLUMNS``).

    Values of one unit each (test accuracy, probe accuracy of a run): paired differences over the
    units both have (same run seed and copy), t-interval, paired t-test, Cohen's d_z (method
    ``paired-t``). Values involving several units (seed-vs-seed CKA): the delete-one-unit
    jackknife of the difference of the two means (method ``jackknife``)."""
    wanted = list(dict.fromkeys(comparisons))
    archs = {a for pair in wanted for a in pair}
    cells: dict[tuple, dict[str, list[tuple[float, tuple]]]] = {}
    for i, row in enumerate(rows):
        if row.get("arch") not in archs:
            continue
        d, arch, epoch, layer, metric, source = _group_key(row)
        value = row.get("value")
        value = math.nan if value in (None, "") else float(value)
        cell = cells.setdefault((d, epoch, layer, metric, source), {})
        cell.setdefault(arch, []).append((value, _units(row, i)))
    out = []
    for (d, epoch, layer, metric, source), by_arch in cells.items():
        for arch_a, arch_b in wanted:
            if arch_a not in by_arch or arch_b not in by_arch:
                continue
            va, vb = by_arch[arch_a], by_arch[arch_b]
            single = all(len(u) == 1 for _, u in va + vb)
            if single:
                res, method = paired_difference(_per_unit(va), _per_unit(vb)), "paired-t"
            else:
                res, method = jackknife_difference(va, vb), "jackknife"
            entry = {"dataset": d, "arch_a": arch_a, "arch_b": arch_b, "epoch": epoch,
                     "layer": layer, "metric": metric, "source": source, "method": method}  # fmt: skip
            entry.update(
                n=res.n, mean_a=res.mean_a, mean_b=res.mean_b, mean_diff=res.mean_diff,
                sd_diff=res.sd_diff, ci_low=res.ci_low, ci_high=res.ci_high, t=res.t,
                p_value=res.p_value, cohens_dz=res.cohens_dz, n_nonfinite=res.n_nonfinite,
                note="" if res.note == "jackknife" else res.note,
            )  # fmt: skip
            out.append(entry)
    out.sort(key=lambda r: (_sort_key(dict(r, arch=r["arch_a"])), r["arch_b"]))
    return out


def _per_unit(values: list[tuple[float, tuple]]) -> dict:
    """unit -> value (the mean where a unit has several values, NaN if any is not finite)."""
    by: dict = {}
    for value, units in values:
        by.setdefault(units[0], []).append(value)
    return {u: float(np.mean(v)) for u, v in by.items()}


def nonfinite_rows(rows: Iterable[Mapping]) -> list[dict]:
    """Every value row whose value is missing or not finite (``NONFINITE_COLUMNS``)."""
    out = []
    for row in rows:
        value = row.get("value")
        number = math.nan if value in (None, "") else float(value)
        if not math.isfinite(number):
            entry = dict(zip(GROUP_KEYS, _group_key(row), strict=True))
            entry.update(run=row.get("run") or "", value=str(number))
            out.append(entry)
    out.sort(key=lambda r: (_sort_key(r), r["run"]))
    return out


def read_paired(path: Path) -> list[dict]:
    """``paired.csv`` back as rows (numbers as floats/ints, empty cells as NaN / None)."""
    out = []
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            for key in PAIRED_COLUMNS[8:17]:
                row[key] = float(row[key]) if row[key] else math.nan
            row["n"], row["n_nonfinite"] = int(row["n"]), int(float(row["n_nonfinite"]))
            row["epoch"] = int(row["epoch"]) if row["epoch"] else None
            out.append(row)
    return out


def _sort_key(row: Mapping) -> tuple:
    epoch = row.get("epoch")
    return (
        str(row["source"]),
        str(row["dataset"]),
        str(row["arch"]),
        str(row["metric"]),
        -1 if epoch in ("", None) else int(epoch),
        layer_order(str(row.get("layer") or "")),
    )


def layer_order(name: str) -> tuple:
    """Natural order of layer names (h2 before h10; pairs ``h1~h2`` by their parts)."""
    parts = []
    for piece in name.split("~"):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append((piece.rstrip("0123456789"), int(digits) if digits else -1, piece))
    return tuple(parts)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return "" if value is None else str(value)


def write_csv(path: Path, rows: Iterable[Mapping], columns: Iterable[str]) -> Path:
    """Atomically write ``rows`` as CSV with ``columns`` (NaN and None as empty cells)."""
    columns = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_fmt(row.get(c)) for c in columns])
    return atomic_write_text(path, buffer.getvalue())


def read_summary(path: Path) -> list[dict]:
    """``summary.csv`` back as rows (numbers as floats/ints, empty cells as NaN / None); columns
    an older summary lacks are absent from its rows."""
    out = []
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            for key in _FLOATS:
                if key in row:
                    row[key] = float(row[key]) if row[key] else math.nan
            for key in _INTS:
                if key in row and row[key] != "":
                    row[key] = int(row[key])
            row["epoch"] = int(row["epoch"]) if row["epoch"] else None
            out.append(row)
    return out
