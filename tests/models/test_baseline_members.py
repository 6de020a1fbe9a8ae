"""The study's baseline members (conf/model/mlp_wd, mlp_capped, mlp_wide) and the per-member
weight decay they need; conf/experiment/study_fmnist composes them into 20 paired copies."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import compose_cfg
from xmsem.config import ConfigError
from xmsem.config import validate as validate_config
from xmsem.lit.cohort import CohortModule, member_options
from xmsem.models import build_model, count_parameters
from xmsem.train import run

FMNIST_IN, FMNIST_CLASSES = 784, 10
PGNN_PARAMS = 368_138  # 256-256-256 with the rank-16 correction on Fashion-MNIST


def _params(spec: dict) -> int:
    net, _ = member_options(spec)
    return count_parameters(build_model(net, FMNIST_IN, FMNIST_CLASSES))


def _study(tmp_path: Path, extra: list[str] = ()):
    return compose_cfg(["+experiment=study_fmnist", *extra], tmp_path)


def test_study_protocol_and_baselines(tmp_path: Path) -> None:
    cfg = _study(tmp_path)
    validate_config(cfg)
    assert cfg.ensemble == 20 and cfg.data_order == "per_copy" and cfg.data.name == "fmnist"
    assert cfg.callbacks.early_stopping.test_on == "last"
    assert cfg.trainer.max_epochs in cfg.callbacks.representations.epochs  # tested = snapshot
    specs = OmegaConf.to_container(cfg.model, resolve=True)
    assert set(specs) == {"pgnn", "mlp", "mlp_aa", "mlp_wd", "mlp_capped", "mlp_wide"}
    assert specs["mlp_aa"] == specs["mlp"]  # A/A: the same architecture, its own seeds
    assert specs["mlp_wd"]["weight_decay"] == 5e-4
    capped = specs["mlp_capped"]
    assert capped["shaping"] == "spectral" and capped["correction"] is False
    assert capped["gamma"] == specs["pgnn"]["gamma"]
    # parameter counts: PGNN 368,138; mlp_wide within 1% (2w^2 + 797w + 10 at w = 274)
    assert _params(specs["pgnn"]) == PGNN_PARAMS
    assert _params(specs["mlp_wide"]) == 2 * 274**2 + 797 * 274 + 10 == 368_540
    assert abs(_params(specs["mlp_wide"]) - PGNN_PARAMS) / PGNN_PARAMS < 0.01
    assert _params(specs["mlp_capped"]) == _params(specs["mlp"]) == 335_114
    assert _params(specs["mlp_wd"]) == _params(specs["mlp"])


@pytest.mark.parametrize("bad", ["-0.1", "abc", "true"])
def test_member_weight_decay_is_checked(tmp_path: Path, bad: str) -> None:
    cfg = compose_cfg([f"+model.mlp.weight_decay={bad}"], tmp_path)
    with pytest.raises(ConfigError, match=r"model\.mlp\.weight_decay=.* must be a number >= 0"):
        validate_config(cfg)


def _cohort(decay: dict | None) -> CohortModule:
    torch.manual_seed(0)
    members = {"a": torch.nn.Linear(3, 2), "b": torch.nn.Linear(3, 2)}
    return CohortModule(members, num_classes=2, weight_decay=0.01, member_weight_decay=decay)


def test_parameter_groups_only_when_a_member_has_its_own_decay() -> None:
    plain = _cohort(None).configure_optimizers()
    assert len(plain.param_groups) == 1 and plain.param_groups[0]["weight_decay"] == 0.01
    cohort = _cohort({"b": 0.5})
    groups = cohort.configure_optimizers().param_groups
    assert [g["weight_decay"] for g in groups] == [0.01, 0.5]
    assert [p for g in groups for p in g["params"]] == list(cohort.parameters())


def _tiny_study(tmp_path: Path, tiny_overrides, name: str, extra: list[str]) -> dict:
    overrides = [
        "+experiment=study_fmnist", *tiny_overrides, "data=synthetic", "hydra.mode=RUN",
        "ensemble=2", "trainer.max_epochs=1", "callbacks=none", "trainer.accelerator=cpu",
        "callbacks.representations.probe_size=240", "trainer.limit_train_batches=5",
        *(f"model.{m}.hidden=[16,16]" for m in ("mlp_wd", "mlp_capped", "mlp_wide")), *extra,
    ]  # fmt: skip
    run_dir = tmp_path / name
    return run(compose_cfg(overrides, run_dir), run_dir)


def test_baselines_train_in_a_tiny_study(tmp_path: Path, tiny_overrides) -> None:
    """Every member trains (debug=tiny, 2 copies); a member's own weight decay changes that
    member alone: every other member trains bit for bit as under the plain optimizer."""
    base = _tiny_study(tmp_path, tiny_overrides, "base", [])
    members = ("pgnn", "mlp", "mlp_aa", "mlp_wd", "mlp_capped", "mlp_wide")
    for m in members:
        for k in (0, 1):
            assert 0.0 <= base[f"test/{m}.{k}/acc"] <= 1.0
    assert base["test/mlp_aa.0/loss"] != base["test/mlp.0/loss"]  # its own initialisation
    heavy = _tiny_study(tmp_path, tiny_overrides, "heavy", ["model.mlp_wd.weight_decay=0.5"])
    for k in (0, 1):
        assert heavy[f"test/mlp_wd.{k}/loss"] != base[f"test/mlp_wd.{k}/loss"]
        for m in ("pgnn", "mlp", "mlp_capped"):
            assert heavy[f"test/{m}.{k}/loss"] == base[f"test/{m}.{k}/loss"]
