"""``metrics/alignment.csv``: every alignment number of a run, long format, rewritten atomically."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from xmsem.runs.atomic import atomic_write_text

CSV_COLUMNS = ("epoch", "member_a", "member_b", "layer_a", "layer_b", "metric", "value")


def alignment_csv(run_dir: str | Path) -> Path:
    return Path(run_dir) / "metrics" / "alignment.csv"


def read_rows(run_dir: str | Path) -> list[dict[str, str]]:
    path = alignment_csv(run_dir)
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


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
