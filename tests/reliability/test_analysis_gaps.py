"""Breaks 4 and 8: analysis names every missing epoch or layer file (report.md, terminal, exit
code) instead of dropping it silently or crashing; figure names stay short for long overrides."""

from __future__ import annotations

import shutil
from pathlib import Path

from xmsem.analysis.aggregate import read_summary
from xmsem.analysis.synthetic import write_run, write_sweep
from xmsem.analyze import main


def _cross_epochs(out: Path, arch: str = "pgnn") -> set[int]:
    rows = read_summary(out / "summary.csv")
    return {int(r["epoch"]) for r in rows if r["source"] == "cross_run" and r["arch"] == arch}


def test_deleted_epoch_is_named_and_exit_1(tmp_path: Path, capsys) -> None:
    sweep = write_sweep(tmp_path / "sweep", range(3))
    shutil.rmtree(sweep / "seed=1" / "reps" / "epoch_001")
    code = main([str(sweep), "--no-figures", "--bootstrap", "50", "--subspace-k", "4", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "missing seed=1: reps/epoch_001 missing" in err
    report = (sweep / "analysis" / "report.md").read_text()
    assert "## Missing data" in report and "- seed=1: reps/epoch_001 missing" in report
    # epoch 1 is still analysed from the runs that have it (seeds 0 and 2)
    assert _cross_epochs(sweep / "analysis") == {0, 1, 2}


def test_deleted_layer_file_is_named_not_a_crash(tmp_path: Path, capsys) -> None:
    sweep = write_sweep(tmp_path / "sweep", range(3))
    (sweep / "seed=2" / "reps" / "epoch_002" / "mlp" / "h1.pt").unlink()
    code = main([str(sweep), "--no-figures", "--bootstrap", "50", "--subspace-k", "4", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "seed=2: reps/epoch_002/mlp/h1.pt missing" in err
    assert "Traceback" not in err
    assert "reps/epoch_002/mlp/h1.pt missing" in (sweep / "analysis" / "report.md").read_text()


def test_complete_sweep_exits_0(tmp_path: Path, capsys) -> None:
    sweep = write_sweep(tmp_path / "sweep", range(2))
    assert main([str(sweep), "--no-figures", "--bootstrap", "20", "--subspace-k", "4", "-q"]) == 0
    assert "Missing data" not in (sweep / "analysis" / "report.md").read_text()


def test_long_override_lists_give_short_figure_names(tmp_path: Path) -> None:
    overrides = [f"model.pgnn.option_number_{i}=value_{i}" for i in range(30)]
    sweep = tmp_path / "sweep"
    for seed in range(2):
        write_run(sweep / f"seed={seed}", seed, overrides=[*overrides, f"seed={seed}"])
    code = main([str(sweep), "--bootstrap", "20", "--subspace-k", "4", "-q"])
    assert code == 0
    figures = list((sweep / "analysis" / "figures").glob("*.png"))
    assert figures and max(len(p.name) for p in figures) < 140
    assert (sweep / "analysis" / "report.md").is_file()
