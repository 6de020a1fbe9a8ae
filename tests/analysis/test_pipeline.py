"""analyze_sweep on small fake sweeps written with the real writers."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from scipy import stats as scipy_stats

from xmsem.alignment import linear_cka
from xmsem.analysis import AnalysisError, analyze_sweep
from xmsem.analysis.aggregate import read_summary
from xmsem.analysis.synthetic import write_run, write_sweep
from xmsem.snapshots import SnapshotStore

FAST = {"subspace_k": 4, "bootstrap": 200, "figures": False}


def _by(summary, **where):
    return [r for r in summary if all(r[k] == v for k, v in where.items())]


def _one(summary, **where):
    (row,) = _by(summary, **where)
    return row


@pytest.fixture
def sweep(tmp_path):
    root = write_sweep(tmp_path / "sweep", range(3))
    write_run(root / "seed=7", 7, state="failed", error="RuntimeError: out of memory")
    write_run(root / "seed=8", 8, state="running")
    return root


def test_counts_report_and_summary(sweep):
    result = analyze_sweep(sweep, **FAST)
    assert (len(result.completed), len(result.failed), len(result.incomplete)) == (3, 1, 1)
    report = result.report_md.read_text()
    assert "| seed=7 | failed | RuntimeError: out of memory |" in report
    assert "| seed=8 | incomplete |" in report
    assert "completed 3, failed 1, incomplete 1" in report
    summary = read_summary(result.summary_csv)
    # within-architecture: C(3, 2) = 3 seed pairs; across: 3 shifted pairs
    for arch in ("pgnn", "mlp", "pgnn~mlp"):
        row = _one(summary, arch=arch, epoch=2, layer="h2", metric="seed_linear_cka")
        # n = seeds (units), n_values = pairs; the interval resamples seeds (jackknife)
        assert row["n"] == 3 and row["n_values"] == 3 and row["source"] == "cross_run"
        assert row["method"] == "jackknife"
        assert 0.0 < row["mean"] < 1.0
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    acc = _one(summary, arch="pgnn", metric="test_acc", source="final")
    assert acc["n"] == 3 and acc["mean"] == pytest.approx(0.81)  # 0.8 + 0.01 * mean(0, 1, 2)
    live = _one(summary, arch="pgnn~mlp", epoch=1, layer="h1", metric="linear_cka", source="live")
    assert live["mean"] == pytest.approx(0.511)
    assert _by(summary, arch="mlp~pgnn", metric="transfer_ratio", source="live")
    assert _one(summary, arch="pgnn", epoch=2, metric="val_acc", source="live")["n"] == 3
    assert "| pgnn | 3 | 0.810 ± 0.010 |" in report
    assert "rel. diff (pgnn − mlp) / mlp" in report


def test_cross_run_value_matches_direct_computation(sweep):
    result = analyze_sweep(sweep, **FAST)
    with result.cross_run_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    row = next(
        r
        for r in rows
        if r["metric"] == "seed_linear_cka"
        and r["arch"] == "mlp"
        and r["epoch"] == "1"
        and r["layer"] == "h1"
    )
    x = SnapshotStore(sweep / row["run_a"]).load(1, "mlp", "h1")
    y = SnapshotStore(sweep / row["run_b"]).load(1, "mlp", "h1")
    assert row["seed_a"] != row["seed_b"]
    assert float(row["value"]) == pytest.approx(float(linear_cka(x, y)), abs=1e-10)


def test_cache_reuses_unchanged_runs(sweep):
    first = analyze_sweep(sweep, **FAST)
    # 3 epochs x 2 layers x (3 + 3 within + 3 across) pairs
    assert (first.pairs_computed, first.pairs_reused) == (54, 0)
    second = analyze_sweep(sweep, **FAST)
    assert (second.pairs_computed, second.pairs_reused) == (0, 54)
    assert second.summary_csv.read_text() == first.summary_csv.read_text()
    write_run(sweep / "seed=2", 2, reps=lambda *a: torch.randn(a[4], a[5]))  # retrained run
    third = analyze_sweep(sweep, **FAST)
    # seed 2 is in 2 of 3 pairs of each architecture and in 2 of the 3 shifted pairs: 6 x 6 units
    assert third.pairs_computed == 36 and third.pairs_reused == 18


def _copies(rotate: bool):
    base = torch.randn(64, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def make(seed, member, epoch, layer, n, width):
        if not rotate:
            return base.clone()
        g = torch.Generator().manual_seed(seed + 1)
        q, _ = torch.linalg.qr(torch.randn(width, width, generator=g, dtype=torch.float64))
        return base @ q + seed

    return make


@pytest.mark.parametrize("rotate", [False, True])
def test_seed_vs_seed_cka_of_copies_is_one(tmp_path, rotate):
    root = write_sweep(tmp_path / "s", range(3), reps=_copies(rotate), dtype="float64", live=False)
    summary = read_summary(analyze_sweep(root, **FAST).summary_csv)
    rows = _by(summary, metric="seed_linear_cka") + _by(summary, metric="seed_subspace_overlap")
    assert len(rows) == 3 * 3 * 2 * 2  # arch keys x epochs x layers x metrics
    assert all(r["mean"] == pytest.approx(1.0, abs=1e-9) for r in rows)


def test_single_member_runs_are_seeds_of_one_architecture(tmp_path):
    root = tmp_path / "s"
    for seed in (0, 1):
        for model in ("mlp", "pgnn"):
            write_run(
                root / f"data=fmnist,model={model},seed={seed}",
                seed,
                members=(model,),
                overrides=["data=fmnist", f"model={model}", f"seed={seed}"],
                dataset="fmnist",
                live=False,
            )
    summary = read_summary(analyze_sweep(root, **FAST).summary_csv)
    archs = {r["arch"] for r in _by(summary, metric="seed_linear_cka")}
    assert archs == {"pgnn", "mlp", "pgnn~mlp"}
    row = _one(summary, arch="mlp", epoch=0, layer="h1", metric="seed_linear_cka")
    # one pair of two seeds: n counts seeds, and two are too few for an interval
    assert (row["n"], row["n_values"], row["note"]) == (2, 1, "n<3")
    assert math.isnan(row["ci_low"])
    assert {r["dataset"] for r in summary} == {"fmnist"}


def test_different_probe_indices_are_refused_and_listed(tmp_path):
    root = write_sweep(tmp_path / "s", range(3), live=False)
    write_run(root / "seed=3", 3, probe_indices=torch.arange(64) + 1, live=False)
    result = analyze_sweep(root, **FAST)
    report = result.report_md.read_text()
    assert "Runs left out of the cross-run comparison" in report
    assert "| seed=3 | synthetic | probe indices" in report
    summary = read_summary(result.summary_csv)
    assert _one(summary, arch="pgnn", epoch=0, layer="h1", metric="seed_linear_cka")["n"] == 3


def test_figures_written_and_linked(sweep):
    result = analyze_sweep(sweep, subspace_k=4, bootstrap=50, figures=True)
    names = {p.name for p in result.figures}
    for expected in (
        "synthetic_summary.png",
        "synthetic_accuracy.png",
        "synthetic_stability.png",
        "synthetic_layer_cka.png",
        "synthetic_linear_cka.png",  # same seed, different seeds, seed vs seed: one figure
        "synthetic_transfer_ratio.png",
    ):
        assert expected in names
    assert all(p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG" for p in result.figures)
    assert all(p.with_suffix(".pdf").read_bytes()[:4] == b"%PDF" for p in result.figures)
    report = result.report_md.read_text()
    assert "(figures/synthetic_stability.png)" in report
    assert "![synthetic_summary](figures/synthetic_summary.png)" in report


def test_missing_or_empty_sweep_dir(tmp_path):
    with pytest.raises(AnalysisError, match="does not exist"):
        analyze_sweep(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnalysisError, match="holds no runs"):
        analyze_sweep(tmp_path / "empty")


def test_nan_free_std_for_single_seed(tmp_path):
    root = write_sweep(tmp_path / "s", [0], live=False)
    summary = read_summary(analyze_sweep(root, **FAST).summary_csv)
    acc = _one(summary, arch="pgnn", metric="test_acc")
    assert acc["n"] == 1 and math.isnan(acc["std"])
    assert not _by(summary, metric="seed_linear_cka")


def test_paired_csv_nonfinite_listing_and_interval_widths(tmp_path):
    from xmsem.analysis.aggregate import read_paired
    from xmsem.analysis.stats import check_interval_widths
    from xmsem.runs.status import RunStatus

    root = write_sweep(tmp_path / "s", range(4), live=True)
    accs = {0: (0.81, 0.80), 1: (0.83, 0.80), 2: (0.82, 0.82), 3: (0.86, 0.83)}
    for seed, (pg, ml) in accs.items():
        status = RunStatus(root / f"seed={seed}")
        results = status.read()["results"]
        results["test/pgnn/acc"], results["test/mlp/acc"] = pg, ml
        if seed == 3:
            results["test/mlp/loss"] = float("nan")
        status.write("completed", results=results)
    result = analyze_sweep(root, **FAST)
    summary = read_summary(result.summary_csv)
    assert check_interval_widths(summary) == []
    paired = read_paired(result.paired_csv)
    (acc,) = [r for r in paired if r["metric"] == "test_acc"]
    ref = scipy_stats.ttest_rel([v[0] for v in accs.values()], [v[1] for v in accs.values()])
    assert (acc["arch_a"], acc["arch_b"], acc["n"]) == ("pgnn", "mlp", 4)
    assert acc["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert acc["mean_diff"] == pytest.approx(0.0175)
    (loss,) = [r for r in paired if r["metric"] == "test_loss"]
    assert (loss["n"], loss["n_nonfinite"]) == (3, 1)
    cka = [r for r in paired if r["metric"] == "seed_linear_cka" and r["epoch"] == 2]
    assert cka and all(r["method"] == "jackknife" and r["n"] == 4 for r in cka)
    mlp_loss = _one(summary, arch="mlp", metric="test_loss", source="final")
    assert (mlp_loss["n"], mlp_loss["n_nonfinite"]) == (3, 1)
    report = result.report_md.read_text()
    assert "### Paired differences by seed" in report
    assert "| pgnn − mlp | test_acc | 4 | 0.017 |" in report
    assert "## Non-finite values" in report and "| seed=3 | nan |" in report
    # untrained reference: the epoch-0 value of the same live group
    live = _one(summary, arch="pgnn~mlp", epoch=2, layer="h1", metric="linear_cka", source="live")
    zero = _one(summary, arch="pgnn~mlp", epoch=0, layer="h1", metric="linear_cka", source="live")
    assert live["untrained"] == pytest.approx(zero["mean"])


def test_controls_beside_the_alignment_numbers(tmp_path):
    root = write_sweep(tmp_path / "s", range(3), members=("pgnn", "mlp", "mlp_shuffled"))
    result = analyze_sweep(root, **FAST)
    report = result.report_md.read_text()
    assert "Controls for `pgnn` vs `mlp`" in report
    assert "| pgnn vs mlp_shuffled | mlp vs mlp_shuffled |" in report
    # epoch 2, h1: CKA 0.52 + 0.001 * seed, untrained (epoch 0) 0.501, chance 0.05,
    # pgnn vs shuffled = the synthetic pair value too, CKA(input, h1) 0.3
    section = report[report.index("Controls for `pgnn` vs `mlp`") :]
    line = next(
        x for x in section.splitlines() if x.startswith("| 2 | h1 | 0.521 ± 0.001 | 0.501 |")
    )
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[4] == "0.050" and cells[5] == "0.521" and cells[7] == "0.300"
    assert cells[11] == "0.062"  # subspace chance
    paired = {(r["arch_a"], r["arch_b"]) for r in csv.DictReader(result.paired_csv.open())}
    assert paired == {("pgnn", "mlp")}  # the shuffled control is no baseline
