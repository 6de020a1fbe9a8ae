"""Validation of the callbacks' settings (representations, noise, early stopping), registered
with :func:`xmsem.config.register_check`: this module imports no torch, Lightning or wandb (the
metric names and options come from :mod:`xmsem.catalog`), so a bad setting stops a run in one
line before the heavy imports. The callbacks read their settings
through the same functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from xmsem.config import (
    ConfigError,
    Convergence,
    EarlyStopping,
    Noise,
    Representations,
    check_schema,
    register_check,
    to_plain,
)

TEST_ON = ("last", "best")

# --------------------------------------------------------------------------- representations
DEFAULT_EPOCHS = (0, 1, 2, 5, 10, 20)


def snapshot_epochs(epochs: list[int] | None, max_epochs: int) -> list[int]:
    """The snapshot epochs: the default list clipped to ``max_epochs``, or the given list; with
    ``max_epochs`` itself always (the trained network is always measured)."""
    chosen = DEFAULT_EPOCHS if epochs is None else epochs
    return sorted({int(e) for e in chosen if int(e) <= max_epochs} | {int(max_epochs)})


def spec_layers(spec: Mapping[str, Any]) -> list[str]:
    """Hidden layer names of a member spec (``h1..hL`` for mlp/pgnn, ``conv1.. fc1..`` for cnn,
    the listed ``layers`` of a ``_target_`` member)."""
    from xmsem.models import member_layers

    return member_layers(spec)


def chosen_layers(layers: list[str] | None, spec: Mapping[str, Any]) -> list[str]:
    """The layers of one member to snapshot: all hidden layers, or the named ones (``primary`` or
    ``last`` = the member's last hidden layer)."""
    available = spec_layers(spec)
    if layers is None:
        return available
    last = ("primary", "last")
    return list(dict.fromkeys(available[-1] if name in last else name for name in layers))


def _check_rank_setting(
    key: str, setting: str, value: int, widths: list[int], probe_size: int | None
) -> None:
    """A setting that counts directions of the compared layers (``MetricSpec.rank_setting``,
    e.g. ``subspace_k``) fits the narrowest layer known from the specs and the probe set."""
    if widths and value > min(widths):
        raise ConfigError(
            f"{key}.{setting}={value} exceeds the narrowest compared layer "
            f"(width {min(widths)}); valid: 1..{min(widths)}"
        )
    if probe_size is not None and value > probe_size:
        raise ConfigError(f"{key}.{setting}={value} exceeds probe_size={probe_size}")


@register_check("callbacks.representations")
def validate_representation_config(cfg: DictConfig) -> None:
    """One-line ConfigError for bad ``callbacks.representations`` settings (before training)."""
    rep = representation_settings(cfg)
    if rep is None:
        return
    # all torch-free: the metric catalogue answers from the alignment sources until
    # xmsem.alignment is imported (xmsem.catalog), so a bad setting is refused before torch loads
    from xmsem.catalog import MAP_KINDS as TRANSFER_MAPS
    from xmsem.catalog import NORMALIZATIONS, check_metric_params, configured, metric_catalog
    from xmsem.models import layer_widths
    from xmsem.snapshots.settings import PAIRINGS
    from xmsem.snapshots.settings import STORAGE_DTYPE_NAMES as STORAGE_DTYPES

    key = "callbacks.representations"
    max_epochs = int(cfg.trainer.max_epochs)
    if rep.epochs is not None:
        bad = [e for e in rep.epochs if not 0 <= e <= max_epochs]
        if bad:
            raise ConfigError(
                f"{key}.epochs: epoch {bad[0]} is outside 0..trainer.max_epochs={max_epochs}; "
                f"valid: integers in [0, {max_epochs}]"
            )
    metrics = metric_catalog()  # the registry, live or read from the sources
    unknown = [m for m in rep.metrics if m not in metrics]
    if unknown:
        raise ConfigError(
            f"{key}.metrics: {unknown[0]!r} is not a known metric; valid: {', '.join(sorted(metrics))}"
        )
    try:
        check_metric_params(metrics, to_plain(rep.metric_params), f"{key}.metric_params")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if rep.storage_dtype not in STORAGE_DTYPES:
        raise ConfigError(
            f"{key}.storage_dtype={rep.storage_dtype!r}; valid: {', '.join(STORAGE_DTYPES)}"
        )
    if rep.pairs not in PAIRINGS:
        raise ConfigError(f"{key}.pairs={rep.pairs!r}; valid: {', '.join(PAIRINGS)}")
    bad_maps = [m for m in rep.transfer_maps if m not in TRANSFER_MAPS]
    if bad_maps or not rep.transfer_maps:
        raise ConfigError(
            f"{key}.transfer_maps: {bad_maps[0] if bad_maps else 'empty list'!r} is not a map; "
            f"valid: a non-empty list of {', '.join(TRANSFER_MAPS)}"
        )
    if rep.normalize not in NORMALIZATIONS:
        raise ConfigError(f"{key}.normalize={rep.normalize!r}; valid: {', '.join(NORMALIZATIONS)}")
    for name in ("subspace_k", "rbf_max_n", "probe_max_iter"):
        if getattr(rep, name) < 1:
            raise ConfigError(f"{key}.{name}={getattr(rep, name)} must be a positive integer")
    if rep.probe_size is not None and rep.probe_size < 8:
        raise ConfigError(
            f"{key}.probe_size={rep.probe_size} must be >= 8 (or null for the whole test split)"
        )
    widths: list[int] = []
    for member, spec in to_plain(cfg.model).items():
        available = spec_layers(spec)
        for name in rep.layers or []:
            if name not in ("primary", "last") and name not in available:
                raise ConfigError(
                    f"{key}.layers: model.{member} has no layer {name!r}; "
                    f"valid: {', '.join(available)} or primary (= last)"
                )
        known = layer_widths(spec)  # None: widths known only once the network is built
        if known is not None:
            widths += [known[layer] for layer in chosen_layers(rep.layers, spec)]
    ranked = configured(metrics, rep.metrics)
    for setting in dict.fromkeys(x.rank_setting for x in ranked if x.rank_setting):
        _check_rank_setting(key, setting, rep[setting], widths, rep.probe_size)


def representation_settings(cfg: DictConfig) -> DictConfig | None:
    """The schema-checked ``callbacks.representations`` node, or None when absent or disabled."""
    node = (cfg.get("callbacks") or {}).get("representations")
    if node is None:
        return None
    rep = check_schema(node, Representations, "callbacks.representations")
    return rep if rep.enabled else None


# --------------------------------------------------------------------------- noise
def noise_settings(cfg: DictConfig) -> DictConfig | None:
    """The schema-checked ``callbacks.noise`` node (None when absent)."""
    node = (cfg.get("callbacks") or {}).get("noise")
    return None if node is None else check_schema(node, Noise, "callbacks.noise")


@register_check("callbacks.noise")
def validate_noise_config(cfg: DictConfig) -> None:
    """One-line ConfigError for bad ``callbacks.noise`` settings."""
    settings = noise_settings(cfg)
    if settings is None or not settings.enabled:
        return
    bad = [s for s in settings.levels if s < 0]
    if bad or not settings.levels:
        raise ConfigError(
            f"callbacks.noise.levels={list(settings.levels)} must be a non-empty list of noise "
            "standard deviations >= 0"
        )


# --------------------------------------------------------------------------- early stopping
def settings(cfg: DictConfig) -> tuple[DictConfig, DictConfig]:
    """The schema-checked ``callbacks.early_stopping`` and ``callbacks.convergence`` nodes
    (defaults where absent)."""
    node = cfg.get("callbacks") or {}
    early = check_schema(
        node.get("early_stopping") or {}, EarlyStopping, "callbacks.early_stopping"
    )
    conv = check_schema(node.get("convergence") or {}, Convergence, "callbacks.convergence")
    return early, conv


@register_check("callbacks.early_stopping")
def validate_early_stopping_config(cfg: DictConfig) -> None:
    """One-line ConfigError for bad early-stopping / convergence settings (before training)."""
    early, conv = settings(cfg)
    key = "callbacks.early_stopping"
    if early.patience < 1:
        raise ConfigError(f"{key}.patience={early.patience} must be a positive integer")
    if early.min_delta < 0:
        raise ConfigError(f"{key}.min_delta={early.min_delta} must be >= 0")
    if early.test_on not in TEST_ON:
        raise ConfigError(f"{key}.test_on={early.test_on!r}; valid: {', '.join(TEST_ON)}")
    if not 0.0 < conv.fraction <= 1.0:
        raise ConfigError(f"callbacks.convergence.fraction={conv.fraction} must be in (0, 1]")
