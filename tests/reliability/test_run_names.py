"""Issue 20 item 4 (with issue 17 break 2): run folders a person can read. At 701789c a folder
was named by the whole override string (``model.cnn={_target_: ...},callbacks.representations.p
~7abcbe88a650``) and ``trainer.max_epochs`` was part of it, so training longer started a new
folder. Now: the swept keys, then ``~`` and a hash of the rest; max_epochs left out."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from tests.conftest import compose_cfg
from xmsem.config import run_id
from xmsem.runs.sweep_summary import swept_keys

EXCLUDE = ["name", "trainer.max_epochs", "paths.output_dir", "hydra.run.dir"]


def test_swept_keys_are_shown_and_the_rest_hashed() -> None:
    common = ["debug=tiny", "model.pgnn.hidden=[16,16]"]
    a = run_id(["seed=3", *common], EXCLUDE, swept=["seed"])
    b = run_id(["seed=4", *common], EXCLUDE, swept=["seed"])
    other = run_id(["seed=3", "debug=tiny", "model.pgnn.hidden=[32,32]"], EXCLUDE, swept=["seed"])
    assert a.startswith("seed=3~") and b.startswith("seed=4~")
    assert a.split("~")[1] == b.split("~")[1] != other.split("~")[1]  # hash of the rest
    assert run_id(["seed=3"], EXCLUDE, swept=["seed"]) == "seed=3"  # nothing else: no hash
    # the order of the other overrides does not matter; a swept excluded key is shown
    assert run_id([*reversed(common), "seed=3"], EXCLUDE, swept=["seed"]) == a
    assert run_id(["trainer.max_epochs=2"], EXCLUDE, swept=["trainer.max_epochs"]) == (
        "trainer.max_epochs=2"
    )


def test_single_runs_short_readable_long_hashed_and_max_epochs_left_out() -> None:
    assert run_id(["seed=3", "trainer.max_epochs=9"], EXCLUDE, swept=[]) == "seed=3"
    assert run_id([], EXCLUDE, swept=[]) == "default"
    spec = "model.cnn={_target_: mynets.SmallCNN, layers: [conv1, conv2, fc1], channels: 8}"
    long = run_id([spec, "callbacks.representations.probe_size=500"], EXCLUDE, swept=[])
    assert long.startswith("cfg~") and len(long) == 12


def test_run_dir_is_the_same_for_more_epochs(tmp_path: Path) -> None:
    def run_dir(epochs: int) -> str:
        cfg = compose_cfg(["debug=tiny", "seed=2", f"trainer.max_epochs={epochs}"], tmp_path)
        return str(OmegaConf.select(cfg, "hydra.run.dir"))

    assert run_dir(2) == run_dir(7)
    assert run_dir(2).endswith("/runs/default/debug=tiny,seed=2")


def test_swept_keys_of_a_sweep_config(tmp_path: Path) -> None:
    cfg = OmegaConf.create({"hydra": {"overrides": {"task": ["seed=0,1,2", "debug=tiny",
                                                             "model.pgnn.gamma=0.5"]},
                                      "sweeper": {"params": {"data": "synthetic,fmnist"}}}})  # fmt: skip
    assert swept_keys(cfg) == ["data", "seed"]
    from xmsem import config
    from xmsem.runs import sweep_summary

    assert config.SWEPT_KEYS_ENV == sweep_summary.SWEPT_KEYS_ENV  # one variable, two layers
