"""Issue 17, break 9: ``ensemble=1000`` with 16-wide nets spent 307 s in the epoch-0 snapshot and
wrote 6,064,000 rows (352 MB) without a warning at 701789c. The plan's cost is estimated before
the first snapshot and announced in one line above a threshold."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.reliability._runs import train
from xmsem.lit.cohort import split_model_name
from xmsem.snapshots import row_cost as cost_mod
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
    rows = read_rows(run_dir)
    estimated = int(warning.split("~")[1].split(" ")[0].replace(",", ""))
    assert abs(estimated - len(rows)) / len(rows) < 0.25, (estimated, len(rows))
    seed_rows = [r for r in rows if r["member_a"].split(".")[0] == r["member_b"].split(".")[0]
                 and r["member_a"] != r["member_b"]]  # fmt: skip
    assert f"({len(seed_rows):,} between copies" in warning  # the K^2 part exactly
