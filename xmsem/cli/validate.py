"""``python -m xmsem.validate [overrides]``: compose and validate the default config and every
experiment without training anything; one line per config, exit 1 if any is invalid."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from xmsem.config import CONF_DIR, ConfigError
from xmsem.lit.validation import validate_run_config


def check(overrides: list[str]) -> str | None:
    """The validation error of the config composed from ``overrides`` (None when valid)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(Path.cwd() / "outputs" / "validate")
        cfg.hydra.runtime.cwd = str(Path.cwd())
    HydraConfig.instance().set_config(cfg)
    try:
        validate_run_config(cfg)
    except ConfigError as err:
        return str(err)
    return None


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else argv
    names = [None] + sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
    failed = 0
    for name in names:
        overrides = ([f"+experiment={name}"] if name else []) + extra
        try:
            problem = check(overrides)
        except Exception as err:  # composition errors (unknown group option, bad override)
            problem = str(err).splitlines()[0]
        label = name or "(default)"
        print(
            f"{'ok ' if problem is None else 'BAD'} {label}" + (f": {problem}" if problem else "")
        )
        failed += problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
