"""Every experiment composes, validates, and declares the sweep it promises."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR, compose_cfg
from xmsem.config import validate

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def sweep_size(cfg) -> int:
    """Number of jobs of the sweep an experiment declares (1 when it declares none)."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    parser = OverridesParser.create()
    overrides = parser.parse_overrides([f"{k}={v}" for k, v in params.items()])
    return math.prod(
        len(list(o.sweep_iterator())) if o.is_sweep_override() else 1 for o in overrides
    )


def test_default_config_is_the_pgnn_vs_mlp_cohort(tmp_path: Path) -> None:
    cfg = compose_cfg([], tmp_path)
    validate(cfg)
    assert cfg.data.name == "synthetic"
    assert list(cfg.model) == ["pgnn", "mlp"]
    assert cfg.model.pgnn.hidden == cfg.model.mlp.hidden  # same widths by default
    assert cfg.seed == 0 and cfg.optim.lr == pytest.approx(1e-3) and cfg.data.batch_size == 128


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_validates(name: str, tmp_path: Path) -> None:
    cfg = compose_cfg([f"+experiment={name}"], tmp_path)
    validate(cfg)
    assert cfg.name == name
    assert sweep_size(cfg) >= 1


def test_fmnist_protocol_is_2_members_x_5_seeds_plus_control(tmp_path: Path) -> None:
    cfg = compose_cfg(["+experiment=fmnist_pgnn_vs_mlp"], tmp_path)
    assert cfg.data.name == "fmnist"
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert sweep_size(cfg) == 5  # seeds 0..4, each job a {pgnn, mlp, mlp_shuffled} cohort
    assert sorted(cfg.model) == ["mlp", "mlp_shuffled", "pgnn"]
    assert cfg.model.mlp_shuffled.labels == "shuffled"
    assert list(cfg.model.mlp_shuffled.hidden) == list(cfg.model.mlp.hidden)
    assert cfg.callbacks.early_stopping.enabled and cfg.callbacks.early_stopping.test_on == "best"


def test_single_member_model_choice(tmp_path: Path) -> None:
    cfg = compose_cfg(["model=mlp"], tmp_path)
    assert list(cfg.model) == ["mlp"]
    cfg = compose_cfg(["model=pgnn", "model.pgnn.shaping=projection"], tmp_path)
    assert list(cfg.model) == ["pgnn"] and cfg.model.pgnn.shaping == "projection"


def test_run_folder_names_are_deterministic_and_bounded() -> None:
    from xmsem.config import MAX_DIRNAME, _dirname

    assert _dirname("") == "default"
    assert _dirname("+experiment=x,seed=0") == "experiment=x,seed=0"
    assert _dirname("paths.x=/a/b") == "paths.x=_a_b"
    long_a = ",".join(f"k{i}=v{i}" for i in range(60)) + ",seed=0"
    long_b = long_a[:-1] + "1"
    assert len(_dirname(long_a)) == MAX_DIRNAME
    assert _dirname(long_a) == _dirname(long_a) != _dirname(long_b)


def test_validate_command_checks_every_experiment(capsys) -> None:
    from xmsem.cli.validate import main

    assert main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(EXPERIMENTS) + 1 and all(line.startswith("ok ") for line in lines)
    assert main(["data.batch_size=0"]) == 1
    assert "data.batch_size=0 is invalid" in capsys.readouterr().out
