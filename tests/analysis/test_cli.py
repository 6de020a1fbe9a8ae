"""``python -m xmsem.analyze``: exit codes and the offline wandb summary run."""

from __future__ import annotations

import json

import pytest

from tests.lit.test_wandb_logger import wait_for_exit_record
from xmsem.analysis.synthetic import write_run, write_sweep
from xmsem.analyze import main
from xmsem.lit.loggers import stable_run_id


def test_exit_2_with_one_line_for_missing_dir(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err


def test_exit_2_for_unknown_metric(tmp_path, capsys):
    write_sweep(tmp_path / "s", [0, 1], live=False)
    assert main([str(tmp_path / "s"), "--metrics", "nope"]) == 2
    assert "unknown metric 'nope'" in capsys.readouterr().err


def test_exit_0_with_failed_run_and_custom_out(tmp_path, capsys):
    root = write_sweep(tmp_path / "s", [0, 1], live=False)
    write_run(root / "seed=5", 5, state="failed", error="ValueError: x")
    out = tmp_path / "out"
    code = main(
        [
            str(root),
            "--out",
            str(out),
            "--no-figures",
            "--bootstrap",
            "50",
            "--subspace-k",
            "4",
            "-q",
        ]
    )
    assert code == 0
    assert "1 failed" in capsys.readouterr().out
    assert "| seed=5 | failed | ValueError: x |" in (out / "report.md").read_text()
    assert not (root / "analysis").exists()


def test_wandb_offline_summary_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    root = write_sweep(tmp_path / "s", [0, 1], live=False)
    code = main(
        [str(root), "--no-figures", "--bootstrap", "50", "--subspace-k", "4", "--wandb", "-q"]
    )
    assert code == 0
    runs = list((root / "analysis" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    files = {p.name for p in (runs[0] / "files").rglob("*") if p.is_file()}
    assert {"report.md", "summary.csv"} <= files
    assert any(name.endswith(".table.json") for name in files)
    (run_file,) = runs[0].glob("run-*.wandb")
    # the summary links every training run by the wandb id that run was logged under
    _, config = wait_for_exit_record(run_file)
    links = {x["run"]: x["wandb_id"] for x in json.loads(config["runs"])}
    assert links == {f"seed={s}": stable_run_id(root / f"seed={s}") for s in (0, 1)}


@pytest.mark.parametrize("flag", ["--help"])
def test_help(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        main([flag])
    assert exc.value.code == 0
    assert "--bootstrap" in capsys.readouterr().out


@pytest.mark.parametrize(
    "given",
    [["linear_cka", "subspace_overlap"], ["[linear_cka,subspace_overlap]"],
     ["[linear_cka, subspace_overlap]"], ["linear_cka,subspace_overlap"], ["['linear_cka',subspace_overlap]"]],
)  # fmt: skip
def test_metrics_accept_hydra_style_lists(given):
    from xmsem.analyze import build_parser, metric_names

    args = build_parser().parse_args(["sweep", "--metrics", *given])
    assert metric_names(args.metrics) == ["linear_cka", "subspace_overlap"]


def test_a_bad_name_inside_a_list_is_still_refused(tmp_path, capsys):
    write_sweep(tmp_path / "s", [0, 1], live=False)
    assert main([str(tmp_path / "s"), "--metrics", "[linear_cka,nope]"]) == 2
    assert "unknown metric 'nope'" in capsys.readouterr().err
