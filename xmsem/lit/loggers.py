"""Loggers of a run: CSV always, wandb (offline by default) when ``logger=wandb``.

wandb is built here rather than by plain ``instantiate`` because it needs, at creation time, the
fully resolved config (offline runs can lose config set later), a stable run id (so a resumed
run continues the same wandb run) and a group/name derived from the study.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

WANDB_MODES = ("offline", "online", "disabled")


def run_name(cfg: DictConfig) -> str:
    """Human-readable run name: members, dataset and seed (e.g. ``pgnn+mlp-fmnist-s3``)."""
    members = "+".join(cfg.model.keys())
    return f"{members}-{cfg.data.name}-s{cfg.seed}"


def stable_run_id(run_dir: Path) -> str:
    """A wandb run id that is the same every time this run directory is (re)started."""
    key = "/".join(Path(run_dir).resolve().parts[-3:])
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def build_wandb_logger(cfg: DictConfig, node: DictConfig, run_dir: Path) -> Any:
    """A WandbLogger for this run (offline unless ``logger.wandb.mode=online``)."""
    from lightning.pytorch.loggers import WandbLogger

    mode = node.get("mode", "offline")
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={mode!r} is not one of {', '.join(WANDB_MODES)}")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    return WandbLogger(
        project=node.get("project", "xmsem"),
        entity=node.get("entity"),
        group=node.get("group") or cfg.name,
        name=run_name(cfg),
        id=stable_run_id(run_dir),
        resume="allow",
        save_dir=str(run_dir),
        offline=mode == "offline",
        mode=mode,
        tags=list(node.get("tags") or []),
        config=resolved,
        log_model=False,
    )


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Any]:
    """Every logger configured under ``cfg.logger`` (``null`` entries are skipped)."""
    loggers = []
    for key, node in (cfg.get("logger") or {}).items():
        if node is None:
            continue
        if key == "wandb":
            loggers.append(build_wandb_logger(cfg, node, run_dir))
        else:
            loggers.append(instantiate(node))
    return loggers


def finish_loggers(loggers: list[Any], failed: bool) -> None:
    """Flush every logger; close the wandb run with exit code 1 when the job failed."""
    for lg in loggers:
        lg.finalize("failed" if failed else "success")
    finish_active_wandb(failed)


def finish_active_wandb(failed: bool) -> None:
    """``wandb.finish`` the active run, if any (sequential jobs must not share a run)."""
    import sys

    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)
