"""``metrics/alignment.csv``: every alignment number of a run, long format, rewritten atomically;
and the layer x layer / member x member matrices read from such rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmsem.runs.atomic import atomic_write_text

CSV_COLUMNS = ("epoch", "member_a", "member_b", "layer_a", "layer_b", "metric", "value")
ROW_KEY = CSV_COLUMNS[:-1]  # one value per (epoch, members, layers, metric)


class TableError(ValueError):
    """A table file that cannot be trusted (torn, ragged or duplicated rows): one line naming the
    file and the line."""


def alignment_csv(run_dir: str | Path) -> Path:
    return Path(run_dir) / "metrics" / "alignment.csv"


def read_table_strict(path: str | Path, key: Sequence[str] = ()) -> list[dict[str, str]]:
    """The rows of CSV file ``path`` as dicts, read strictly: :class:`TableError` for a last line
    without its newline (a torn append), a row whose field count differs from the header's, or a
    row repeating the ``key`` columns of an earlier row (an exact duplicate key)."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        text = handle.read()
    if text and not text.endswith(("\n", "\r")):
        last = text.count("\n") + 1
        raise TableError(f"{path}:{last}: the last line is not terminated (a torn write?); "
                         "delete that line or rerun the snapshot")  # fmt: skip
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return []
    rows: list[dict[str, str]] = []
    seen: dict[tuple[str, ...], int] = {}
    for fields in reader:
        line = reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            raise TableError(f"{path}:{line}: {len(fields)} fields where the header has "
                             f"{len(header)} ({', '.join(header)})")  # fmt: skip
        row = dict(zip(header, fields, strict=True))
        if key:
            ident = tuple(row.get(k, "") for k in key)
            if ident in seen:
                raise TableError(f"{path}:{line}: repeats the key of line {seen[ident]} "
                                 f"({', '.join(f'{k}={v}' for k, v in zip(key, ident, strict=True))})")  # fmt: skip
            seen[ident] = line
        rows.append(row)
    return rows


def read_rows(run_dir: str | Path) -> list[dict[str, str]]:
    """The rows of ``metrics/alignment.csv`` (read strictly, :func:`read_table_strict`)."""
    path = alignment_csv(run_dir)
    if not path.is_file():
        return []
    return read_table_strict(path, ROW_KEY)


def write_rows(run_dir: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Add ``rows``; older rows with the same (epoch, metric) as a new row are replaced, so
    writing the same snapshot twice (a resumed run) never duplicates anything."""
    rows = list(rows)
    replaced = {(str(r["epoch"]), str(r["metric"])) for r in rows}
    kept = [r for r in read_rows(run_dir) if (r["epoch"], r["metric"]) not in replaced]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(kept)
    writer.writerows(rows)
    return atomic_write_text(alignment_csv(run_dir), buffer.getvalue())


def layer_matrix(rows: Iterable[Mapping], member: str) -> tuple[list[str], np.ndarray]:
    """The symmetric layer x layer ``layer_cka`` matrix of ``member`` from alignment rows."""
    entries = [r for r in rows if r["metric"] == "layer_cka" and r["member_a"] == member]
    labels = sorted({r["layer_a"] for r in entries} | {r["layer_b"] for r in entries},
                    key=lambda s: (len(s), s))  # fmt: skip
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.full((len(labels), len(labels)), np.nan)
    for r in entries:
        i, j = index[r["layer_a"]], index[r["layer_b"]]
        matrix[i, j] = matrix[j, i] = float(r["value"])
    return labels, matrix


def member_matrix(rows: Iterable[Mapping], members: Sequence[str], primary: Mapping[str, str],
                  metric: str = "linear_cka") -> np.ndarray:  # fmt: skip
    """Member x member ``metric`` at the primary layers (diagonal 1)."""
    index = {m: i for i, m in enumerate(members)}
    matrix = np.eye(len(members))
    for r in rows:
        a, b = r["member_a"], r["member_b"]
        if r["metric"] != metric or a == b or a not in index or b not in index:
            continue
        if r["layer_a"] == primary.get(a) and r["layer_b"] == primary.get(b):
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = float(r["value"])
    return matrix


SKIP_COLUMNS = ("member_a", "member_b", "layer_a", "layer_b", "what", "reason")


def skipped_csv(run_dir: str | Path) -> Path:
    return Path(run_dir) / "metrics" / "skipped.csv"


def skip_row(a: str, b: str, la: str, lb: str, what: str, reason: str) -> dict[str, str]:
    """One thing a run does not measure (``what``: stitching, pairs, ...) and why."""
    return {"member_a": a, "member_b": b, "layer_a": la, "layer_b": lb, "what": what,
            "reason": reason}  # fmt: skip


def write_skipped(run_dir: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write ``metrics/skipped.csv`` (every skipped measurement with its reason), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SKIP_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(skipped_csv(run_dir), buffer.getvalue())
