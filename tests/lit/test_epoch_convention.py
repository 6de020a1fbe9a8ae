"""One epoch convention, "epochs trained" (0 = before training, k = after k epochs), in
everything a run writes: the progress lines, the end table, status.json, the checkpoint and
snapshot names, the CSV logger and the alignment rows; older run folders read the same way."""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY, compose_cfg
from xmsem.analysis.discovery import read_metrics_csv
from xmsem.lit.representations import snapshot_epochs
from xmsem.runs.safeload import load_plain
from xmsem.runs.status import results_in_epochs_trained
from xmsem.snapshots import SnapshotStore
from xmsem.snapshots.table import read_rows
from xmsem.train import build_cohort, build_datamodule, run

EPOCHS = 3


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, dict, list[str], object]:
    """A 3-epoch tiny synthetic run (default snapshot list: 0, 1, 2 and, as the last, 3), its
    results, its log lines and its config."""
    run_dir = tmp_path_factory.mktemp("epochs") / "run"
    cfg = compose_cfg([*TINY, f"trainer.max_epochs={EPOCHS}",
                       "callbacks.representations.storage_dtype=float64"], run_dir)  # fmt: skip
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler, logger = Keep(level=logging.INFO), logging.getLogger("xmsem.train")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        results = run(cfg, run_dir)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return run_dir, results, records, cfg


def test_every_record_counts_epochs_trained(tiny_run) -> None:
    import json

    run_dir, results, lines, _ = tiny_run
    status = json.loads((run_dir / "status.json").read_text())
    assert status["epoch_convention"] == "epochs_trained"
    assert status["epochs_trained"] == results["epochs"] == EPOCHS
    # the progress lines: "epoch k/3" after the k-th epoch, with that epoch's validation accuracy
    progress = [re.match(r"epoch (\d+)/(\d+) .*val acc pgnn ([\d.]+)", m) for m in lines]
    progress = [m for m in progress if m]
    assert [(int(m[1]), int(m[2])) for m in progress] == [(k, EPOCHS) for k in (1, 2, 3)]

    # the CSV logger: every row's epoch and epochs_trained are one number; validation rows at
    # 1..3, snapshot rows at 0..3; the rows never go back
    rows = list(csv.DictReader((run_dir / "csv" / "version_0" / "metrics.csv").open()))
    trained = [float(r["epochs_trained"]) for r in rows]
    assert all(float(r["epoch"]) == t for r, t in zip(rows, trained, strict=True))
    assert trained == sorted(trained)
    val = {int(float(r["epochs_trained"])): float(r["val/pgnn/acc"]) for r in rows
           if r.get("val/pgnn/acc")}  # fmt: skip
    assert sorted(val) == [1, 2, 3]
    snaps = [int(float(r["epochs_trained"])) for r in rows if r.get("align/linear_cka/pgnn~mlp/h2")]
    assert snaps == [0, 1, 2, 3]
    # the progress line of epoch k shows the CSV's validation accuracy at epochs_trained = k
    for m in progress:
        assert float(m[3]) == pytest.approx(val[int(m[1])], abs=5e-4)

    # status.json: best epochs are ints in the same convention, and are where the CSV says
    for model in ("pgnn", "mlp"):
        accs = {k: float(r[f"val/{model}/acc"]) for r in rows if r.get(f"val/{model}/acc")
                for k in [int(float(r["epochs_trained"]))]}  # fmt: skip
        losses = {int(float(r["epochs_trained"])): float(r[f"val/{model}/loss"]) for r in rows
                  if r.get(f"val/{model}/loss")}  # fmt: skip
        best, best_loss = (status["results"][f"val/{model}/best_epoch"],
                           status["results"][f"val/{model}/best_loss_epoch"])  # fmt: skip
        assert type(best) is int and type(best_loss) is int
        assert best == max(accs, key=lambda k: (accs[k], -k))  # first epoch of the best
        assert best_loss == min(losses, key=lambda k: (losses[k], k))
        # the end table says the same epoch
        table = next(m for m in lines if m.startswith("run finished"))
        assert re.search(rf"{model}\s+\S+\s+[\d.]+ \(epoch {best}\)", table), table
    assert "alignment at the last snapshot (epoch 3," in table
    # the analysis reads the CSV in the same convention
    assert sorted(read_metrics_csv(run_dir)) == [0, 1, 2, 3]

    # snapshots and alignment rows: 0..3 (3, the last, although not in the default list)
    assert SnapshotStore(run_dir).epochs() == [0, 1, 2, 3]
    assert sorted({int(r["epoch"]) for r in read_rows(run_dir)}) == [0, 1, 2, 3]


def test_checkpoint_holds_the_weights_of_the_snapshot_of_its_number(tiny_run) -> None:
    run_dir, _, _, cfg = tiny_run
    names = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
    assert names == ["epoch003.ckpt", "last.ckpt"]
    ckpt = load_plain(run_dir / "checkpoints" / "epoch003.ckpt")
    assert ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == EPOCHS

    datamodule = build_datamodule(cfg)
    raw = datamodule.prepare()
    cohort = build_cohort(cfg, raw.input_dim, raw.num_classes, raw.image_shape)
    cohort.load_state_dict(ckpt["state_dict"])
    probe = datamodule.probe_set(cfg.callbacks.representations.probe_size, torch.device("cpu"))
    store = SnapshotStore(run_dir)
    for model in ("pgnn", "mlp"):
        hidden = cohort.hidden(model, probe.x)  # eval mode, no grad
        for layer in ("h1", "h2"):
            now = hidden[layer].double()
            same = store.load(EPOCHS, model, layer, torch.float64)
            before = store.load(EPOCHS - 1, model, layer, torch.float64)
            assert torch.allclose(now, same, rtol=1e-6, atol=1e-6), (model, layer)
            assert not torch.allclose(now, before, rtol=1e-3, atol=1e-3), (model, layer)


def test_the_last_epoch_is_always_snapshotted() -> None:
    assert snapshot_epochs(None, 3) == [0, 1, 2, 3]
    assert snapshot_epochs(None, 7) == [0, 1, 2, 5, 7]
    assert snapshot_epochs(None, 20) == [0, 1, 2, 5, 10, 20]
    assert snapshot_epochs([0, 2], 4) == [0, 2, 4]
    assert snapshot_epochs([4, 0], 4) == [0, 4]


def test_older_runs_are_read_in_the_same_convention(tmp_path: Path) -> None:
    """Run folders written before the convention: the CSV's ``epoch`` column and status.json's
    ``best_epoch`` held Lightning's 0-based epoch index."""
    old = tmp_path / "csv" / "version_0" / "metrics.csv"
    old.parent.mkdir(parents=True)
    old.write_text("epoch,step,val/a/acc\n0,9,0.5\n1,19,0.7\n")
    assert read_metrics_csv(tmp_path) == {1: {"step": 9.0, "val/a/acc": 0.5},
                                          2: {"step": 19.0, "val/a/acc": 0.7}}  # fmt: skip
    status = {"results": {"val/a/best_epoch": 1, "val/a/best_loss_epoch": 2.0, "epochs": 2}}
    converted = results_in_epochs_trained(status)
    assert converted == {"val/a/best_epoch": 2, "val/a/best_loss_epoch": 2.0, "epochs": 2}
    status["epoch_convention"] = "epochs_trained"
    assert results_in_epochs_trained(status)["val/a/best_epoch"] == 1


def test_a_checkpoint_of_an_older_run_resumes_in_the_same_convention() -> None:
    from xmsem.lit.cohort import CohortModule

    cohort = CohortModule({"a": torch.nn.Linear(2, 2)}, num_classes=2)
    state = {"best_val_epoch": torch.tensor([0, -1, 4])}
    old = {"state_dict": dict(state)}
    cohort.on_load_checkpoint(old)
    assert old["state_dict"]["best_val_epoch"].tolist() == [1, -1, 5]  # -1: never validated
    new = {"state_dict": dict(state), "xmsem_epochs": "epochs_trained"}
    cohort.on_load_checkpoint(new)
    assert new["state_dict"]["best_val_epoch"].tolist() == [0, -1, 4]
    saved: dict = {}
    cohort.on_save_checkpoint(saved)
    assert saved["xmsem_epochs"] == "epochs_trained"
