"""Issue 17, break 9: ``ensemble=1000`` with 16-wide nets spent 307 s in the epoch-0 snapshot and
wrote 6,064,000 rows (352 MB) without a warning at 701789c. The plan's cost (one estimate: rows,
bytes, flops, seconds; :mod:`xmsem.snapshots.cost`) is estimated before the first snapshot and
announced in one line above a threshold of rows, bytes or seconds."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.reliability._runs import train
from xmsem.lit.cohort import split_model_name
from xmsem.snapshots import cost as cost_mod
from xmsem.snapshots.copies import seed_pair_metrics
from xmsem.snapshots.measure import MeasureSettings
from xmsem.snapshots.table import read_rows


def test_thousand_copies_count_as_the_k_squared_pairs() -> None:
    layers = {f"{m}.{k}": ["h1", "h2"] for m in ("pgnn", "mlp") for k in range(1000)}
    # the metric list of that run (the default list then; the cheap kNN measures came later)
    s = MeasureSettings(metrics=["linear_cka", "linear_cka_debiased", "rbf_cka",
                                 "subspace_overlap", "probe_transfer", "stitching"])  # fmt: skip
    c = cost_mod.estimate(layers, split_model_name, s, snapshots=3)
    wanted = len(seed_pair_metrics(s))
    assert c.seed_pair_rows == 2 * (1000 * 999 // 2) * 2 * wanted  # members x pairs x layers
    assert abs(c.rows - 6_064_000) / 6_064_000 < 0.01  # the rows that run wrote
    assert 250 < c.seconds < 350 and c.rows > cost_mod.WARN_ROWS
    assert "K^2/2 seed pairs" in c.line() and "\n" not in c.line()


def test_estimate_matches_a_run_and_warns_before_the_first_snapshot(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(cost_mod, "WARN_ROWS", 10)
    run_dir = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        train(run_dir, ["callbacks=default", "ensemble=3", "trainer.max_epochs=1",
                        "callbacks.representations.epochs=[0]"])  # fmt: skip
    (warning,) = [r.getMessage() for r in caplog.records if "snapshot plan" in r.getMessage()]
    rows = [r for r in read_rows(run_dir) if r["epoch"] == "0"]  # the last epoch is snapshotted too
    estimated = int(warning.split("~")[1].split(" ")[0].replace(",", ""))
    assert abs(estimated - len(rows)) / len(rows) < 0.25, (estimated, len(rows))
    seed_rows = [r for r in rows if r["member_a"].split(".")[0] == r["member_b"].split(".")[0]
                 and r["member_a"] != r["member_b"]]  # fmt: skip
    assert f"({len(seed_rows):,} between copies" in warning  # the K^2 part exactly


def test_flops_of_a_plan_are_the_closed_form_sum_of_its_pieces(monkeypatch) -> None:
    """Two members with one layer each (widths 8 and 4), linear CKA only, on n = 100 examples:
    Grams 2 n d min(n, d) each, the pair's cross term and its 1 x 1 cross-layer CKA 2 n p q
    each, each member's own layer x layer CKA 2 n d^2."""
    layers = {"pgnn": ["h1"], "mlp": ["h1"]}
    widths = {("pgnn", "h1"): 8, ("mlp", "h1"): 4}
    n, s = 100, MeasureSettings(metrics=["linear_cka"])
    c = cost_mod.estimate(layers, split_model_name, s, 2, widths=widths, n=n)
    p, q = 8, 4
    expected = 2 * n * p * p + 2 * n * q * q + 2 * (2 * n * p * q) + 2 * n * p * p + 2 * n * q * q
    assert c.flops == expected
    pieces = cost_mod.snapshot_pieces(layers, split_model_name, widths, n, s)
    assert sum(pieces.values()) == expected and set(pieces) == {"prepare", ("pgnn", "mlp"),
                                                                 "pgnn", "mlp"}  # fmt: skip
    monkeypatch.setattr(cost_mod, "_RATE", [1e9])
    assert c.seconds == c.rows * cost_mod.SECONDS_PER_ROW + expected / 1e9
    assert cost_mod.estimate(layers, split_model_name, s, 2).flops is None  # widths unknown


def test_each_threshold_warns_on_its_own(monkeypatch) -> None:
    """Few rows but a wide layer (seconds), or few rows per snapshot over many snapshots (bytes)."""
    monkeypatch.setattr(cost_mod, "_RATE", [1e9])
    s = MeasureSettings(metrics=["linear_cka"])
    small = cost_mod.estimate({"pgnn": ["h1"], "mlp": ["h1"]}, split_model_name, s, 2)
    assert small.rows < cost_mod.WARN_ROWS and not small.too_large()
    wide = {("pgnn", "h1"): 20_000, ("mlp", "h1"): 20_000}
    slow = cost_mod.estimate({"pgnn": ["h1"], "mlp": ["h1"]}, split_model_name, s, 2,
                             widths=wide, n=2_000)  # fmt: skip
    assert slow.rows == small.rows and slow.seconds > cost_mod.WARN_SECONDS and slow.too_large()
    assert "GFLOP" in slow.line()
    many = cost_mod.estimate({"pgnn": ["h1"], "mlp": ["h1"]}, split_model_name, s,
                             snapshots=cost_mod.WARN_BYTES // (small.rows * 58) + 1)  # fmt: skip
    assert many.rows == small.rows and many.csv_bytes > cost_mod.WARN_BYTES and many.too_large()
