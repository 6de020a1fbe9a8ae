"""Break 6: a config error in a later job of a sweep must stop the sweep before any job trains."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_bad_later_job_stops_the_sweep_before_training(tmp_path: Path) -> None:
    proc = subprocess.run(
        # data.n_train is a key of the synthetic data only: the two fmnist jobs are invalid
        [sys.executable, "-m", "xmsem.train", "-m", "data=synthetic,fmnist", "model=mlp,pgnn",
         "debug=tiny", "data.n_train=300", f"paths.output_dir={tmp_path}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "2 job(s) of this sweep are invalid; nothing was trained" in lines[0]
    bad = lines[1:]
    assert len(bad) == 2 and all("data=fmnist" in x and "data.n_train" in x for x in bad)
    assert {("model=mlp" in x) for x in bad} == {True, False}
    assert not list(tmp_path.rglob("status.json")) and not list(tmp_path.rglob("*.ckpt"))


def test_sweep_jobs_include_experiment_sweeps(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from xmsem.cli.sweep_check import sweep_jobs

    cfg = OmegaConf.create(
        {"hydra": {"sweeper": {"params": {"seed": "range(0,3)"}},
                   "overrides": {"task": ["model=mlp,pgnn", "debug=tiny"]}}}
    )  # fmt: skip
    jobs = sweep_jobs(cfg)
    assert len(jobs) == 6 and ["seed=0", "model=mlp", "debug=tiny"] in jobs


def test_a_sweep_of_single_model_jobs_says_what_it_will_not_have(tmp_path: Path) -> None:
    from tests.conftest import compose_cfg
    from xmsem.alignment import get_metric
    from xmsem.cli.sweep_check import single_model_note

    singles = [compose_cfg(["debug=tiny", f"model={m}"], tmp_path / m) for m in ("mlp", "pgnn")]
    note = single_model_note(singles)
    assert note is not None and len(note.splitlines()) == 1
    assert "(mlp, pgnn)" in note
    metrics = list(singles[0].callbacks.representations.metrics)
    live = [m for m in metrics if get_metric(m).inputs != "reps"]
    assert live and all(m in note.split("no cross-model")[1].split("(")[0] for m in live)
    assert "stitching" in live and "probe_transfer" in live
    # what the cross-run analysis still gives is named as such, not as missing
    assert "linear_cka" not in note.split("no cross-model")[1].split("(")[0]
    assert "compares them with linear_cka" in note
    pair = compose_cfg(["debug=tiny", "model=pgnn_vs_mlp"], tmp_path / "pair")
    assert single_model_note([*singles, pair]) is None
    assert single_model_note([pair]) is None
