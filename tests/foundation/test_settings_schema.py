"""One schema for the representation settings: the YAML defaults, the config schema and the
measurement settings agree key for key and value for value, and every metric parameter names a
setting of that schema."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from xmsem.alignment import METRICS
from xmsem.config import Representations
from xmsem.snapshots.measure import MeasureSettings

from ..conftest import CONF_DIR


def _yaml() -> dict:
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "callbacks" / "default.yaml"))


def test_yaml_keys_and_defaults_are_the_schema():
    node = _yaml()["representations"]
    schema = {f.name: f for f in dataclasses.fields(Representations)}
    assert set(node) == set(schema)
    defaults = Representations()
    for key, value in node.items():
        assert value == getattr(defaults, key), key


def test_measurement_settings_are_part_of_the_config_schema():
    assert issubclass(Representations, MeasureSettings)
    measure = {f.name for f in dataclasses.fields(MeasureSettings)}
    assert {"spectral_bands", "spectral_k", "spectral_max_n", "subspace_k"} <= measure
    node = OmegaConf.create(_yaml()["representations"])
    node.spectral_bands = 3  # settable from the config, reaches the measurement
    assert MeasureSettings.of(node).spectral_bands == 3
    assert MeasureSettings.of(node) == MeasureSettings(spectral_bands=3)


def test_metric_params_from_yaml_reach_the_settings_and_are_checked():
    from xmsem.alignment import get_metric

    node = OmegaConf.merge(OmegaConf.structured(Representations), _yaml()["representations"])
    node.metric_params = {"mutual_knn": {"k": 3}}
    s = MeasureSettings.of(node)
    assert s.metric_params == {"mutual_knn": {"k": 3}}
    assert get_metric("mutual_knn").kwargs(s) == {"k": 3}
    node.metric_params = {"mutual_knn": {"k": 0}}
    with pytest.raises(ValueError, match=r"^metric_params\.mutual_knn\.k=0; valid: an int >= 1$"):
        MeasureSettings.of(node)


def test_every_metric_parameter_is_a_setting():
    measure = {f.name for f in dataclasses.fields(MeasureSettings)}
    for spec in METRICS.values():
        assert set(spec.params.values()) <= measure, spec.name
        assert spec.max_n is None or spec.max_n in measure, spec.name
        assert spec.kwargs(MeasureSettings()).keys() == spec.params.keys() | spec.options.keys()
        # a metric's own options: defaults from its function, each valid by its own check
        for kw, value in spec.defaults.items():
            assert spec.options[kw].check(value), (spec.name, kw)
