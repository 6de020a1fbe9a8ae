"""logger=wandb writes an offline wandb run with the resolved config and the alignment history."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import TINY, compose_cfg
from tests.lit.wandb_records import history_and_config, records
from xmsem.lit.loggers import stable_run_id
from xmsem.train import run


def wait_for_exit_record(path: Path, timeout: float = 60.0):
    """wandb's service writes the run file asynchronously: wait until it holds the exit record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.WhichOneof("record_type") == "exit" for r in records(path)):
            break
        time.sleep(0.5)
    return history_and_config(path)


def test_offline_wandb_run_has_config_and_alignment_history(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    run_dir = tmp_path / "run"
    cfg = compose_cfg([*TINY, "logger=wandb", "callbacks.representations.epochs=[0,2]"], run_dir)
    run(cfg, run_dir)

    run_id = stable_run_id(run_dir)
    files = list((run_dir / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
    assert len(files) == 1, list((run_dir / "wandb").rglob("*"))
    history, config = wait_for_exit_record(files[0])

    # the fully resolved Hydra config, passed when the run was created
    assert json.loads(config["data"])["name"] == "synthetic"
    assert json.loads(config["model"])["pgnn"]["shaping"] == "spectral"
    assert json.loads(config["trainer"])["max_epochs"] == 2
    assert json.loads(config["seed"]) == 0
    assert "${" not in config["logger"]  # interpolations resolved

    keys = set().union(*history)
    for key in ("align/linear_cka/pgnn~mlp/h2", "align/subspace_overlap/pgnn~mlp/h1",
                "member/probe_acc/mlp/h2", "val/pgnn/acc", "train/mlp/loss"):  # fmt: skip
        assert key in keys, key
    cka = [float(row["align/linear_cka/pgnn~mlp/h2"]) for row in history
           if "align/linear_cka/pgnn~mlp/h2" in row]  # fmt: skip
    assert len(cka) == 2 and all(0.0 <= v <= 1.0 for v in cka)  # epochs 0 and 2
    images = [row["heatmap/layer_cka/pgnn/_type"] for row in history
              if "heatmap/layer_cka/pgnn/_type" in row]  # fmt: skip
    assert len(images) == 2 and json.loads(images[0]) == "images/separated"
    assert "heatmap/member_cka/filenames" in keys
    pngs = list(files[0].parent.glob("files/media/images/heatmap/**/*.png"))
    assert len(pngs) >= 6  # 2 epochs x (2 layer heatmaps + 1 member heatmap)
