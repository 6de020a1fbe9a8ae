"""Cohort early stopping: stops only when every monitored model has stopped improving; the
best-validation checkpoint is what the test measures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tests.conftest import compose_cfg
from xmsem.config import ConfigError
from xmsem.lit.early_stopping import MONITOR, ValidationTracker
from xmsem.train import run


def _fake_trainer():
    return SimpleNamespace(
        callback_metrics={}, sanity_checking=False, global_step=0, current_epoch=0,
        should_stop=False,
    )  # fmt: skip


def _feed(tracker, losses: dict[str, list[float]], steps_per_epoch: int = 10):
    """Validate epoch by epoch; return the 1-based epoch the tracker stopped at (None: never)."""
    trainer = _fake_trainer()
    n = len(next(iter(losses.values())))
    for e in range(n):
        trainer.current_epoch, trainer.global_step = e, (e + 1) * steps_per_epoch
        trainer.callback_metrics = {
            **{f"val/{m}/loss": torch.tensor(v[e]) for m, v in losses.items()},
            **{f"val/{m}/acc": torch.tensor(1.0 - v[e]) for m, v in losses.items()},
        }
        tracker.on_validation_end(trainer, None)
        if trainer.should_stop:
            return e + 1, trainer
    return None, trainer


def test_stops_when_all_models_stopped_improving():
    losses = {
        "a": [0.9, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # best at epoch 3
        "b": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4],  # best at epoch 6
    }
    stopped, trainer = _feed(ValidationTracker(enabled=True, patience=2), losses)
    assert stopped == 8  # b's 2 epochs without improvement: 7 and 8
    assert float(trainer.callback_metrics[MONITOR]) == pytest.approx(0.45)  # mean of a, b
    # a alone would have stopped at 5
    alone, _ = _feed(ValidationTracker(enabled=True, patience=2), {"a": losses["a"]})
    assert alone == 5
    # min_delta 0.15: an improvement counts only below best - 0.15 (Lightning's rule). b: best
    # 0.9 (e1), 0.8 no, 0.7 yes (e3), 0.6 no, 0.5 yes (e5), 0.4 no, 0.4 no -> waited 2 at e7
    strict, _ = _feed(ValidationTracker(enabled=True, patience=2, min_delta=0.15), losses)
    assert strict == 7


def test_controls_are_not_monitored_and_disabled_never_stops():
    losses = {"mlp": [0.9, 0.5, 0.5, 0.5], "mlp_shuffled": [2.3, 2.4, 2.6, 2.9]}
    tracker = ValidationTracker(enabled=True, patience=2, exclude=["mlp_shuffled"])
    stopped, trainer = _feed(tracker, losses)
    assert stopped == 4
    assert float(trainer.callback_metrics[MONITOR]) == pytest.approx(0.5)  # control left out
    never, _ = _feed(ValidationTracker(enabled=False, patience=1), losses)
    assert never is None


def test_results_and_state_roundtrip():
    tracker = ValidationTracker(enabled=False)
    _feed(tracker, {"a": [0.5, 0.3, 0.15, 0.1, 0.12]})  # acc 0.5, 0.7, 0.85, 0.9, 0.88
    res = tracker.results(0.95)
    assert res["val/a/epochs_to_target"] == 4.0 and res["val/a/steps_to_target"] == 40.0
    assert res["val/a/acc_auc"] == pytest.approx((0.5 + 0.7 + 0.85 + 0.9 + 0.88) / 5)
    assert res["val/a/best_loss_epoch"] == 4.0
    again = ValidationTracker()
    again.load_state_dict(tracker.state_dict())
    assert again.results(0.95) == res


def test_bad_settings_are_config_errors(tmp_path: Path, tiny_overrides):
    for bad, match in (
        ("callbacks.early_stopping.patience=0", "patience"),
        ("callbacks.early_stopping.test_on=worst", "test_on"),
        ("callbacks.convergence.fraction=1.5", "fraction"),
    ):
        cfg = compose_cfg([*tiny_overrides, "callbacks=none", bad], tmp_path / "r")
        with pytest.raises(ConfigError, match=match):
            run(cfg, tmp_path / "r")
        assert not (tmp_path / "r" / "status.json").exists()


def test_run_stops_early_and_tests_the_best_checkpoint(tmp_path: Path, tiny_overrides):
    # lr so large that validation loss gets worse after the first epochs: early stopping with
    # patience 1 stops before max_epochs, and the test uses the best (not the last) weights
    run_dir = tmp_path / "run"
    overrides = [*tiny_overrides, "callbacks=none", "trainer.max_epochs=8", "optim.lr=0.3",
                 "callbacks.early_stopping.enabled=true", "callbacks.early_stopping.patience=1",
                 "callbacks.early_stopping.test_on=best"]  # fmt: skip
    results = run(compose_cfg(overrides, run_dir), run_dir)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed" and results["tested_on"] == "best"
    best = run_dir / "checkpoints" / "best.ckpt"
    assert best.is_file()
    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    trained = results["epochs"]
    assert results["stopped_epoch"] is not None and results["stopped_epoch"] < 8
    # the best checkpoint is the epoch of the lowest mean validation loss of the two models
    from tests.foundation.test_train_run import logged_rows

    rows = [r for r in logged_rows(run_dir) if r.get("val/pgnn/loss")]
    means = [(float(r["val/pgnn/loss"]) + float(r["val/mlp/loss"])) / 2 for r in rows]
    assert ckpt["epoch"] == means.index(min(means))
    assert ckpt["epoch"] + 1 < results["stopped_epoch"]  # the best is not the last epoch
    # the test numbers are those of the best checkpoint's weights
    from xmsem.train import build_cohort, build_datamodule

    cfg = compose_cfg(overrides, tmp_path / "other")
    dm = build_datamodule(cfg)
    raw = dm.prepare()
    cohort = build_cohort(cfg, raw.input_dim, raw.num_classes)
    cohort.load_state_dict(ckpt["state_dict"])
    cohort.eval()
    dm.setup("test")
    x, y = dm.test_x, dm.test_y
    with torch.no_grad():
        acc = (cohort.members["mlp"](x).argmax(1) == y).double().mean().item()
    assert results["test/mlp/acc"] == pytest.approx(acc, abs=1e-6)
    assert math.isfinite(results["val/mlp/acc_auc"]) and trained >= 1
