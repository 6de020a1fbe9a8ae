"""Copies of an ensemble job are analysed like separate jobs (issue 9): arch = member name without
the copy suffix, seed unit = (run seed, copy), cache keys name the copy."""

from __future__ import annotations

import csv
import zlib

import pytest
import torch

from xmsem.analysis import analyze_sweep
from xmsem.analysis.aggregate import read_summary
from xmsem.analysis.discovery import discover, model_names
from xmsem.analysis.synthetic import write_run
from xmsem.runs.atomic import atomic_torch_save
from xmsem.snapshots import SnapshotStore

K = 20
FAST = {"subspace_k": 3, "bootstrap": 50, "figures": False}
EPOCHS = (0, 1)


def _reps(unit, member, epoch, layer, n, width):
    """Representations of the model with seed unit ``unit`` (an int) of ``member``."""
    base = torch.randn(n, 4, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(zlib.crc32(f"{unit}|{member}|{epoch}|{layer}".encode()))
    return base @ torch.randn(4, width, generator=g) + 0.5 * torch.randn(n, width, generator=g)


def _separate(seed, model, *rest):
    return _reps(seed, model, *rest)  # seed s of a plain run is unit s


def _ensemble(seed, model, *rest):
    member, copy = model.rsplit(".", 1)  # copy k of the single ensemble job is unit k
    return _reps(int(copy), member, *rest)


def _write(root, ensemble: bool):
    kw = {"epochs": EPOCHS, "widths": (6, 6), "n": 48, "live": False, "dtype": "float32"}
    if ensemble:
        write_run(root / "seed=0", 0, reps=_ensemble, ensemble=K,
                  overrides=["seed=0", f"ensemble={K}"], **kw)  # fmt: skip
    else:
        for seed in range(K):
            write_run(root / f"seed={seed}", seed, reps=_separate, **kw)
    return root


def _cross(summary):
    return {
        (r["arch"], r["epoch"], r["layer"], r["metric"]): r
        for r in summary
        if r["source"] == "cross_run"
    }


@pytest.fixture(scope="module")
def analyses(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    sep = analyze_sweep(_write(root / "separate", ensemble=False), **FAST)
    ens = analyze_sweep(_write(root / "ensemble", ensemble=True), **FAST)
    return sep, ens


def test_model_names_follow_the_contract():
    assert list(model_names(["pgnn", "mlp"], 1)) == ["pgnn", "mlp"]
    models = model_names(["pgnn", "mlp"], 3)
    assert list(models) == ["pgnn.0", "pgnn.1", "pgnn.2", "mlp.0", "mlp.1", "mlp.2"]
    assert models["mlp.2"] == ("mlp", 2)


def test_ensemble_run_is_discovered_as_copies(analyses):
    _, ens = analyses
    (run,) = discover(ens.out_dir.parent)
    assert run.ensemble == K and len(run.models) == 2 * K
    assert {run.arch(m) for m in run.models} == {"pgnn", "mlp"}  # ensemble=K is no architecture
    assert run.copy_of("mlp.7") == 7 and run.member_of("mlp.7") == "mlp"


def test_190_seed_pairs_per_architecture(analyses):
    for result in analyses:
        summary = read_summary(result.summary_csv)
        # n = seed units (the statistics' sample size), n_values = seed pairs
        for arch, units, n in (("pgnn", K, K * (K - 1) // 2), ("mlp", 20, 190), ("pgnn~mlp", K, K)):
            for epoch in EPOCHS:
                rows = [r for r in summary if r["arch"] == arch and r["epoch"] == epoch
                        and r["metric"] == "seed_linear_cka" and r["layer"] == "h2"]  # fmt: skip
                assert [(r["n"], r["n_values"]) for r in rows] == [(units, n)]
        assert "| h2 | 20 | 190 |" in result.report_md.read_text().replace("  ", " ")


def test_ensemble_analysis_equals_separate_runs(analyses):
    sep, ens = analyses
    a, b = _cross(read_summary(sep.summary_csv)), _cross(read_summary(ens.summary_csv))
    assert (
        a.keys() == b.keys() and len(a) == 3 * len(EPOCHS) * 2 * 3
    )  # archs, epochs, layers, metrics
    for key, row in a.items():
        other = b[key]
        assert row["n"] == other["n"]
        for col in ("mean", "std", "ci_low", "ci_high"):
            assert other[col] == pytest.approx(row[col], abs=1e-12, nan_ok=True), (key, col)
    # the final rows: one value per copy, as one per job
    fin = [r for r in read_summary(ens.summary_csv) if r["source"] == "final"]
    assert {r["n"] for r in fin if r["metric"] == "test_acc"} == {K}


def test_cross_rows_carry_the_seed_unit(analyses):
    _, ens = analyses
    with ens.cross_run_csv.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["metric"] == "seed_linear_cka"]
    assert len(rows) == (190 * 2 + K) * len(EPOCHS) * 2
    pgnn = [r for r in rows if r["arch"] == "pgnn"]
    assert all(r["member_a"] == f"pgnn.{r['copy_a']}" for r in pgnn)
    assert all(r["seed_a"] == r["seed_b"] == "0" and r["copy_a"] != r["copy_b"] for r in pgnn)
    shifted = {(r["copy_a"], r["copy_b"]) for r in rows if r["arch"] == "pgnn~mlp"}
    assert shifted == {(str(k), str((k + 1) % K)) for k in range(K)}


def test_cache_keys_name_the_copy(tmp_path):
    root = tmp_path / "e"
    write_run(root / "seed=0", 0, reps=_ensemble, ensemble=4, epochs=EPOCHS, widths=(6,),
              n=32, live=False)  # fmt: skip
    first = analyze_sweep(root, **FAST)
    # per (epoch, layer): 6 pgnn pairs + 6 mlp pairs + 4 shifted
    assert (first.pairs_computed, first.pairs_reused) == (32, 0)
    # retrain copy 2 of pgnn only (its layer file at epoch 1): only its pairs are recomputed
    store = SnapshotStore(root / "seed=0")
    atomic_torch_save(torch.randn(32, 6), store.epoch_dir(1) / "pgnn.2" / "h1.pt")
    second = analyze_sweep(root, **FAST)
    # pgnn.2 against the 3 other pgnn copies, and pgnn.2 ~ mlp.3 (shifted)
    assert (second.pairs_computed, second.pairs_reused) == (4, 28)
