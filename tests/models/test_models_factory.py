"""build_model / validate_spec / count_parameters."""

from __future__ import annotations

import pytest
import torch

from xmsem.models import ARCHS, MLP, PGNN, build_model, count_parameters, validate_spec


def test_build_mlp_and_parameter_count() -> None:
    model = build_model({"arch": "mlp", "hidden": [16, 8], "activation": "tanh"}, 20, 3)
    assert isinstance(model, MLP)
    assert isinstance(model.blocks[0].act, torch.nn.Tanh)
    assert count_parameters(model) == (20 * 16 + 16) + (16 * 8 + 8) + (8 * 3 + 3)


def test_build_pgnn_with_options() -> None:
    spec = {
        "arch": "pgnn",
        "hidden": [16, 8],
        "shaping": "projection",
        "proj_rank": 4,
        "corr_rank": 2,
        "alpha": 0.2,
        "learn_alpha": True,
        "gamma": 2,
    }
    model = build_model(spec, 20, 3)
    assert isinstance(model, PGNN)
    assert model.blocks[0].linear.shaping.rank == 4
    structured = (20 * 16 + 16) + (16 * 8 + 8) + (8 * 3 + 3)
    bases = 20 * 4 + 16 * 4 + 8 * 4
    corrections = (2 * 20 + 16 * 2 + 1) + (2 * 16 + 8 * 2 + 1)
    assert count_parameters(model) == structured + bases + corrections
    model.blocks[0].linear.weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - 20 * 16
    assert set(ARCHS) == {"mlp", "pgnn", "cnn"}


def test_spec_may_be_an_omegaconf_config() -> None:
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create({"arch": "pgnn", "hidden": [8, 4], "shaping": "diagonal"})
    validate_spec(cfg)
    assert build_model(cfg, 5, 2)(torch.zeros(1, 5)).shape == (1, 2)


BAD = [
    ({"arch": "transformer", "hidden": [4]}, "'arch'.*mlp, pgnn, cnn"),
    ({"hidden": [4]}, "'arch'"),
    ({"arch": "mlp", "hidden": [4], "gamma": 1.0}, "'gamma'.*unknown.*arch, activation, hidden"),
    ({"arch": "pgnn", "hidden": [4], "gama": 1.0}, "'gama'.*valid:.*gamma"),
    ({"arch": "mlp"}, "'hidden'.*required"),
    ({"arch": "mlp", "hidden": []}, "'hidden'.*non-empty list of positive ints"),
    ({"arch": "mlp", "hidden": [4, 0]}, "'hidden'"),
    ({"arch": "mlp", "hidden": "256"}, "'hidden'"),
    ({"arch": "mlp", "hidden": [True]}, "'hidden'"),
    ({"arch": "mlp", "hidden": [4.0]}, "'hidden'"),
    ({"arch": "mlp", "hidden": [4], "activation": "sigmoid"}, "'activation'.*gelu, relu, tanh"),
    ({"arch": "pgnn", "hidden": [4], "corr_activation": "elu"}, "'corr_activation'.*relu"),
    ({"arch": "pgnn", "hidden": [4], "shaping": "spectrl"}, "'shaping'.*spectral, projection"),
    ({"arch": "pgnn", "hidden": [4], "gamma": 0}, "'gamma'.*> 0"),
    ({"arch": "pgnn", "hidden": [4], "gamma": -1.0}, "'gamma'"),
    ({"arch": "pgnn", "hidden": [4], "gamma": "1"}, "'gamma'"),
    ({"arch": "pgnn", "hidden": [4], "gamma": float("inf")}, "'gamma'"),
    ({"arch": "pgnn", "hidden": [4], "proj_rank": 0}, "'proj_rank'"),
    ({"arch": "pgnn", "hidden": [8, 4], "shaping": "projection", "proj_rank": 5}, "'proj_rank'.*4"),
    ({"arch": "pgnn", "hidden": [4], "corr_rank": 0}, "'corr_rank'.*>= 1"),
    ({"arch": "pgnn", "hidden": [4], "corr_rank": 2.5}, "'corr_rank'"),
    ({"arch": "pgnn", "hidden": [4], "correction": "yes"}, "'correction'.*true or false"),
    ({"arch": "pgnn", "hidden": [4], "learn_alpha": 1}, "'learn_alpha'"),
    ({"arch": "pgnn", "hidden": [4], "alpha": float("nan")}, "'alpha'.*finite"),
    ({"arch": "pgnn", "hidden": [4], "power_iterations": 0}, "'power_iterations'"),
]


@pytest.mark.parametrize(("spec", "message"), BAD)
def test_bad_specs_name_the_key(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        validate_spec(spec)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=message):
        build_model(spec, 10, 2)


def test_build_checks_dims_and_first_layer_rank() -> None:
    with pytest.raises(ValueError, match="'input_dim'"):
        build_model({"arch": "mlp", "hidden": [4]}, 0, 2)
    with pytest.raises(ValueError, match="'num_classes'"):
        build_model({"arch": "mlp", "hidden": [4]}, 3, 2.0)
    spec = {"arch": "pgnn", "hidden": [8], "shaping": "projection", "proj_rank": 6}
    validate_spec(spec)  # fine for the hidden widths ...
    with pytest.raises(ValueError, match="'proj_rank'.*\\[1, 5\\]"):
        build_model(spec, 5, 2)  # ... but not for a 5-dimensional input
    with pytest.raises(ValueError, match="model spec: must be a mapping"):
        validate_spec(["arch", "mlp"])
