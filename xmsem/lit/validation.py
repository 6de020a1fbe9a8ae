"""The whole validation of a training config: :func:`xmsem.config.validate` with the validators
of every component that registers one (the callbacks register theirs where they are defined)."""

from __future__ import annotations

from omegaconf import DictConfig

from xmsem.config import validate

# imported for their registrations (xmsem.config.register_check); nothing else is used here.
# The callbacks' checks live in xmsem.lit.checks, which imports no torch, Lightning or wandb: a
# bad setting stops the run before the heavy imports.
from xmsem.lit import checks  # noqa: F401

__all__ = ["validate_run_config"]


def validate_run_config(cfg: DictConfig) -> None:
    """Check ``cfg`` fully before any training: one-line :class:`xmsem.config.ConfigError`."""
    validate(cfg)
