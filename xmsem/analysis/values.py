"""Raw per-copy results: the value rows of an analysis as a small committed table, and the
rebuild of ``summary.csv``, ``paired.csv`` and ``nonfinite.csv`` from it without retraining.

``values.csv`` holds every value row the analysis aggregates except the seed-vs-seed pairs (those
are ``cross_run.csv``, committed beside it): one number per (model or pair of models of one
run, epoch, layer, metric, source), with its run, seed, copy, seed units (JSON) and, for one
model, its architecture type (``mlp``, ``pgnn``, ``control``, ... : which comparisons
``paired.csv`` makes). Rows are in the analysis' own order, so a rebuild sums in the same order
and reproduces the tables byte for byte; ``baseline`` names the architecture ``paired.csv``
compares a model with::

    python -m xmsem.analysis.values experiments/<name>      # rewrites summary/paired/nonfinite
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from xmsem.analysis.aggregate import (
    NONFINITE_COLUMNS,
    PAIRED_COLUMNS,
    SUMMARY_COLUMNS,
    aggregate,
    nonfinite_rows,
    paired_comparisons,
    write_csv,
)

VALUE_COLUMNS = ("dataset", "arch", "type", "baseline", "epoch", "layer", "metric", "source",
                 "value", "run", "seed", "copy", "units")  # fmt: skip
VALUES_FILE = "values.csv"


def value_table(
    rows: Iterable[Mapping], types: Mapping[str, str], comparisons: Iterable[tuple[str, str]] = ()
) -> list[dict]:
    """Rows for ``values.csv`` (``VALUE_COLUMNS``): cross-run rows left out, units as JSON,
    ``type`` (from ``types``, architecture -> type) and ``baseline`` (the architecture
    ``paired.csv`` compares it with, from ``comparisons``) for rows of one model."""
    base = dict(comparisons)
    out = []
    for row in rows:
        if row.get("source") == "cross_run":
            continue
        entry = {k: row.get(k) for k in VALUE_COLUMNS if k not in ("type", "baseline", "units")}
        entry["type"] = types.get(str(row.get("arch")), "")
        entry["baseline"] = base.get(str(row.get("arch")), "")
        entry["units"] = json.dumps([list(u) for u in row.get("units") or ()])
        out.append(entry)
    return out


def _int_or_none(cell: str | None) -> int | None:
    return None if cell in ("", None) else int(cell)


def _float(cell: str | None) -> float:
    return math.nan if cell in ("", None) else float(cell)


def read_values(path: Path) -> tuple[list[dict], dict[str, str], list[tuple[str, str]]]:
    """``values.csv`` back as value rows (as the analysis built them), arch -> type, and the
    (architecture, baseline) comparisons of ``paired.csv``."""
    rows, types, comparisons = [], {}, {}
    with Path(path).open(newline="") as handle:
        for cell in csv.DictReader(handle):
            row = {
                "dataset": cell["dataset"],
                "arch": cell["arch"],
                "epoch": _int_or_none(cell["epoch"]),
                "layer": cell["layer"] or None,
                "metric": cell["metric"],
                "source": cell["source"],
                "value": _float(cell["value"]),
                "run": cell["run"],
                "seed": _int_or_none(cell["seed"]),
                "copy": _int_or_none(cell["copy"]),
                "units": tuple(tuple(u) for u in json.loads(cell["units"] or "[]")),
            }
            if cell["type"]:
                types.setdefault(cell["arch"], cell["type"])
            if cell["baseline"]:
                comparisons.setdefault(cell["arch"], cell["baseline"])
            rows.append(row)
    return rows, types, list(comparisons.items())


def read_cross_values(path: Path) -> list[dict]:
    """``cross_run.csv`` back as value rows (source ``cross_run``, the two seed units)."""
    from xmsem.analysis.collect import seed_unit

    if not Path(path).is_file():
        return []
    out = []
    with Path(path).open(newline="") as handle:
        for cell in csv.DictReader(handle):
            units = tuple(
                seed_unit(_int_or_none(cell[f"seed_{s}"]), cell[f"run_{s}"],
                          _int_or_none(cell[f"copy_{s}"]))
                for s in ("a", "b")
            )  # fmt: skip
            out.append({"dataset": cell["dataset"], "arch": cell["arch"],
                        "epoch": _int_or_none(cell["epoch"]), "layer": cell["layer"] or None,
                        "metric": cell["metric"], "value": _float(cell["value"]),
                        "source": "cross_run", "units": units, "run": ""})  # fmt: skip
    return out


def rebuild(folder: Path, out: Path | None = None, interval: str = "t") -> list[Path]:
    """``summary.csv``, ``paired.csv`` and ``nonfinite.csv`` of ``folder`` from its
    ``values.csv`` and ``cross_run.csv`` (written to ``out``, default ``folder``)."""
    folder = Path(folder)
    out = Path(out) if out is not None else folder
    if not (folder / VALUES_FILE).is_file():
        raise FileNotFoundError(f"{folder / VALUES_FILE}: no raw values to rebuild from")
    values, _, comparisons = read_values(folder / VALUES_FILE)
    values += read_cross_values(folder / "cross_run.csv")
    summary = aggregate(values, method=interval)
    paired = paired_comparisons(values, comparisons)
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(out / "summary.csv", summary, SUMMARY_COLUMNS),
        write_csv(out / "paired.csv", paired, PAIRED_COLUMNS),
        write_csv(out / "nonfinite.csv", nonfinite_rows(values), NONFINITE_COLUMNS),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xmsem.analysis.values", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("folder", type=Path, help="experiments/<name> (holds values.csv)")
    parser.add_argument("--out", type=Path, help="where to write (default: the folder)")
    parser.add_argument("--interval", default="t", help="interval method: t (default) | bca")
    args = parser.parse_args(argv)
    try:
        for path in rebuild(args.folder, args.out, args.interval):
            print(f"wrote {path}")
    except FileNotFoundError as err:
        print(f"xmsem: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
