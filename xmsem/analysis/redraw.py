"""Redraw a committed experiment's figures from its ``summary.csv`` (no run folders needed).

    python -m xmsem.analysis.redraw experiments/<name> [--controls mlp_shuffled,...]

The figures are exactly those ``xmsem.analyze`` draws from the same summary; the training-dynamics
heatmaps need the snapshots and are drawn only when ``epoch_cka.csv`` is committed beside it. Every
figure is checked by :mod:`xmsem.analysis.layout`; exit 1 and one line per problem if any fails.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

from xmsem.analysis.aggregate import read_summary
from xmsem.analysis.figures import all_figures
from xmsem.analysis.layout import checking_layout


def default_controls(summary: list[dict]) -> set[str]:
    """Architectures of shuffled-label control members, by the name every experiment gives them
    (``<arch>_shuffled``); the full analysis reads the member configs instead."""
    return {r["arch"] for r in summary if "~" not in r["arch"] and r["arch"].endswith("_shuffled")}


def _epoch_cka(folder: Path) -> list[dict] | None:
    path = folder / "epoch_cka.csv"
    if not path.exists():
        return None
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("epoch_a", "epoch_b", "n"):
            if row.get(key, "") != "":
                row[key] = int(row[key])
        for key in ("mean", "std", "ci_low", "ci_high"):
            if key in row:
                row[key] = float(row[key]) if row[key] else float("nan")
    return rows


def redraw(folder: Path, controls: set[str] | None = None) -> tuple[list[Path], dict]:
    """Rewrite ``folder/figures`` (PNG + PDF) from ``folder/summary.csv``; the PNG paths and the
    layout problems per figure."""
    summary = read_summary(folder / "summary.csv")
    out = folder / "figures"
    if out.exists():
        shutil.rmtree(out)
    with checking_layout() as found:
        paths = all_figures(summary, out, default_controls(summary) if controls is None else controls,
                            _epoch_cka(folder))  # fmt: skip
    return paths, {p: q for p, q in found.items() if q}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xmsem.analysis.redraw", description=__doc__)
    parser.add_argument("folder", type=Path, help="an experiments/<name> folder with summary.csv")
    parser.add_argument("--controls", default=None,
                        help="comma-separated control architectures (default: *_shuffled)")  # fmt: skip
    args = parser.parse_args(argv)
    if not (args.folder / "summary.csv").is_file():
        print(f"xmsem: error: {args.folder / 'summary.csv'} not found", file=sys.stderr)
        return 2
    controls = None if args.controls is None else set(filter(None, args.controls.split(",")))
    paths, problems = redraw(args.folder, controls)
    for path, found in problems.items():
        print(f"{path}: {'; '.join(found)}", file=sys.stderr)
    print(f"{args.folder}: {len(paths)} figures, {len(problems)} with layout problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
