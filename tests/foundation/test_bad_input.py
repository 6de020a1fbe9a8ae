"""Bad input stops before training with one line naming the key and what is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONF_DIR, ROOT, compose_cfg
from xmsem.cli.checks import check_group_overrides
from xmsem.config import ConfigError, validate
from xmsem.lit.representations import validate_representation_config


def check(overrides: list[str], tmp_path: Path) -> str:
    cfg = compose_cfg(overrides, tmp_path)
    with pytest.raises(ConfigError) as info:
        validate(cfg, extra_checks=[validate_representation_config])
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_group_option_names_the_valid_ones() -> None:
    msg = check_group_overrides(["data=imagenet"], CONF_DIR)
    assert msg == "data=imagenet is not a known data; valid: cifar10, fmnist, synthetic"
    msg = check_group_overrides(["-m", "model=mlp,resnet", "seed=1"], CONF_DIR)
    assert "model=resnet" in msg and "pgnn_vs_mlp" in msg
    assert "experiment=nope" in check_group_overrides(["+experiment=nope"], CONF_DIR)
    assert check_group_overrides(["data=fmnist", "model=mlp,pgnn"], CONF_DIR) is None


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        (
            "data.name=imagenet",
            "data.name='imagenet' is not known; valid: cifar10, fmnist, synthetic",
        ),
        ("data.batch_size=0", "data.batch_size=0 is invalid: must be a positive int"),
        ("data.batch_size=-5", "data.batch_size=-5"),
        ("optim.lr=0", "optim.lr=0.0 is invalid: must be a positive float"),
        ("optim.lr=-0.1", "optim.lr=-0.1"),
        ("+data.batchsize=3", "data.batchsize"),
        ("model.pgnn.shaping=fancy", "model.pgnn"),
        ("model.mlp.arch=transformer", "model.mlp"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0"),
    ],
)
def test_config_errors_are_one_line(override: str, needle: str, tmp_path: Path) -> None:
    assert needle in check([override], tmp_path)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["callbacks.representations.epochs=[0,3]", "trainer.max_epochs=2"], "epoch 3 is outside"),
        (
            ["callbacks.representations.layers=[h1,h9]"],
            "has no layer 'h9'; valid: h1, h2, h3 or primary",
        ),
        (
            ["callbacks.representations.metrics=[linear_cka,cka_magic]"],
            "'cka_magic' is not a known metric",
        ),
        (["callbacks.representations.subspace_k=300"], "subspace_k=300 exceeds the narrowest"),
        (["callbacks.representations.storage_dtype=int8"], "storage_dtype='int8'"),
        (
            ["callbacks.representations.metric_params={mutual_knn: {k: 0}}"],
            "callbacks.representations.metric_params.mutual_knn.k=0; valid: an int >= 1",
        ),
        (
            ["callbacks.representations.metric_params={rsa: {distance: manhattan}}"],
            "metric_params.rsa.distance='manhattan'; valid: one of euclidean, cosine, correlation",
        ),
        (
            ["callbacks.representations.metric_params={mutual_knn: {kk: 3}}"],
            "metric_params.mutual_knn.kk: not an option of mutual_knn; valid: k",
        ),
        (
            ["callbacks.representations.metric_params={knn: {k: 3}}"],
            "metric_params.knn: not a registered metric; valid:",
        ),
    ],
)
def test_representation_config_errors(overrides: list[str], needle: str, tmp_path: Path) -> None:
    assert needle in check(overrides, tmp_path)


def test_missing_fmnist_offline_names_all_three_ways(tmp_path: Path, monkeypatch) -> None:
    from xmsem.data import fmnist

    monkeypatch.setattr(fmnist, "SYSTEM_FMNIST_DIR", tmp_path / "no-system-copy")
    with pytest.raises(FileNotFoundError) as info:
        fmnist.load_fmnist(tmp_path / "empty", download=False)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "empty") in message and "dataset-fashion-mnist" in message
    assert "download" in message


def test_cli_prints_one_line_and_trains_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for args, needle in (
        (["data=imagenet"], "data=imagenet is not a known data; valid: cifar10, fmnist, synthetic"),
        (["data.batch_size=0"], "data.batch_size=0 is invalid"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "xmsem.train", *args, f"paths.output_dir={out}"],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0], proc.stderr
        assert not list(out.rglob("last.ckpt"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["model.pgnn.gamma=-1"], "model.pgnn: model spec key 'gamma'"),  # validate() in the job
        (["callbacks.representations.pairs=bogus"], "callbacks.representations.pairs='bogus'"),
        (["model.pgnn.gammma=1"], "model.pgnn.gammma is not a config key"),  # command line
    ],
)
def test_config_errors_come_before_lightning_and_wandb_are_imported(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    """The seconds a config error takes are those of the imports before it: validation runs
    before Lightning and wandb are imported (``-X importtime`` lists every module imported)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xmsem.train", *args, "logger=wandb",
         f"paths.output_dir={tmp_path}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    assert "xmsem.config" in imported or "xmsem.cli.overrides" in imported
    assert not {"lightning", "wandb", "lightning.pytorch"} & imported
    errors = [line for line in proc.stderr.splitlines() if line.startswith("xmsem:")]
    assert len(errors) == 1 and needle in errors[0], errors


# the messages as they were before validation stopped importing torch (recorded from main with
# the same commands), byte for byte; the metric list is the live registry's
EXPERIMENT = ["+experiment=fmnist_pgnn_vs_mlp", "hydra.mode=RUN"]
HEAVY = {"torch", "torchvision", "lightning", "lightning.pytorch", "wandb", "scipy"}


def _known_metrics() -> str:
    from xmsem.alignment import METRICS

    return ", ".join(sorted(METRICS))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trainer.max_epoch=3"], "xmsem: error: trainer.max_epoch is not a config key (trainer "
         "has no 'max_epoch'); did you mean trainer.max_epochs?"),
        (["callbacks.representations.metrics=[linear_ckaa]"], "xmsem: config error: "
         "callbacks.representations.metrics: 'linear_ckaa' is not a known metric; valid: {known}"),
        (["model.mlp.hidden=[0]"], "xmsem: config error: model.mlp: model spec key 'hidden': must "
         "be a non-empty list of positive ints, got [0]"),
        (["+callbacks.representations.metric_params={mutual_knn:{kk:3}}"], "xmsem: config error: "
         "callbacks.representations.metric_params.mutual_knn.kk: not an option of mutual_knn; "
         "valid: k"),
        (["data.name=mnist"], "xmsem: config error: data.name='mnist' is not known; valid: "
         "cifar10, fmnist, synthetic"),
        # more of the same (slow suite: each is a process of ~2 s)
        pytest.param(["+callbacks.representations.metric_params={rsa:{method:x}}"],
                     "xmsem: config error: callbacks.representations.metric_params.rsa.method="
                     "'x'; valid: one of spearman, pearson", marks=pytest.mark.slow),
        pytest.param(["+callbacks.representations.metric_params={cknna:{k:1}}"],
                     "xmsem: config error: callbacks.representations.metric_params.cknna.k=1; "
                     "valid: an int >= 2", marks=pytest.mark.slow),
        pytest.param(["+callbacks.representations.metric_params={angular_shape:{alpha:2}}"],
                     "xmsem: config error: callbacks.representations.metric_params.angular_shape."
                     "alpha=2; valid: a number in [0, 1]", marks=pytest.mark.slow),
        pytest.param(["callbacks.representations.probe_size=100000"], "xmsem: config error: "
                     "callbacks.representations.probe_size=100000 exceeds the fmnist test split "
                     "(10000 examples); use at most 10000 or null for all of it",
                     marks=pytest.mark.slow),
        pytest.param(["model.pgnn.shaping=foo"], "xmsem: config error: model.pgnn: model spec "
                     "key 'shaping': unknown shaping 'foo'; valid: spectral, projection, "
                     "diagonal, none", marks=pytest.mark.slow),
    ],
)  # fmt: skip
def test_config_errors_come_before_torch_is_imported(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    """Validation needs no torch (the specs, the settings schema and the metric catalogue are
    torch-free, xmsem.catalog): the one-line message is the same as when it came after torch,
    and neither torch nor any other heavy library is imported before it (``-X importtime``)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xmsem.train", *EXPERIMENT, *args,
         f"paths.output_dir={tmp_path}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")
    }
    assert "xmsem.config" in imported  # the run got as far as the config code
    assert not HEAVY & imported, sorted(HEAVY & imported)
    errors = [line for line in lines if line.strip() and not line.startswith("import time:")]
    assert errors == [expected.format(known=_known_metrics())]
    assert not list(tmp_path.rglob("*.ckpt"))
