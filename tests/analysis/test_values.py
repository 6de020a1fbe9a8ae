"""Raw per-copy values: the committed table rebuilds summary.csv, paired.csv and nonfinite.csv
byte for byte, and with them the study page, without the runs."""

from __future__ import annotations

import shutil
from pathlib import Path

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
    rows, types = read_values(result.out_dir / VALUES_FILE)
    assert types == {"pgnn": "pgnn", "mlp": "mlp"}
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
