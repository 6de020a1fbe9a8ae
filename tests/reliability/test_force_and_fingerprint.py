"""Break 1: force=true on a completed run, interrupted, then rerun without force must give the
new config's numbers (at 8f0184a it resumed the old last.ckpt and reported the old model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability._runs import status, train
from xmsem.runs.fingerprint import RunConflict


def test_force_kill_rerun_gives_the_new_configs_numbers(tmp_path: Path, monkeypatch) -> None:
    run_dir = tmp_path / "run"
    old = train(run_dir, ["optim.lr=1e-3"])
    # the same folder, another config, forced; killed at the end of epoch 1 (after epoch 0's
    # checkpoint, before epoch 1's)
    train(run_dir, ["optim.lr=5e-3", "force=true"], kill_at=1, monkeypatch=monkeypatch)
    assert status(run_dir)["state"] == "running"
    resumed = train(run_dir, ["optim.lr=5e-3"])
    fresh = train(tmp_path / "fresh", ["optim.lr=5e-3"])
    assert resumed == fresh  # the new config's numbers, bit for bit (deterministic CPU)
    assert resumed["test/mlp/loss"] != old["test/mlp/loss"]
    st = status(run_dir)
    assert st["resumed_from"].endswith("last.ckpt") and st["attempts"] == 2
    # nothing mixed: the old attempt lives in retired/, no Lightning "-v1" strays
    (retired,) = (run_dir / "retired").iterdir()
    assert (retired / "checkpoints" / "last.ckpt").is_file()
    assert (retired / "status.json").is_file()
    assert not list(run_dir.rglob("*-v1*"))


def test_other_config_in_a_run_folder_is_one_line_conflict(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(run_dir, ["optim.lr=1e-3"])
    with pytest.raises(RunConflict) as err:
        train(run_dir, ["optim.lr=2e-3"])
    message = str(err.value)
    assert status(run_dir)["state"] == "completed"  # the folder's run is left as it was
    assert "\n" not in message
    assert "optim.lr: 0.001 -> 0.002" in message and "force=true" in message


def test_more_epochs_is_the_same_run(tmp_path: Path) -> None:
    """max_epochs is left out of the fingerprint: raising it is not a conflict."""
    from tests.conftest import compose_cfg
    from tests.reliability._runs import FAST
    from xmsem.runs.fingerprint import config_items, fingerprint

    a = compose_cfg([*FAST, "trainer.max_epochs=2"], tmp_path)
    b = compose_cfg([*FAST, "trainer.max_epochs=5", "force=true"], tmp_path)
    c = compose_cfg([*FAST, "optim.lr=0.01"], tmp_path)
    assert fingerprint(config_items(a)) == fingerprint(config_items(b))
    assert fingerprint(config_items(a)) != fingerprint(config_items(c))
