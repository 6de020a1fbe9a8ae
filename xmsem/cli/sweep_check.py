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


def check_sweep(config: DictConfig, composed: list[DictConfig] | None = None) -> list[str]:
    """One line per job whose config does not compose or validate (empty: all good); the valid
    jobs' configs are appended to ``composed`` when given."""
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
                if composed is not None:
                    composed.append(cfg)
            except ConfigError as err:
                problems.append(f"{label}: {err}")
            except Exception as err:  # composition: unknown key, bad value, missing file
                problems.append(f"{label}: {str(err).splitlines()[0] if str(err) else err!r}")
    finally:
        if saved is not None:
            HydraConfig.instance().set_config(saved)
    return problems


def single_model_note(configs: list[DictConfig]) -> str | None:
    """One line when every job of a sweep trains a single model (e.g. ``-m model=mlp,pgnn``):
    the cross-model metrics it will not have (those measured live between two models of one run;
    the cross-run analysis compares the jobs' snapshots with the others). None otherwise."""
    if not configs or any(len(cfg.get("model") or {}) > 1 for cfg in configs):
        return None
    from xmsem.alignment import get_metric

    wanted = []
    for cfg in configs:
        rep = (cfg.get("callbacks") or {}).get("representations") or {}
        if rep.get("enabled", True):
            wanted += [str(m) for m in rep.get("metrics") or []]
    wanted = list(dict.fromkeys(wanted))
    live = [m for m in wanted if get_metric(m).inputs != "reps"]
    across = [m for m in wanted if get_metric(m).inputs == "reps"]
    models = sorted({name for cfg in configs for name in cfg.model})
    missing = ", ".join([*live, "cross_layer_cka"] if live else ["cross_layer_cka"])
    kept = f"; across runs `python -m xmsem.analyze` compares them with {', '.join(across)}"
    return (
        f"xmsem: every job of this sweep trains one model ({', '.join(models)}): no "
        f"cross-model {missing} (they need two models in one run, e.g. model=pgnn_vs_mlp)"
        + (kept if across else "")
    )


class SweepCheck(Callback):
    """Validates every job's composed config at the start of a multirun; exit 2 if any is bad."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.enabled:
            return
        composed: list[DictConfig] = []
        problems = check_sweep(config, composed)
        if not problems:
            note = single_model_note(composed)
            if note:
                print(note, file=sys.stderr)
            return
        print(
            f"xmsem: {len(problems)} job(s) of this sweep are invalid; nothing was trained:",
            file=sys.stderr,
        )
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(2)
