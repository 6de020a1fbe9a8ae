"""Redrawing a committed experiment's figures from its summary.csv alone."""

from __future__ import annotations

import csv
from pathlib import Path

from xmsem.analysis.aggregate import read_summary
from xmsem.analysis.redraw import default_controls, main

COMMITTED = Path(__file__).resolve().parents[2] / "experiments" / "synthetic_pgnn_vs_mlp"
KEEP = {"val_acc", "linear_cka", "linear_cka_null", "seed_linear_cka"}


def _trimmed(folder: Path, extra: list[dict] = ()) -> Path:
    """The committed synthetic summary, a few metrics only (seconds to draw), plus ``extra``."""
    with (COMMITTED / "summary.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if r["metric"] in KEEP] + list(extra)
        fields = reader.fieldnames
    folder.mkdir()
    with (folder / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_controls_are_the_shuffled_members(tmp_path) -> None:
    control = {"dataset": "synthetic", "arch": "mlp_shuffled", "epoch": "1", "layer": "",
               "metric": "val_acc", "mean": "0.1", "n": "5", "source": "curve"}  # fmt: skip
    summary = read_summary(_trimmed(tmp_path / "exp", [control]) / "summary.csv")
    assert default_controls(summary) == {"mlp_shuffled"}
    assert default_controls(read_summary(COMMITTED / "summary.csv")) == set()


def test_redraw_writes_checked_png_and_pdf(tmp_path, capsys) -> None:
    folder = _trimmed(tmp_path / "exp")
    (folder / "figures").mkdir()
    (folder / "figures" / "stale.png").write_bytes(b"old")
    assert main([str(folder)]) == 0
    pngs = sorted(p.name for p in (folder / "figures").glob("*.png"))
    assert "stale.png" not in pngs  # the folder is rewritten, not added to
    assert "synthetic_linear_cka.png" in pngs and "synthetic_accuracy.png" in pngs
    assert all((folder / "figures" / n).with_suffix(".pdf").is_file() for n in pngs)
    assert "0 with layout problems" in capsys.readouterr().out


def test_a_folder_without_summary_is_one_line(tmp_path, capsys) -> None:
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "summary.csv not found" in err
