"""Extension points own their knowledge: a dataset is one DatasetSpec, a built-in arch one
ArchSpec, a component's config check one registered validator. Each test adds one in a single
place and shows that validation, sizes and building then work without touching anything else."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from omegaconf import open_dict
from torch import nn

from tests.conftest import compose_cfg
from xmsem.config import CONFIG_CHECKS, ConfigError, register_check
from xmsem.data import DATASETS, DataCommon, DatasetSpec, RawSplits, register_dataset
from xmsem.data.spec import unregister_dataset
from xmsem.lit.validation import validate_run_config
from xmsem.models import (
    ARCHS,
    ArchSpec,
    HiddenNet,
    build_model,
    layer_widths,
    member_layers,
    register_arch,
    validate_spec,
)
from xmsem.models.arch import unregister_arch

TINY = ["debug=tiny", "model=mlp", "model.mlp.hidden=[8]", "callbacks.representations.subspace_k=2"]


# --------------------------------------------------------------------------- a new dataset
@dataclass
class ToyData(DataCommon):
    n_test: int = 12
    dim: int = 3


def load_toy(n_test: int = 12, dim: int = 3) -> RawSplits:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40 + n_test, dim, generator=gen)
    y = (x[:, 0] > 0).long()
    return RawSplits(x[:40], y[:40], x[40:], y[40:], num_classes=2, name="toy")


def _check_toy(data) -> None:
    if data["dim"] < 2:
        raise ValueError(f"dim must be >= 2, got {data['dim']}")


@pytest.fixture
def toy_dataset():
    spec = register_dataset(DatasetSpec("toy", load_toy, ToyData,
                                        test_size=lambda d: d["n_test"], check=_check_toy))  # fmt: skip
    yield spec
    unregister_dataset("toy")


def _toy_cfg(tmp_path, **data):
    cfg = compose_cfg(TINY, tmp_path)
    with open_dict(cfg):
        cfg.data = {"name": "toy", "batch_size": 8, "val_size": 8, "split_seed": 0, **data}
        cfg.callbacks.representations.probe_size = None
    return cfg


def test_a_dataset_registered_in_one_place_validates_and_builds(tmp_path, toy_dataset):
    from xmsem.train import build_datamodule

    cfg = _toy_cfg(tmp_path, n_test=12, dim=3)
    validate_run_config(cfg)
    module = build_datamodule(cfg)
    module.setup()
    assert tuple(module.train_x.shape) == (32, 3) and tuple(module.test_x.shape) == (12, 3)
    assert module.num_classes == 2
    # the probe set is checked against the spec's test size (12), before anything is loaded
    with open_dict(cfg):
        cfg.callbacks.representations.probe_size = 13
    with pytest.raises(ConfigError, match=r"probe_size=13 exceeds the toy test split \(12 "):
        validate_run_config(cfg)


def test_a_dataset_spec_owns_its_keys_and_checks(tmp_path, toy_dataset):
    with pytest.raises(ConfigError, match=r"^data\.dim must be >= 2, got 1$"):
        validate_run_config(_toy_cfg(tmp_path, dim=1))
    with pytest.raises(ConfigError, match=r"^data\.n_tset: .*did you mean 'n_test'"):
        validate_run_config(_toy_cfg(tmp_path, n_tset=3))
    assert DATASETS["toy"].n_test({"n_test": 7}) == 7
    assert DATASETS["fmnist"].n_test({}) == 10000
    # where the files are is not which examples: compare ignores it
    fm = {"name": "fmnist", "data_dir": "/a", "system_dir": "/b", "download": False,
          "batch_size": 3, "val_size": 5, "split_seed": 1}  # fmt: skip
    assert DATASETS["fmnist"].identity(fm) == {"name": "fmnist", "val_size": 5, "split_seed": 1}


def test_a_dataset_spec_refuses_a_schema_its_loader_cannot_take():
    @dataclass
    class Bad(DataCommon):
        not_an_argument: int = 1

    with pytest.raises(TypeError, match=r"\['not_an_argument'\] are not arguments of its loader"):
        DatasetSpec("bad", load_toy, Bad)
    with pytest.raises(TypeError, match="DataCommon dataclass"):
        DatasetSpec("bad", load_toy, dict)
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DatasetSpec("synthetic", load_toy, ToyData))


# --------------------------------------------------------------------------- a new arch
class Wide(HiddenNet):
    """One hidden layer of ``4 * width`` units."""

    def __init__(self, input_dim: int, num_classes: int, width: int = 2) -> None:
        super().__init__(input_dim, num_classes)
        self.fc = nn.Linear(input_dim, 4 * width)
        self.readout = nn.Linear(4 * width, num_classes)

    @property
    def layer_names(self) -> list[str]:
        return ["wide"]

    def forward(self, x, return_hidden=False):
        h = torch.relu(self.fc(x.flatten(1)))
        logits = self.readout(h)
        return (logits, {"wide": h}) if return_hidden else logits


def _positive(key, value):
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"model spec key '{key}': must be an int >= 1, got {value!r}")


@pytest.fixture
def wide_arch():
    spec = register_arch(ArchSpec("wide", Wide, {"width": _positive}, layers=lambda s: ["wide"],
                                  widths=lambda s: [4 * s.get("width", 2)]))  # fmt: skip
    yield spec
    unregister_arch("wide")


def test_an_arch_registered_in_one_place_validates_builds_and_names_its_layers(wide_arch):
    spec = {"arch": "wide", "width": 3}
    validate_spec(spec)
    net = build_model(spec, input_dim=5, num_classes=4)
    logits, hidden = net(torch.zeros(2, 5), return_hidden=True)
    assert isinstance(net, Wide) and tuple(logits.shape) == (2, 4)
    assert tuple(hidden["wide"].shape) == (2, 12)
    assert member_layers(spec) == ["wide"] and layer_widths(spec) == {"wide": 12}
    with pytest.raises(ValueError, match=r"'width': must be an int >= 1, got 0"):
        validate_spec({"arch": "wide", "width": 0})
    with pytest.raises(ValueError, match=r"'hidden': unknown for arch 'wide'; valid: arch, width"):
        validate_spec({"arch": "wide", "hidden": [3]})


def test_a_new_arch_joins_the_config_validation(tmp_path, wide_arch):
    cfg = compose_cfg([*TINY, "+model.w={arch: wide, width: 1}"], tmp_path)
    validate_run_config(cfg)
    with open_dict(cfg):  # "wide" has 4 * 1 units (its spec's widths): k = 5 does not fit it
        cfg.callbacks.representations.subspace_k = 5
    with pytest.raises(ConfigError, match=r"subspace_k=5 exceeds the narrowest compared layer "
                                          r"\(width 4\)"):  # fmt: skip
        validate_run_config(cfg)
    with open_dict(cfg):  # no batched builder: ensembles refuse it in one line
        cfg.callbacks.representations.subspace_k = 2
        cfg.ensemble = 2
    with pytest.raises(
        ConfigError, match=r"model\.w \(arch wide\) cannot be vectorised .*mlp, pgnn"
    ):
        validate_run_config(cfg)


def test_an_arch_spec_checks_its_class_takes_its_options():
    with pytest.raises(TypeError, match=r"Wide takes no \['depth'\]"):
        ArchSpec("bad", Wide, {"depth": _positive})
    with pytest.raises(TypeError, match="required and defaults must be options"):
        ArchSpec("bad", Wide, {"width": _positive}, required=frozenset({"depth"}))
    with pytest.raises(TypeError, match=r"\['labels'\] are xmsem's own keys"):
        ArchSpec("bad", Wide, {"labels": _positive})
    assert set(ARCHS) >= {"mlp", "pgnn", "cnn"}
    assert [a for a, s in ARCHS.items() if s.batched is not None] == ["mlp", "pgnn"]


def test_an_arch_given_by_import_path_is_checked_when_its_class_is_imported():
    """The built-ins name their class by import path (validation imports no torch); the class
    is imported, and checked against the keys, when a network is built."""
    here = f"{__name__}.Wide"
    lazy = ArchSpec("lazy", here, {"depth": _positive})  # not imported yet: nothing to check
    with pytest.raises(TypeError, match=r"Wide takes no \['depth'\]"):
        lazy.net_class  # noqa: B018
    assert ArchSpec("lazy", here, {"width": _positive}).net_class is Wide
    for name in ("mlp", "pgnn", "cnn"):
        assert isinstance(ARCHS[name].cls, str)
        assert ARCHS[name].net_class.__name__ == name.upper()  # imports and checks the keys
    net = build_model({"arch": "mlp", "hidden": [3]}, input_dim=4, num_classes=2)
    assert type(net).__name__ == "MLP" and tuple(net(torch.zeros(5, 4)).shape) == (5, 2)


# --------------------------------------------------------------------------- validators
def test_components_register_their_own_config_validators(tmp_path):
    assert {"callbacks.representations", "callbacks.noise", "callbacks.early_stopping"} <= set(
        CONFIG_CHECKS
    )
    cfg = compose_cfg([*TINY, "callbacks.noise.enabled=true", "callbacks.noise.levels=[-1.0]"],
                      tmp_path)  # fmt: skip
    with pytest.raises(ConfigError, match=r"callbacks\.noise"):
        validate_run_config(cfg)


def test_a_new_component_validator_runs_with_the_others(tmp_path):
    seen = []

    @register_check("test.component")
    def check(cfg) -> None:
        seen.append(cfg.seed)
        if cfg.seed == 7:
            raise ConfigError("seed=7 is refused by the test component")

    try:
        validate_run_config(compose_cfg([*TINY, "seed=3"], tmp_path))
        with pytest.raises(ConfigError, match="refused by the test component"):
            validate_run_config(compose_cfg([*TINY, "seed=7"], tmp_path))
        assert seen == [3, 7]
        with pytest.raises(ValueError, match="already has a validator"):
            register_check("test.component")(lambda cfg: None)
    finally:
        CONFIG_CHECKS.pop("test.component")
