"""Config schemas and whole-config validation, run before any training time is spent.

Hydra composes the YAML in ``conf/``; :func:`validate` checks the composed config against the
dataclass schemas below (unknown keys, wrong types) and the cross-field rules that no schema can
express, and raises :class:`ConfigError` with one line naming the bad key and what is valid.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from xmsem.data.registry import DATASETS
from xmsem.snapshots.settings import MeasureSettings


class ConfigError(ValueError):
    """A bad configuration value; the message is one line naming the key and what is valid."""


CONF_DIR = Path(__file__).resolve().parent.parent / "conf"  # the Hydra config root

ConfigCheck = Callable[[DictConfig], None]
# The config validators of the components (callbacks, ...): each registers its own with
# :func:`register_check` where it is defined; :func:`validate` runs them all.
CONFIG_CHECKS: dict[str, ConfigCheck] = {}


def register_check(key: str) -> Callable[[ConfigCheck], ConfigCheck]:
    """Decorator: register ``check(cfg)`` as the validator of the config node ``key`` (one per
    key; registering the same function again is a no-op, e.g. when its module is reloaded)."""

    def add(check: ConfigCheck) -> ConfigCheck:
        known = CONFIG_CHECKS.get(key)
        if known is not None and known.__qualname__ != check.__qualname__:
            raise ValueError(f"config node {key!r} already has a validator ({known.__qualname__})")
        CONFIG_CHECKS[key] = check
        return check

    return add


# --------------------------------------------------------------------------- schemas
# The ``data`` schemas live with their datasets (xmsem.data: a DatasetSpec per dataset).


@dataclass
class Optim:
    lr: float = 1e-3
    weight_decay: float = 0.0


@dataclass
class Representations(MeasureSettings):
    """Schema of ``callbacks.representations`` (snapshots + live alignment); see conf/callbacks.
    The measurement keys and their defaults are those of :class:`MeasureSettings` (inherited,
    so they exist in one place); these are the callback's own."""

    enabled: bool = True
    epochs: list[int] | None = None
    layers: list[str] | None = None
    probe_size: int | None = None
    storage_dtype: str = "float16"
    pairs: str = "last"
    layer_cka: bool = True
    cross_layer_cka: bool = True
    drift: bool = True
    latent_r2: bool = True
    heatmaps: bool = True
    seed_pairs: bool = True


@dataclass
class Noise:
    """Schema of ``callbacks.noise`` (test-time Gaussian input noise)."""

    enabled: bool = False
    levels: list[float] = field(default_factory=lambda: [0.0, 0.05, 0.1, 0.2, 0.3])
    seed: int = 0


@dataclass
class EarlyStopping:
    """Schema of ``callbacks.early_stopping`` (xmsem.lit.early_stopping): stop when every
    monitored model's validation loss has not improved by more than ``min_delta`` for
    ``patience`` epochs; ``test_on``: ``best`` tests the checkpoint of the lowest mean
    validation loss, ``last`` the final weights."""

    enabled: bool = False
    patience: int = 5
    min_delta: float = 0.0
    test_on: str = "last"


@dataclass
class Convergence:
    """Schema of ``callbacks.convergence``: epochs/steps to ``fraction`` x best validation
    accuracy (xmsem.runs.convergence)."""

    fraction: float = 0.95


# --------------------------------------------------------------------------- helpers
def did_you_mean(key: str, valid: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the closest valid name, or an empty string."""
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_schema(node: Any, schema: type, key: str) -> Any:
    """Merge ``node`` into ``schema``: unknown keys and wrong types become one-line ConfigErrors."""
    try:
        return OmegaConf.merge(OmegaConf.structured(schema), node)
    except OmegaConfBaseException as err:
        bad = getattr(err, "full_key", None) or getattr(err, "key", None) or ""
        full = f"{key}.{bad}" if bad else key
        names = [f.name for f in fields(schema)]
        reason = str(err).splitlines()[0]
        leaf = str(bad).split(".")[-1]
        if bad and leaf in names:  # a known key with a bad value: no did-you-mean for the key
            raise ConfigError(f"{full}: {reason}") from None
        hint = did_you_mean(leaf, names) if bad else ""
        raise ConfigError(
            f"{full}: {reason}{hint} (valid keys of {key}: {', '.join(names)})"
        ) from None


def _positive(value: Any, key: str, kind: type = int) -> None:
    bad = not isinstance(value, kind) or isinstance(value, bool)
    if bad or not math.isfinite(value) or value <= 0:  # nan <= 0 is False: check finiteness
        why = "" if bad or math.isfinite(value) else " (finite: not nan or inf)"
        raise ConfigError(f"{key}={value!r} is invalid: must be a positive {kind.__name__}{why}")


MAX_NAME = 100  # ``name`` is a folder name (outputs/runs/<name>/...): file systems stop at 255


def validate_name(name: Any) -> None:
    text = str(name)
    if not text or len(text.encode()) > MAX_NAME or "/" in text or text in (".", ".."):
        raise ConfigError(
            f"name={text[:40]}{'...' if len(text) > 40 else ''} is invalid: it names the output "
            f"folder, so at most {MAX_NAME} bytes without '/' ({len(text.encode())} given)"
        )


def _choice(value: Any, key: str, valid: list[str]) -> None:
    if value not in valid:
        raise ConfigError(f"{key}={value!r} is not known; valid: {', '.join(sorted(valid))}")


# --------------------------------------------------------------------------- validation
def validate(
    cfg: DictConfig, extra_checks: list[Callable[[DictConfig], None]] | None = None
) -> None:
    """Check the whole composed config; raise :class:`ConfigError` (one line) on the first problem.

    Covers: data name and keys, batch size, split sizes, learning rate, model member specs (through
    :func:`xmsem.models.validate_spec`), trainer epochs, then every component validator registered
    in :data:`CONFIG_CHECKS` (the callbacks register theirs; ``xmsem.lit.validation`` imports
    them all) and ``extra_checks``.
    """
    seed = cfg.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ConfigError(f"seed={seed!r} is invalid: must be an integer (0 is a valid seed)")
    if seed is not None and not 0 <= seed < 2**32:
        raise ConfigError(f"seed={seed} is invalid: must be in [0, 2**32 - 1]")
    from xmsem.runs.choices import ON_DIVERGENCE

    if cfg.get("name") is not None:
        validate_name(cfg.name)

    _choice(cfg.get("on_divergence", "stop"), "on_divergence", list(ON_DIVERGENCE))
    _validate_data(cfg.get("data"))

    check_schema(cfg.get("optim", {}), Optim, "optim")
    lr = cfg.optim.lr
    if isinstance(lr, int) and not isinstance(lr, bool):
        lr = float(lr)
    _positive(lr, "optim.lr", float)
    wd = cfg.optim.weight_decay
    if not math.isfinite(wd) or wd < 0:
        raise ConfigError(f"optim.weight_decay={cfg.optim.weight_decay!r} is invalid: must be >= 0")

    _validate_members(cfg.get("model"))
    _validate_ensemble(cfg)
    _validate_vectorisable(cfg)

    max_epochs = cfg.trainer.get("max_epochs")
    _positive(max_epochs, "trainer.max_epochs")
    _validate_trainer(cfg.trainer)
    _validate_probe_size(cfg)

    for check in [*CONFIG_CHECKS.values(), *(extra_checks or [])]:
        check(cfg)


def _validate_data(data: Any) -> None:
    """``data``: a registered dataset, its schema's keys and types, then its own checks."""
    if data is None or "name" not in data:
        raise ConfigError(f"data.name is missing; valid: {', '.join(sorted(DATASETS))}")
    _choice(data.name, "data.name", list(DATASETS))
    spec = DATASETS[data.name]
    merged = check_schema(data, spec.schema, "data")
    _positive(data.batch_size, "data.batch_size")
    _positive(data.val_size, "data.val_size")
    if spec.check is not None:
        try:
            spec.check(to_plain(merged))
        except ValueError as err:
            raise ConfigError(f"data.{err}") from None


DATA_ORDERS = ("same", "per_copy")


def _validate_ensemble(cfg: DictConfig) -> None:
    """``ensemble`` (copies per member), ``first_copy`` (index of the first) and ``data_order``
    (batch order of the copies)."""
    _positive(cfg.get("ensemble", 1), "ensemble")
    first = cfg.get("first_copy", 0)
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise ConfigError(f"first_copy={first!r} is invalid: must be an int >= 0")
    _choice(cfg.get("data_order", "same"), "data_order", list(DATA_ORDERS))


def _validate_vectorisable(cfg: DictConfig) -> None:
    """``ensemble > 1`` batches copies of archs with a batched builder (``ArchSpec.batched``)
    only: others are refused in one line."""
    from xmsem.models import ARCHS

    copies = cfg.get("ensemble", 1)
    if copies == 1:
        return
    batched = [name for name, arch in ARCHS.items() if arch.batched is not None]
    for name, spec in cfg.model.items():
        kind = f"_target_ {spec['_target_']}" if "_target_" in spec else f"arch {spec.get('arch')}"
        if "_target_" in spec or spec.get("arch") not in batched:
            raise ConfigError(
                f"ensemble={copies}: model.{name} ({kind}) cannot be vectorised (ensembles batch "
                f"{', '.join(batched)}); use ensemble=1 and seeds, e.g. -m 'seed=range(0,"
                f"{copies})'"
            )


LABEL_MODES = ("true", "shuffled")


def _trainer_arguments() -> list[str]:
    """The arguments of Lightning's ``Trainer``, read from its source file without importing
    Lightning (seconds: config errors come first); from the class itself when the file is not
    where it is expected."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("lightning")  # locates the package, runs none of it
    if spec is not None and spec.origin:
        path = os.path.join(os.path.dirname(spec.origin), "pytorch", "trainer", "trainer.py")
        try:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.ClassDef) and node.name == "Trainer":
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                        args = [*item.args.args, *item.args.kwonlyargs]
                        return [a.arg for a in args if a.arg != "self"]
    from lightning.pytorch import Trainer

    return [p for p in inspect.signature(Trainer.__init__).parameters if p != "self"]


def _validate_trainer(trainer: Any) -> None:
    """Every trainer key must be a Trainer argument; a GPU accelerator needs a visible GPU."""
    valid = _trainer_arguments()
    for key in trainer:
        if key != "_target_" and key not in valid:
            raise ConfigError(f"trainer.{key} is not a Trainer argument{did_you_mean(key, valid)}")
    accelerator = str(trainer.get("accelerator") or "auto")
    if accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"trainer.accelerator={accelerator} but no CUDA GPU is visible here; "
                "use trainer=cpu or trainer=default (auto)"
            )


def _validate_probe_size(cfg: DictConfig) -> None:
    """probe_size must fit the test split (known from the config before any data is loaded)."""
    rep = (cfg.get("callbacks") or {}).get("representations")
    size = rep.get("probe_size") if rep is not None else None
    if size is None or not isinstance(size, int):
        return
    spec = DATASETS[cfg.data.name]
    n_test = spec.n_test(check_schema(cfg.data, spec.schema, "data"))  # with the schema defaults
    if isinstance(n_test, int) and size > n_test:
        raise ConfigError(
            f"callbacks.representations.probe_size={size} exceeds the {cfg.data.name} test split "
            f"({n_test} examples); use at most {n_test} or null for all of it"
        )


def _validate_members(model: Any) -> None:
    from xmsem.models import validate_spec

    if not isinstance(model, (DictConfig, Mapping)) or len(model) == 0:
        raise ConfigError(
            "model is empty: choose model=pgnn_vs_mlp, model=mlp or model=pgnn "
            "(or add members as model.<name>={arch: ...})"
        )
    for name, spec in model.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(name)):
            raise ConfigError(
                f"model.{name}: member names must be identifiers (letters, digits, _)"
            )
        if not isinstance(spec, (DictConfig, Mapping)):
            raise ConfigError(
                f"model.{name} must be a mapping with an 'arch' or a '_target_' key, got {spec!r}"
            )
        plain = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else spec
        plain = dict(plain)
        labels = plain.pop("labels", "true")  # xmsem's own member key, not the network's
        if labels not in LABEL_MODES:
            raise ConfigError(
                f"model.{name}.labels={labels!r} is not known; valid: {', '.join(LABEL_MODES)}"
            )
        decay = plain.pop("weight_decay", 0.0)  # xmsem's own: this member's optimizer group
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not decay >= 0:
            raise ConfigError(
                f"model.{name}.weight_decay={decay!r} is invalid: must be a number >= 0"
            )
        try:
            validate_spec(plain)
        except ValueError as err:
            raise ConfigError(f"model.{name}: {err}") from None


def to_plain(node: Any) -> Any:
    """A resolved plain-python copy of a config node (dicts, lists, scalars)."""
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node


# --------------------------------------------------------------------------- resolvers
MAX_DIRNAME = 120


def _dirname(override_dirname: str) -> str:
    """Folder name of a run from Hydra's override_dirname: 'default' when there are none; names
    longer than MAX_DIRNAME (file systems stop at 255 bytes) keep their start and get a hash of
    the whole, so they stay deterministic and distinct."""
    name = override_dirname.replace("/", "_").replace("+", "")
    if len(name) > MAX_DIRNAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:12]
        name = f"{name[: MAX_DIRNAME - 13]}~{digest}"
    return name or "default"


SWEPT_KEYS_ENV = "XMSEM_SWEPT_KEYS"  # set for the jobs of a sweep (xmsem.runs.sweep_summary)
MAX_SHOWN = 60  # characters of overrides a single run's folder name shows before hashing them


def _override_items(overrides: Any) -> list[tuple[str, str]]:
    """(key, value text) of each override (``+``/``++``/``~`` dropped from the key)."""
    items = []
    for text in list(overrides or []):
        key, sep, value = str(text).partition("=")
        items.append((key.lstrip("+~"), value if sep else ""))
    return items


def run_id(overrides: Any, exclude: Any = (), swept: Any = None) -> str:
    """The readable id of a run folder: the swept keys as ``k=v`` (a single run: its overrides
    when they are short), then ``~`` and a hash of the remaining overrides. Excluded keys
    (``hydra.job.config.override_dirname.exclude_keys``: where outputs go, the device,
    ``trainer.max_epochs``, ...) are left out unless swept, so a rerun with more epochs lands in
    the same folder; the full overrides are kept in the folder (``.hydra/overrides.yaml``)."""
    if swept is None:
        swept = [k for k in os.environ.get(SWEPT_KEYS_ENV, "").split(",") if k]
    swept, excluded = list(swept), set(exclude or [])
    items = [(k, v) for k, v in _override_items(overrides) if k in swept or k not in excluded]
    if swept:
        shown = [(k, v) for k, v in items if k in swept]
    else:
        text = ",".join(f"{k}={v}" for k, v in sorted(items))
        shown = sorted(items) if len(text) <= MAX_SHOWN else []
    rest = sorted(f"{k}={v}" for k, v in items if (k, v) not in shown)
    name = ",".join(f"{k}={v}" for k, v in shown).replace("/", "_")
    if rest:
        digest = hashlib.sha1(",".join(rest).encode()).hexdigest()[:8]
        name = f"{name}~{digest}" if name else f"cfg~{digest}"
    return _dirname(name)


def _run_id_resolver(overrides: Any, exclude: Any = ()) -> str:
    return run_id(overrides, exclude)


def register_resolvers() -> None:
    """Register xmsem's OmegaConf resolvers (idempotent)."""
    if not OmegaConf.has_resolver("xmsem_dirname"):
        OmegaConf.register_new_resolver("xmsem_dirname", _dirname)
    if not OmegaConf.has_resolver("xmsem_run_id"):
        OmegaConf.register_new_resolver("xmsem_run_id", _run_id_resolver)


register_resolvers()
