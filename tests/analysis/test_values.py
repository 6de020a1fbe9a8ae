"""Raw per-copy values: the committed table rebuilds summary.csv, paired.csv and nonfinite.csv
byte for byte, and with them the study page, without the runs."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from scipy import stats as scipy_stats

from xmsem.analysis import analyze_sweep, study
from xmsem.analysis.synthetic import write_sweep
from xmsem.analysis.values import VALUES_FILE, main, read_values

RULES = """
claims:
  - claim: slightly higher accuracy
    family: accuracy
    rules:
      - {id: ACC, kind: paired, experiment: exp, outcome: test_acc, source: final, a: pgnn,
         b: mlp, direction: 1, margin: 0.002, planted: 0.005}
  - claim: stability
    family: stability
    rules:
      - {id: STAB, kind: paired, experiment: exp, outcome: seed_linear_cka, source: cross_run,
         layers: [h2], epoch: last, a: pgnn, b: mlp, direction: 1, margin: 0.002,
         planted: relative 0.20}
"""
TABLES = ("summary.csv", "paired.csv", "nonfinite.csv")


def test_values_rebuild_the_tables_and_the_study(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep", range(4))
    result = analyze_sweep(sweep, subspace_k=4, bootstrap=0, figures=False)
    rows, types, comparisons = read_values(result.out_dir / VALUES_FILE)
    assert types == {"pgnn": "pgnn", "mlp": "mlp"} and comparisons == [("pgnn", "mlp")]
    assert {r["source"] for r in rows} == {"live", "final"}  # pairs live in cross_run.csv
    assert {r["units"] for r in rows if r["arch"] == "pgnn" and r["source"] == "final"} == {
        ((s, 0),) for s in range(4)
    }
    # the committed files of an experiment: values.csv + cross_run.csv only
    committed = tmp_path / "experiments" / "exp"
    committed.mkdir(parents=True)
    for name in (VALUES_FILE, "cross_run.csv"):
        shutil.copy(result.out_dir / name, committed / name)
    assert main([str(committed)]) == 0
    for name in TABLES:
        assert (committed / name).read_bytes() == (result.out_dir / name).read_bytes(), name
    # the study page from the rebuilt tables equals the page from the analysis' own
    original = tmp_path / "original" / "exp"
    original.mkdir(parents=True)
    for name in (*TABLES, "cross_run.csv"):
        shutil.copy(result.out_dir / name, original / name)
    pages = []
    for root in (committed.parent, original.parent):
        (root / "RULES.yaml").write_text(RULES)
        assert study.main([str(root)]) == 0
        pages.append((root / "STUDY.md").read_text())
    assert pages[0] == pages[1] and "| ACC |" in pages[0] and "| STAB |" in pages[0]


def test_rebuild_without_values_is_one_line(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path)]) == 2
    assert "values.csv: no raw values" in capsys.readouterr().err


def test_study_pairs_cell_contrasts_by_seed_when_values_are_committed(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep", range(4))
    result = analyze_sweep(sweep, subspace_k=4, bootstrap=0, figures=False)
    root = tmp_path / "experiments"
    (root / "exp").mkdir(parents=True)
    for name in (*TABLES, "cross_run.csv"):
        shutil.copy(result.out_dir / name, root / "exp" / name)
    rule = ("claims:\n  - claim: c\n    family: f\n    rules:\n      - {id: B, kind: beyond, "
            "experiment: exp, arch: pgnn~mlp, outcome: linear_cka, layers: [h1], epoch: 2, "
            "against: untrained, direction: 1, margin: 0.0, planted: 0.05}\n")  # fmt: skip
    (root / "RULES.yaml").write_text(rule)
    judge = lambda: study.Judge(root, study.load_rules(root / "RULES.yaml")).judge()[0]  # noqa: E731
    cells = judge()
    assert cells.method == "cells"  # summary cells only
    shutil.copy(result.out_dir / VALUES_FILE, root / "exp" / VALUES_FILE)
    paired = judge()
    rows, _, _ = read_values(root / "exp" / VALUES_FILE)

    def live(epoch):
        return {r["units"][0]: r["value"] for r in rows if r["arch"] == "pgnn~mlp"
                and r["metric"] == "linear_cka" and r["layer"] == "h1" and r["epoch"] == epoch}  # fmt: skip

    gains = [live(2)[u] - live(0)[u] for u in live(2)]
    assert paired.method == "paired-t" and paired.n == len(gains) == 4
    assert paired.diff == pytest.approx(sum(gains) / 4)
    assert paired.diff == pytest.approx(cells.diff)  # the same contrast, now paired by seed


def test_study_pairs_any_two_models_from_the_values(tmp_path: Path) -> None:
    """A comparison paired.csv does not hold (e.g. PGNN vs a baseline MLP) is computed from
    values.csv: here pgnn - mlp test accuracy with paired.csv absent, against scipy's paired t."""
    sweep = write_sweep(tmp_path / "sweep", range(4))
    result = analyze_sweep(sweep, subspace_k=4, bootstrap=0, figures=False)
    root = tmp_path / "experiments"
    (root / "exp").mkdir(parents=True)
    shutil.copy(result.out_dir / "summary.csv", root / "exp" / "summary.csv")
    shift = [0.01, 0.03, -0.02, 0.005]  # per seed, so the differences vary
    with (result.out_dir / VALUES_FILE).open(newline="") as handle:
        cells = list(csv.DictReader(handle))
    acc = {"pgnn": {}, "mlp": {}}
    for c in cells:
        if c["metric"] == "test_acc":
            if c["arch"] == "pgnn":
                c["value"] = repr(float(c["value"]) + shift[int(c["seed"])])
            acc[c["arch"]][int(c["seed"])] = float(c["value"])
    with (root / "exp" / VALUES_FILE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(cells[0]))
        writer.writeheader()
        writer.writerows(cells)
    (root / "RULES.yaml").write_text(RULES)
    row = next(r for r in study.Judge(root, study.load_rules(root / "RULES.yaml")).judge()
               if r.rule.id == "ACC")  # fmt: skip
    a, b = [acc["pgnn"][s] for s in range(4)], [acc["mlp"][s] for s in range(4)]
    ref = scipy_stats.ttest_rel(a, b)
    assert row.n == 4 and row.method == "paired-t"
    assert row.diff == pytest.approx(sum(a) / 4 - sum(b) / 4)
    assert row.p == pytest.approx(ref.pvalue)
