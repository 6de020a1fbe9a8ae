"""The fingerprint of a run's resolved config: what makes two attempts "the same run".

Keys that may change between attempts without changing what is trained (more epochs, another
device, another logger or output path, ``force``) are left out. A run folder records the
fingerprint and the flattened config in status.json; checkpoints carry them too, so a
checkpoint of another config is never resumed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


class RunConflict(RuntimeError):
    """The run folder (or a checkpoint in it) belongs to another config."""


# dotted prefixes that may differ between attempts of one run
VOLATILE = (
    "force",
    "on_divergence",
    "name",
    "paths",
    "logger",
    "launcher",
    "hydra",
    "trainer.max_epochs",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.enable_progress_bar",
    "trainer.log_every_n_steps",
    "data.data_dir",
    "data.system_dir",
    "data.download",
)


def _volatile(key: str) -> bool:
    return any(key == v or key.startswith(v + ".") for v in VOLATILE)


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` of a nested mapping (lists are kept whole, as JSON-able values)."""
    out: dict[str, Any] = {}
    if isinstance(node, Mapping):
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
        if not node and prefix:
            out[prefix[:-1]] = {}
    else:
        out[prefix[:-1]] = node
    return out


def config_items(cfg: DictConfig | Mapping) -> dict[str, Any]:
    """The flattened resolved config without the volatile keys (JSON-able values)."""
    if isinstance(cfg, DictConfig):
        try:
            plain = OmegaConf.to_container(cfg, resolve=True)
        except Exception:  # an interpolation that cannot resolve here: compare unresolved text
            plain = OmegaConf.to_container(cfg, resolve=False)
    else:
        plain = dict(cfg)
    flat = flatten(plain)
    return {k: json.loads(json.dumps(v, default=str)) for k, v in flat.items() if not _volatile(k)}


def fingerprint(items: Mapping[str, Any]) -> str:
    """A short stable hash of :func:`config_items`."""
    text = json.dumps(dict(items), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differing_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ (or that only one side has), sorted."""
    return sorted(k for k in set(old) | set(new) if old.get(k, "<unset>") != new.get(k, "<unset>"))


def describe_difference(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 4) -> str:
    """``a.b: 1 -> 2, c: x -> y (+2 more)`` for a one-line message."""
    keys = differing_keys(old, new)
    parts = [f"{k}: {old.get(k, '<unset>')} -> {new.get(k, '<unset>')}" for k in keys[:limit]]
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(parts) + more if parts else "unknown keys"


def stable_run_id(run_dir: Path) -> str:
    """A wandb run id that is the same every time this run directory is (re)started."""
    key = "/".join(Path(run_dir).resolve().parts[-3:])
    return hashlib.sha1(key.encode()).hexdigest()[:16]
