"""One schema for the representation settings: the YAML defaults, the config schema and the
measurement settings agree key for key and value for value, and every metric parameter names a
setting of that schema."""

from __future__ import annotations

import dataclasses

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


def test_every_metric_parameter_is_a_setting():
    measure = {f.name for f in dataclasses.fields(MeasureSettings)}
    for spec in METRICS.values():
        assert set(spec.params.values()) <= measure, spec.name
        assert spec.max_n is None or spec.max_n in measure, spec.name
        assert spec.kwargs(MeasureSettings()).keys() == spec.params.keys()
