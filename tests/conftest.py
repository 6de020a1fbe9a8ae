"""Shared fixtures: compose real Hydra configs in-process, tiny synthetic settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import xmsem.config  # noqa: F401  (registers resolvers)

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "conf"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# conf/debug/tiny.yaml (a few hundred synthetic examples, two epochs) with 16-wide members:
# seconds per run, but every real code path.
TINY = [
    "debug=tiny",
    "model.pgnn.hidden=[16,16]",
    "model.pgnn.corr_rank=4",
    "model.mlp.hidden=[16,16]",
    "callbacks.representations.subspace_k=4",
]


def compose_cfg(overrides: list[str], output_dir: Path, multirun: bool = False) -> DictConfig:
    """Compose ``conf/config.yaml`` with ``overrides`` as Hydra would, outputs under ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[*overrides, f"paths.output_dir={output_dir}"],
            return_hydra_config=True,
        )
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = str(ROOT)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


def pytest_collection_modifyitems(config, items) -> None:
    """``@pytest.mark.gpu`` tests are skipped where CUDA is not available."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (gpu marker)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
