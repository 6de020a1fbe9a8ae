"""The ensemble / data_order keys and the member key ``labels``: defaults, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compose_cfg
from xmsem.config import ConfigError, validate


def error(overrides: list[str], tmp_path: Path) -> str:
    cfg = compose_cfg(overrides, tmp_path)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_defaults_are_one_copy_and_shared_order(tmp_path: Path) -> None:
    cfg = compose_cfg([], tmp_path)
    assert cfg.ensemble == 1 and cfg.data_order == "same"
    validate(compose_cfg(["ensemble=20", "data_order=per_copy"], tmp_path))
    validate(compose_cfg(["+model.mlp.labels=shuffled"], tmp_path))


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("ensemble=0", "ensemble=0 is invalid: must be a positive int"),
        ("ensemble=-3", "ensemble=-3 is invalid"),
        ("ensemble=2.5", "ensemble=2.5 is invalid: must be a positive int"),
        ("ensemble=many", "ensemble='many' is invalid"),
        ("ensemble=true", "ensemble=True is invalid"),
        ("data_order=random", "data_order='random' is not known; valid: per_copy, same"),
        ("first_copy=-1", "first_copy=-1 is invalid: must be an int >= 0"),
        ("first_copy=1.5", "first_copy=1.5 is invalid: must be an int >= 0"),
        ("first_copy=true", "first_copy=True is invalid"),
        ("+model.mlp.labels=noisy", "model.mlp.labels='noisy' is not known; valid: true, shuffled"),
    ],
)
def test_bad_values_are_one_line_errors(override: str, needle: str, tmp_path: Path) -> None:
    assert needle in error([override], tmp_path)


def test_non_vectorised_members_are_refused_in_ensembles(tmp_path: Path) -> None:
    """cnn and _target_ members cannot be copies of one vectorised model (the equivalence
    harness in tests/equivalence covers every architecture that can)."""
    message = error(["model=cnn", "ensemble=3"], tmp_path)
    assert "ensemble=3: model.cnn (arch cnn) cannot be vectorised" in message


def test_init_sensitivity_is_one_job_of_20_copies(tmp_path: Path) -> None:
    from tests.foundation.test_compose import sweep_size

    cfg = compose_cfg(["+experiment=init_sensitivity"], tmp_path)
    assert cfg.ensemble == 20 and sweep_size(cfg) == 1
    validate(cfg)
