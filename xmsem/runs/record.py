"""The config record of a run folder: ``.hydra/config.yaml``, ``hydra.yaml``, ``overrides.yaml``.

Hydra would write these before the task runs, so a refused or skipped rerun would overwrite the
record of the run the folder holds (``hydra.output_subdir: null`` in conf/hydra/default.yaml turns
that off). :func:`write_config_record` writes them instead, atomically, once an attempt trains:
the record then always describes what was trained. analyze and compare read these files.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from xmsem.runs.atomic import atomic_write_text

RECORD_DIR = ".hydra"


def write_config_record(run_dir: Path, cfg: DictConfig) -> Path:
    """Write the task config, Hydra's config and the overrides of this attempt (unresolved, as
    Hydra writes them) into ``run_dir/.hydra``; return that folder."""
    from hydra.core.hydra_config import HydraConfig

    folder = Path(run_dir) / RECORD_DIR
    task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    atomic_write_text(folder / "config.yaml", OmegaConf.to_yaml(task))
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        atomic_write_text(folder / "hydra.yaml", OmegaConf.to_yaml({"hydra": hydra_cfg}))
        overrides = list(hydra_cfg.overrides.task)
    else:
        overrides = []
    atomic_write_text(folder / "overrides.yaml", OmegaConf.to_yaml(overrides))
    return folder
