"""Hydra callback: compose and validate every job of a sweep before the first one trains.

Registered in conf/hydra/default.yaml (``on_multirun_start``). A sweep with any bad job (a
composition error, a :class:`xmsem.config.ConfigError`) prints one line per bad job and exits 2:
nothing trains, nothing is written into job folders.
"""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """The override lists of every job of the sweep (what Hydra's basic sweeper will launch)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(config.hydra.overrides.task)
    parsed = OverridesParser.create().parse_overrides(arguments)
    batches = BasicSweeper.split_arguments(parsed, None)
    return [list(job) for batch in batches for job in batch]


def check_sweep(config: DictConfig) -> list[str]:
    """One line per job whose config does not compose or validate (empty: all good)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from xmsem.config import ConfigError
    from xmsem.lit.validation import validate_run_config

    loader = GlobalHydra.instance().config_loader()
    saved = HydraConfig.instance().cfg
    problems = []
    try:
        for job in sweep_jobs(config):
            label = " ".join(job) or "(no overrides)"
            try:
                cfg = loader.load_sweep_config(config, job)
                HydraConfig.instance().set_config(cfg)
                validate_run_config(cfg)
            except ConfigError as err:
                problems.append(f"{label}: {err}")
            except Exception as err:  # composition: unknown key, bad value, missing file
                problems.append(f"{label}: {str(err).splitlines()[0] if str(err) else err!r}")
    finally:
        if saved is not None:
            HydraConfig.instance().set_config(saved)
    return problems


class SweepCheck(Callback):
    """Validates every job's composed config at the start of a multirun; exit 2 if any is bad."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.enabled:
            return
        problems = check_sweep(config)
        if not problems:
            return
        print(
            f"xmsem: {len(problems)} job(s) of this sweep are invalid; nothing was trained:",
            file=sys.stderr,
        )
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(2)
