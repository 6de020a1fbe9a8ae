"""logger=wandb writes an offline wandb run with the resolved config and the alignment history."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from tests.conftest import TINY, compose_cfg
from tests.lit.wandb_records import history_and_config, records
from xmsem.lit.loggers import HEATMAP_PRESET, stable_run_id
from xmsem.snapshots.table import read_rows
from xmsem.train import run


def wait_for_exit_record(path: Path, timeout: float = 60.0):
    """wandb's service writes the run file asynchronously: wait until it holds the exit record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.WhichOneof("record_type") == "exit" for r in records(path)):
            break
        time.sleep(0.5)
    return history_and_config(path)


def test_offline_wandb_run_has_config_and_alignment_history(
    tmp_path: Path, monkeypatch, capfd, caplog
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_SILENT", raising=False)  # wandb's own output is what is counted
    run_dir = tmp_path / "run"
    cfg = compose_cfg([*TINY, "logger=wandb", "callbacks.representations.epochs=[0,1]",
                       "logger.wandb.artifacts.reps=true"], run_dir)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="xmsem.train"):
        run(cfg, run_dir)

    # one line about wandb per run (ours); wandb itself prints nothing (was ~35 lines)
    out, err = capfd.readouterr()
    printed = [line for line in (out + err).splitlines() if line.startswith("wandb")]
    assert printed == [], printed
    ours = [
        r.getMessage()
        for r in caplog.records  # xmsem's records (wandb's own logger is
        if r.name.startswith("xmsem") and r.getMessage().startswith("wandb")
    ]  # not output)
    assert len(ours) == 1 and ours[0].startswith("wandb: offline run "), ours

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
    assert len(cka) == 3 and all(0.0 <= v <= 1.0 for v in cka)  # epochs 0, 1 and the last, 2
    # every metric is plotted against epochs_trained (exact definitions, made before a key's
    # first value, beat Lightning's "*" -> trainer/global_step glob)
    kinds: dict[str, list] = {}
    for record in records(files[0]):
        kinds.setdefault(record.WhichOneof("record_type"), []).append(record)
    steps = {m.metric.name: m.metric.step_metric for m in kinds["metric"] if m.metric.name}
    scalars = {k for k in keys if not k.startswith(("_", "alignment/", "heatmap/"))
               and k not in ("epochs_trained", "trainer/global_step")}  # fmt: skip
    assert scalars and {k: steps.get(k) for k in scalars} == dict.fromkeys(
        scalars, "epochs_trained"
    )
    assert "member/layer_cka/pgnn/h1" not in keys  # a layer with itself (1): not a metric
    assert "member/layer_cka/pgnn/h1~h2" in keys
    # one convention: validation after k epochs at epochs_trained=k (1, 2), snapshots at their
    # epoch, "epoch" equal to epochs_trained on every row; neither series ever goes back
    val = [json.loads(row["epochs_trained"]) for row in history if "val/pgnn/acc" in row]
    assert val == [1, 2]
    snapshots = [row for row in history if "align/linear_cka/pgnn~mlp/h2" in row]
    assert [json.loads(row["epochs_trained"]) for row in snapshots] == [0, 1, 2]
    for key in ("epochs_trained", "epoch", "trainer/global_step"):
        series = [json.loads(row[key]) for row in history if key in row]
        assert series == sorted(series), (key, series)
    assert all(json.loads(row["epoch"]) == json.loads(row["epochs_trained"])
               for row in history if "epoch" in row)  # fmt: skip

    # a table of the alignment rows per snapshot: the rows of alignment.csv
    rows = [r for r in read_rows(run_dir) if r["epoch"] == "2"]
    last = snapshots[-1]
    assert json.loads(last["alignment/rows/nrows"]) == len(rows)
    table = json.loads((files[0].parent / "files" / json.loads(last["alignment/rows/path"]))
                       .read_text())  # fmt: skip
    assert table["columns"][-1] == "label"
    logged = {(r[1], r[2], r[3], r[4], r[5]): r[6] for r in table["data"]}
    for r in rows:
        key = (r["member_a"], r["member_b"], r["layer_a"], r["layer_b"], r["metric"])
        assert logged[key] == pytest.approx(float(r["value"]), abs=1e-12)

    # interactive heatmaps: (layer A, layer B, CKA) tables drawn by wandb's heatmap preset
    panel = json.loads(config["_wandb/visualize/heatmap/layer_cka/pgnn"])
    assert panel["panel_config"]["panelDefId"] == HEATMAP_PRESET
    cells = json.loads((files[0].parent / "files" / json.loads(
        last["heatmap/layer_cka/pgnn_table/path"])).read_text())["data"]  # fmt: skip
    assert len(cells) == 4 and all(v == pytest.approx(1.0) for a, b, v in cells if a == b)
    off = next(v for a, b, v in cells if (a, b) == ("h1", "h2"))
    assert off == pytest.approx(next(float(r["value"]) for r in rows if r["metric"] == "layer_cka"
                                     and r["member_a"] == "pgnn" and r["layer_b"] == "h2"
                                     and r["layer_a"] == "h1"), abs=1e-12)  # fmt: skip
    assert "heatmap/member_cka_table/nrows" in keys

    # artifacts when switched on: reps/ as a "representations" artifact
    arts = {(a.artifact.name, a.artifact.type) for a in kinds["artifact"]}
    assert (f"reps-{run_id}", "representations") in arts
    assert not any(t == "model" for _, t in arts)  # checkpoints stay off by default
