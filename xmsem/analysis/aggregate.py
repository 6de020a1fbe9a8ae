"""Aggregation: mean, std, n and a 95% percentile-bootstrap interval of the mean per
dataset x arch x epoch x layer x metric (x source), written as ``summary.csv`` (long format).

Sources: ``live`` (the runs' own metrics/alignment.csv and CSV logs, one value per run),
``cross_run`` (one value per pair of instances), ``final`` (status.json, one value per instance).
"""

from __future__ import annotations

import csv
import io
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xmsem.runs.atomic import atomic_write_text

SUMMARY_COLUMNS = (
    "dataset",
    "arch",
    "epoch",
    "layer",
    "metric",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "n",
    "source",
)
GROUP_KEYS = ("dataset", "arch", "epoch", "layer", "metric", "source")


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int


def bootstrap_ci(
    values: np.ndarray, resamples: int, rng: np.random.Generator, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (NaN when fewer than 2 values or no resamples)."""
    n = len(values)
    if n < 2 or resamples < 1:
        return math.nan, math.nan
    idx = rng.integers(0, n, size=(resamples, n))
    means = values[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def describe(values: Iterable[float], resamples: int = 1000, seed: int = 0, key: str = "") -> Stat:
    """Mean, sample std (ddof 1), bootstrap CI and n of the finite ``values``.

    The generator is seeded with ``(seed, crc32(key))``: a group's interval does not depend on
    which other groups exist or on their order."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = len(arr)
    if n == 0:
        return Stat(math.nan, math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    low, high = bootstrap_ci(arr, resamples, rng)
    std = float(arr.std(ddof=1)) if n > 1 else math.nan
    return Stat(float(arr.mean()), std, low, high, n)


def aggregate(rows: Iterable[Mapping], resamples: int = 1000, seed: int = 0) -> list[dict]:
    """Summary rows (``SUMMARY_COLUMNS``) of value rows carrying ``GROUP_KEYS`` and ``value``."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        key = tuple(None if row.get(k) in ("", None) else row.get(k) for k in GROUP_KEYS)
        groups.setdefault(key, []).append(float(row["value"]))
    out = []
    for key, values in groups.items():
        stat = describe(values, resamples, seed, key="|".join(map(str, key)))
        entry = dict(zip(GROUP_KEYS, key, strict=True))
        entry.update(
            mean=stat.mean, std=stat.std, ci_low=stat.ci_low, ci_high=stat.ci_high, n=stat.n
        )
        out.append(entry)
    out.sort(key=_sort_key)
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
    """``summary.csv`` back as rows (numbers as floats/ints, empty cells as NaN / None)."""
    out = []
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            for key in ("mean", "std", "ci_low", "ci_high"):
                row[key] = float(row[key]) if row[key] else math.nan
            row["n"] = int(row["n"])
            row["epoch"] = int(row["epoch"]) if row["epoch"] else None
            out.append(row)
    return out
