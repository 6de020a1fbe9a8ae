"""STUDY.md verdicts: the rule on intervals, and the page from hand-written analysis tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from xmsem.analysis import study
from xmsem.analysis.aggregate import PAIRED_COLUMNS, SUMMARY_COLUMNS


@pytest.mark.parametrize(
    ("lo", "hi", "n", "sign", "margin", "verdict"),
    [
        (0.001, 0.01, 5, +1, 0.005, study.SUPPORTED),  # interval above 0
        (-0.01, -0.001, 5, +1, 0.005, study.NOT_SUPPORTED),  # wrong side
        (-0.002, 0.003, 5, +1, 0.005, study.NOT_SUPPORTED),  # inside the negligible margin
        (-0.02, 0.03, 5, +1, 0.005, study.INCONCLUSIVE),  # wide, covers 0
        (-3.0, -1.0, 5, -1, 1.0, study.SUPPORTED),  # "fewer epochs": negative is the claim
        (0.001, 0.01, 2, +1, 0.005, study.INCONCLUSIVE),  # no verdict from 2 seeds
        (float("nan"), 0.01, 5, +1, 0.005, study.INCONCLUSIVE),
    ],
)
def test_directional_rule(lo, hi, n, sign, margin, verdict) -> None:
    assert study.directional(lo, hi, n, sign, margin) == verdict


def _write(path: Path, rows: list[dict], columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


def _paired(metric, mean_a, mean_b, lo, hi, **kw) -> dict:
    row = dict(dataset="fmnist", arch_a="pgnn", arch_b="mlp", epoch="", layer="", metric=metric,
               source="final", n=5, mean_a=mean_a, mean_b=mean_b, mean_diff=mean_a - mean_b,
               ci_low=lo, ci_high=hi, p_value=0.01, cohens_dz=1.2, method="paired-t")  # fmt: skip
    row.update(kw)
    return row


def test_study_page_from_tables(tmp_path: Path) -> None:
    fm = tmp_path / "fmnist_pgnn_vs_mlp"
    summary = [
        dict(dataset="fmnist", arch="pgnn~mlp", epoch=10, layer="h3", metric="linear_cka",
             mean=0.6, ci_low=0.55, ci_high=0.65, n=5, untrained=0.5, source="live"),
        dict(dataset="fmnist", arch="pgnn~mlp", epoch=10, layer="h3", metric="linear_cka_null",
             mean=0.01, ci_low=0.01, ci_high=0.01, n=5, source="live"),
        dict(dataset="fmnist", arch="mlp~mlp_shuffled", epoch=10, layer="h3",
             metric="linear_cka", mean=0.2, ci_low=0.1, ci_high=0.3, n=5, source="live"),
    ]  # fmt: skip
    _write(fm / "summary.csv", summary, SUMMARY_COLUMNS)
    _write(fm / "paired.csv", [
        _paired("test_acc", 0.890, 0.888, -0.001, 0.005),
        _paired("epochs_to_target", 3.0, 5.0, -3.0, -1.0),
        _paired("val_acc_auc", 0.87, 0.86, 0.004, 0.016),
    ], PAIRED_COLUMNS)  # fmt: skip
    init = tmp_path / "init_sensitivity"
    _write(init / "summary.csv", [dict(arch="pgnn", epoch=10, layer="h3", source="cross_run",
                                       metric="seed_linear_cka", mean=0.95, n=20)],
           SUMMARY_COLUMNS)  # fmt: skip
    # PGNN 0.95 vs MLP 0.90: instability 0.05 vs 0.10 = 50% lower
    _write(init / "paired.csv", [_paired("seed_linear_cka", 0.95, 0.90, 0.03, 0.07, epoch=10,
                                         layer="h3", source="cross_run", method="jackknife")],
           PAIRED_COLUMNS)  # fmt: skip
    page = study.render(study.findings(tmp_path))
    lines = {line.split(" | ")[0].lstrip("| "): line for line in page.splitlines() if "|" in line}
    assert "**supported**" in lines["faster convergence: epochs to 95% of best val. accuracy"]
    assert "**inconclusive**" in lines["slightly higher accuracy (test, best-val. checkpoint)"]
    assert "**not run here**" in lines["no major advantage on CIFAR-10"]
    cka = next(v for k, v in lines.items() if k.startswith("partial cross-architecture"))
    assert "**supported**" in cka and "MLP vs shuffled-label MLP 0.200" in cka
    assert "untrained (epoch 0) 0.500" in cka
    # the same CKA is not "beyond untrained" when untrained networks share more
    summary[0]["untrained"] = 0.7
    _write(fm / "summary.csv", summary, SUMMARY_COLUMNS)
    again = study.render(study.findings(tmp_path))
    cka = next(line for line in again.splitlines() if "partial cross-architecture" in line)
    assert "**not supported**" in cka
    stab = next(v for k, v in lines.items() if k.startswith("~20% better stability"))
    assert "**supported**" in stab and "50.0% lower [30.0, 70.0]" in stab
    assert "**not run here**" in lines["better noise resilience"]


def test_cli_writes_the_page(tmp_path: Path) -> None:
    assert study.main([str(tmp_path)]) == 0
    text = (tmp_path / "STUDY.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(study.CLAIMS)  # header + one row per claim
    assert all(row.endswith("(no results) |") for row in rows[1:])
    assert study.main([str(tmp_path / "missing")]) == 2


def test_synthetic_replication_is_a_second_table(tmp_path: Path) -> None:
    synth = tmp_path / "synthetic_pgnn_vs_mlp"
    _write(synth / "summary.csv", [dict(dataset="synthetic", arch="pgnn", metric="test_acc",
                                        mean=0.9, n=5, source="final")], SUMMARY_COLUMNS)  # fmt: skip
    # PGNN 0.90 vs MLP 0.88 with the interval above 0: supported, read from the synthetic folder
    _write(synth / "paired.csv", [_paired("test_acc", 0.90, 0.88, 0.01, 0.03, dataset="synthetic")],
           PAIRED_COLUMNS)  # fmt: skip
    assert study.main([str(tmp_path)]) == 0
    text = (tmp_path / "STUDY.md").read_text()
    main, supplement = text.split("## The same claims on the synthetic task")
    assert "synthetic_pgnn_vs_mlp" not in main.split("| claim |")[1]
    row = next(line for line in supplement.splitlines() if "slightly higher accuracy" in line)
    assert "**supported**" in row and "synthetic_pgnn_vs_mlp/paired.csv" in row
    assert "experiments/synthetic_alignment/ (no results)" in supplement
