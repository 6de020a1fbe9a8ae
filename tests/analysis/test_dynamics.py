"""Epoch x epoch linear CKA of one model over its snapshots (training dynamics): the numbers
equal an independent numpy computation from the stored representations, the matrix is symmetric
with a unit diagonal; the analysis averages it over seeds, and compare writes it for one run."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from xmsem.analysis import analyze_sweep
from xmsem.analysis.dynamics import epoch_cka_matrix, run_epoch_cka
from xmsem.analysis.synthetic import write_run, write_sweep
from xmsem.snapshots import SnapshotStore

EPOCHS = (0, 1, 2, 5)


def _numpy_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Reference: biased linear CKA from centred Gram matrices (Kornblith et al. 2019, eq. 4):
    HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), K = X X^T, with the centring matrix H."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = h @ x @ x.T @ h, h @ y @ y.T @ h
    return float(np.sum(k * l) / np.sqrt(np.sum(k * k) * np.sum(l * l)))


def _drifting(seed, member, epoch, layer, n, width):
    """Representations that drift with training time: epoch e mixes a fixed map with e/5 of a
    second one, so nearby epochs agree more than distant ones."""
    g = torch.Generator().manual_seed(seed * 100 + len(layer))
    base = torch.randn(n, 6, generator=g)
    a, b = torch.randn(6, width, generator=g), torch.randn(6, width, generator=g)
    noise = torch.randn(n, width, generator=torch.Generator().manual_seed(epoch))
    return base @ (a + (epoch / 5) * 3 * b) + 0.3 * noise


def test_matrix_equals_numpy_reference_symmetric_unit_diagonal(tmp_path):
    run = write_run(tmp_path / "r", 0, epochs=EPOCHS, n=40, widths=(6, 50), reps=_drifting,
                    dtype="float32", live=False)  # fmt: skip
    rows = run_epoch_cka(run)
    store = SnapshotStore(run)
    for model in ("pgnn", "mlp"):
        for layer in ("h1", "h2"):  # h2 (50 wide, 40 examples): the n x n side
            mine = {(r["epoch_a"], r["epoch_b"]): r["value"] for r in rows
                    if (r["model"], r["layer"]) == (model, layer)}  # fmt: skip
            assert set(mine) == {(a, b) for a in EPOCHS for b in EPOCHS}
            reps = {e: store.load(e, model, layer, torch.float64).numpy() for e in EPOCHS}
            for (a, b), value in mine.items():
                assert value == pytest.approx(_numpy_cka(reps[a], reps[b]), abs=1e-10)
            m = np.array([[mine[(a, b)] for b in EPOCHS] for a in EPOCHS])
            np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-12)
            np.testing.assert_allclose(m, m.T, atol=1e-12)
            # the drift is visible: epoch 0 is closer to epoch 1 than to epoch 5
            assert m[0, 1] > m[0, 3]


def test_matrix_is_invariant_to_rotation_and_scale_of_one_snapshot():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(30, 5, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    y = torch.randn(30, 5, generator=g, dtype=torch.float64)
    _, m1 = epoch_cka_matrix({0: x, 1: y})
    _, m2 = epoch_cka_matrix({0: 7.0 * x @ q, 1: y})
    np.testing.assert_allclose(m1, m2, atol=1e-12)
    assert m1[0, 1] < 0.9  # two unrelated snapshots are not aligned


def test_analysis_writes_the_mean_over_seeds_and_a_report_table(tmp_path):
    root = write_sweep(tmp_path / "s", range(3), epochs=(0, 1, 2), n=32, reps=_drifting,
                       dtype="float32")  # fmt: skip
    result = analyze_sweep(root, subspace_k=3, bootstrap=50, figures=False)
    with result.epoch_cka_csv.open() as handle:
        table = list(csv.DictReader(handle))
    row = next(r for r in table if (r["arch"], r["layer"], r["epoch_a"], r["epoch_b"])
               == ("mlp", "h1", "0", "2"))  # fmt: skip
    per_seed = []
    for seed in range(3):
        store = SnapshotStore(root / f"seed={seed}")
        x, y = (store.load(e, "mlp", "h1", torch.float64).numpy() for e in (0, 2))
        per_seed.append(_numpy_cka(x, y))
    assert float(row["mean"]) == pytest.approx(np.mean(per_seed), abs=1e-10)
    assert int(row["n"]) == 3 and float(row["ci_low"]) <= float(row["mean"])
    report = result.report_md.read_text()
    assert "### Training dynamics: epoch x epoch linear CKA" in report
    assert "`mlp`, layer `h1` (synthetic, 3 seeds):" in report
