"""Config groups from the user's own directories (--config-dir, hydra.searchpath), and debug=tiny
with any dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, compose_cfg
from xmsem.cli.checks import check_group_overrides, config_dirs
from xmsem.data.fmnist import SYSTEM_FMNIST_DIR

CONF = ROOT / "conf"
MYDATA = """name: synthetic
batch_size: 32
val_size: 100
split_seed: 0
n_train: 500
n_test: 240
latent_dim: 4
input_dim: 12
num_classes: 3
hidden: 16
noise: 0.1
seed: 7
"""


@pytest.fixture
def user_conf(tmp_path: Path) -> Path:
    conf = tmp_path / "my_conf"
    (conf / "data").mkdir(parents=True)
    (conf / "model").mkdir()
    (conf / "data" / "mydata.yaml").write_text(MYDATA)
    (conf / "model" / "mynet.yaml").write_text("mynet:\n  arch: mlp\n  hidden: [8, 6]\n")
    return conf


def test_pre_compose_check_searches_every_config_dir(user_conf: Path) -> None:
    ok = ["data=mydata", "model=mynet"]
    assert check_group_overrides(ok, CONF) is not None  # not found without the user's dir
    for flags in (["--config-dir", str(user_conf)], [f"--config-dir={user_conf}"],
                  ["-cd", str(user_conf)], [f"hydra.searchpath=[file://{user_conf}]"],
                  [f"hydra.searchpath=[pkg://xmsem,{user_conf}]"]):  # fmt: skip
        assert config_dirs([*flags, *ok], CONF)[-1] == user_conf
        assert check_group_overrides([*flags, *ok], CONF) is None, flags
    problem = check_group_overrides(["-cd", str(user_conf), "data=mydat"], CONF)
    assert problem == "data=mydat is not a known data; valid: cifar10, fmnist, mydata, synthetic"
    assert config_dirs(["hydra.searchpath=[pkg://xmsem.cli]"], CONF)[-1] == ROOT / "xmsem" / "cli"


@pytest.mark.parametrize("how", ["config-dir", "searchpath"])
def test_user_data_and_model_groups_train(tmp_path: Path, user_conf: Path, how: str) -> None:
    where = (["--config-dir", str(user_conf)] if how == "config-dir"
             else [f"hydra.searchpath=[file://{user_conf}]"])  # fmt: skip
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "xmsem.train", *where, "data=mydata", "model=mynet",
         "trainer.max_epochs=1", "callbacks=none", f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed"
    assert set(status["parameters"]) == {"mynet"}
    assert status["parameters"]["mynet"] == (12 * 8 + 8) + (8 * 6 + 6) + (6 * 3 + 3)  # mydata dims


def test_debug_tiny_limits_batches_for_any_dataset(tmp_path: Path) -> None:
    synthetic = compose_cfg(["debug=tiny"], tmp_path)
    assert synthetic.data.n_train == 600 and synthetic.data.input_dim == 16  # generated: small
    fmnist = compose_cfg(["debug=tiny", "data=fmnist"], tmp_path)
    assert "n_train" not in fmnist.data  # a file dataset keeps its data, limits its batches
    for cfg in (synthetic, fmnist):
        assert cfg.trainer.max_epochs == 2 and cfg.trainer.limit_train_batches == 50
        assert cfg.trainer.limit_val_batches == 2 and cfg.trainer.limit_test_batches == 2
        assert cfg.callbacks.representations.probe_size == 240
    assert compose_cfg(["data=fmnist"], tmp_path).trainer.limit_train_batches is None


@pytest.mark.skipif(not SYSTEM_FMNIST_DIR.is_dir(), reason="no system Fashion-MNIST")
def test_debug_tiny_trains_on_fashion_mnist(tmp_path: Path) -> None:
    from xmsem.train import run

    run_dir = tmp_path / "run"
    cfg = compose_cfg(["debug=tiny", "data=fmnist", "model=mlp", "model.mlp.hidden=[32,32]",
                       "paths.data_dir=" + str(tmp_path / "nodata")], run_dir)  # fmt: skip
    results = run(cfg, run_dir)
    assert results["epochs"] == 2 and results["test/mlp/acc"] > 0.5  # 10 classes: chance 0.1
    probe = json.loads((run_dir / "reps" / "epoch_002" / "manifest.json").read_text())
    assert probe["members"] == {"mlp": ["h1", "h2"]}
    import torch

    assert torch.load(run_dir / "reps" / "epoch_002" / "mlp" / "h1.pt").shape == (240, 32)
