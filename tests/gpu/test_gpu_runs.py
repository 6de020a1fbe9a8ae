"""Runs and snapshot metrics on CUDA (``@pytest.mark.gpu``: skipped without CUDA; run them with
``pytest -m gpu``, or all GPU checks with ``benchmarks/gpu_check.sh``).

Fashion-MNIST is read from ``$XMSEM_FMNIST_DIR`` when set (the .gz files), else from the usual
places (data_dir, the Debian package, a download)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, TINY, compose_cfg
from xmsem.train import run

pytestmark = pytest.mark.gpu
GPU = ["trainer.accelerator=gpu"]


def _completed_on_cuda(run_dir: Path) -> dict:
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed", status.get("error")
    assert status["device"].startswith("cuda"), status["device"]
    return status["results"]


def test_default_run_on_cuda(tmp_path: Path) -> None:
    """`python -m xmsem.train` (synthetic, PGNN vs MLP, 5 epochs, snapshots) on the GPU."""
    cfg = compose_cfg([*GPU, "logger=csv"], tmp_path)
    run(cfg, tmp_path)
    results = _completed_on_cuda(tmp_path)
    for member in ("pgnn", "mlp"):
        assert results[f"test/{member}/acc"] > 0.5  # 10 classes: chance is 0.1
    assert (tmp_path / "metrics" / "alignment.csv").is_file()


def test_one_epoch_fmnist_on_cuda(tmp_path: Path) -> None:
    data_dir = os.environ.get("XMSEM_FMNIST_DIR")
    extra = [f"data.data_dir={data_dir}"] if data_dir else []
    cfg = compose_cfg([*GPU, "data=fmnist", *extra, "trainer.max_epochs=1",
                       "callbacks.representations.probe_size=2000"], tmp_path)  # fmt: skip
    run(cfg, tmp_path)
    results = _completed_on_cuda(tmp_path)
    for member in ("pgnn", "mlp"):
        assert results[f"test/{member}/acc"] > 0.78  # one epoch of Fashion-MNIST: ~0.83


def test_ensemble_fmnist_epoch_on_cuda(tmp_path: Path) -> None:
    data_dir = os.environ.get("XMSEM_FMNIST_DIR")
    extra = [f"data.data_dir={data_dir}"] if data_dir else []
    cfg = compose_cfg([*GPU, "data=fmnist", *extra, "trainer.max_epochs=1", "ensemble=4",
                       "callbacks=none"], tmp_path)  # fmt: skip
    run(cfg, tmp_path)
    results = _completed_on_cuda(tmp_path)
    for model in ("pgnn.0", "pgnn.3", "mlp.0", "mlp.3"):
        assert results[f"test/{model}/acc"] > 0.78


def test_synthetic_alignment_on_cuda(tmp_path: Path) -> None:
    cfg = compose_cfg([*GPU, "+experiment=synthetic_alignment", "trainer.max_epochs=2",
                       "callbacks.representations.epochs=[0,2]"], tmp_path)  # fmt: skip
    run(cfg, tmp_path)
    _completed_on_cuda(tmp_path)
    text = (tmp_path / "metrics" / "alignment.csv").read_text()
    for metric in ("latent_r2", "spectral", "stitching", "rbf_cka"):
        assert metric in text, metric


def test_snapshot_metrics_on_cuda_equal_cpu(tmp_path: Path) -> None:
    """Every live alignment row of one snapshot, computed from the same stored representations on
    the CPU and on the GPU, agrees within 1e-6 (NaN where NaN)."""
    from xmsem.lit.representations import build_representation_callback
    from xmsem.snapshots.store import stored_values
    from xmsem.train import build_cohort, build_datamodule

    cfg = compose_cfg([*TINY, "callbacks.representations.drift=false"], tmp_path)
    dm = build_datamodule(cfg)
    raw = dm.prepare()
    cohort = build_cohort(cfg, raw.input_dim, raw.num_classes)
    callback = build_representation_callback(cfg, tmp_path, dm, cohort)
    rows = {}
    for device in ("cpu", "cuda"):
        cohort.to(device)
        callback.probe = dm.probe_set(callback.probe_size, device)
        if device == "cpu":
            reps = stored_values(callback._hidden(cohort), callback.storage_dtype)
        moved = {m: {k: t.to(device) for k, t in layers.items()} for m, layers in reps.items()}
        got = callback.compute_rows(cohort, moved, 1)
        key = ("member_a", "member_b", "layer_a", "layer_b", "metric")
        rows[device] = {tuple(r[k] for k in key): float(r["value"]) for r in got}
    assert rows["cpu"].keys() == rows["cuda"].keys() and len(rows["cpu"]) > 20
    for k, v in rows["cpu"].items():
        w = rows["cuda"][k]
        assert (math.isnan(v) and math.isnan(w)) or abs(v - w) <= 1e-6, (k, v, w)


def test_local_gpus_runs_two_jobs_on_one_gpu(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update({"WANDB_MODE": "disabled"})
    cmd = [sys.executable, "-m", "xmsem.train", "-m", "launcher=local_gpus",
           "hydra.launcher.gpus=[0]", "hydra.launcher.jobs_per_gpu=2", *TINY, *GPU,
           "callbacks=none", "seed=0,1", f"paths.output_dir={tmp_path}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "local_gpus: 2 ok, 0 failed" in proc.stdout
    statuses = list((tmp_path / "sweeps").rglob("status.json"))
    assert len(statuses) == 2
    for path in statuses:
        _completed_on_cuda(path.parent)


def test_no_host_sync_in_the_training_step() -> None:
    """The cohort's step issues no device-to-host copy (counts and losses stay on the GPU)."""
    from xmsem.lit.cohort import CohortModule, build_members
    from xmsem.models import build_model

    specs = {"pgnn": {"arch": "pgnn", "hidden": [64, 64]}, "mlp": {"arch": "mlp", "hidden": [64]}}
    members = build_members(specs, 0, lambda s: build_model(s, 32, 10), copies=3)
    cohort = CohortModule(members, 10, copies=3).cuda()
    x, y = torch.randn(128, 32, device="cuda"), torch.randint(0, 10, (128,), device="cuda")
    cohort._step((x, y), "train").backward()  # warm-up
    torch.cuda.set_sync_debug_mode("error")
    try:
        cohort._step((x, y), "train").backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
