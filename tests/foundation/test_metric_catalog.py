"""Config validation reads the metric registry without torch (xmsem.catalog): what it reads from
the alignment sources is what the live registry holds; once xmsem.alignment is imported the
live registry answers (a metric registered at run time is accepted); a source the reader cannot
read, or an option check it cannot resolve, is answered by the live registry, never guessed."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import xmsem.catalog.metrics as catalog_metrics
from tests.conftest import compose_cfg
from xmsem.alignment import METRICS, MetricSpec
from xmsem.alignment.registry import register, unregister
from xmsem.catalog import (
    POSITIVE_INT,
    Option,
    check_metric_params,
    default_metrics,
    metric_catalog,
    read_metrics,
)
from xmsem.config import ConfigError
from xmsem.lit.validation import validate_run_config

# values every option check is asked about, static against live
PROBES = [0, 1, 2, 3, 0.5, 1.5, -1, float("inf"), True, None, "spearman", "cosine", "x"]


def test_the_sources_read_as_the_live_registry() -> None:
    static = read_metrics()
    assert static is not None and list(static) == list(METRICS)  # names, registration order
    for name, spec in METRICS.items():
        entry = static[name]
        assert (entry.default, entry.rank_setting) == (spec.default, spec.rank_setting), name
        assert list(entry.options) == list(spec.options), name
        for kw, option in spec.options.items():
            read = entry.options.known[kw]
            if read is not None:  # read from the source: decides as the registered check
                assert read.valid == option.valid, (name, kw)
                assert [read.check(v) for v in PROBES] == [option.check(v) for v in PROBES]
            assert entry.options[kw].valid == option.valid  # unresolved: the live one
    assert default_metrics(static) == default_metrics(METRICS)
    # the common checks and choice(...) of module constants are read; a lambda is not
    assert static["mutual_knn"].options.known["k"] is POSITIVE_INT
    assert static["rsa"].options.known["method"].valid == "one of spearman, pearson"
    assert static["cknna"].options.known["k"] is METRICS["cknna"].options["k"]
    # a check written in the metric's own module is not read: asked for, the live one answers
    from xmsem.catalog.metrics import StaticOptions

    own = StaticOptions("cknna", {"k": None})
    assert "k" in own and own["k"] is METRICS["cknna"].options["k"]


def test_validation_refuses_the_same_with_either_view() -> None:
    static = read_metrics()
    assert static is not None
    for params in ({"nope": {}}, {"mutual_knn": {"kk": 3}}, {"mutual_knn": {"k": 0}},
                   {"rsa": {"method": "x"}}, {"cknna": {"k": 1}}, {"svcca": 3}):  # fmt: skip
        messages = []
        for metrics in (static, METRICS):
            with pytest.raises(ValueError) as info:
                check_metric_params(metrics, params, "m")
            messages.append(str(info.value))
        assert messages[0] == messages[1], params
    check_metric_params(static, {"mutual_knn": {"k": 5}, "rsa": {"method": "pearson"}})


SOURCE = """
from ..registry import POSITIVE_INT, MetricSpec, Option, choice, register
MODES = ("a", "b")
register(MetricSpec("first", default=True, options={"k": POSITIVE_INT, "m": choice(*MODES)}))
register(MetricSpec("second", options={"t": Option(lambda v: v > 0, "> 0")}))
"""


def _sources(root: Path, registry: str, measure: str = "", other: str = "") -> Path:
    (root / "measures").mkdir(parents=True)
    (root / "registry.py").write_text(registry)
    (root / "measures" / "b_measure.py").write_text(measure)
    (root / "measures" / "_private.py").write_text('MetricSpec("never", default=True)')
    (root / "spectral.py").write_text(other)
    return root


def test_the_reader_reads_plain_calls_and_gives_up_on_the_others(tmp_path: Path) -> None:
    root = _sources(tmp_path / "ok", SOURCE, 'register(MetricSpec("third", rank_setting="k"))',
                    'MetricSpec("fourth", "similarity")')  # fmt: skip
    read = read_metrics(root)
    assert read is not None and list(read) == ["first", "second", "third", "fourth"]
    assert [e.default for e in read.values()] == [True, False, False, False]
    assert read["third"].rank_setting == "k" and read["first"].rank_setting is None
    options = read["first"].options.known
    assert options["k"] is POSITIVE_INT and options["m"].valid == "one of a, b"
    assert read["second"].options.known == {"t": None}
    # a name or a flag the source computes, **kwargs, a shadowed common check: not guessed
    for i, call in enumerate(('MetricSpec(NAME, "similarity")', 'MetricSpec("x", **extra)',
                              'MetricSpec("x", default=FLAG)', 'MetricSpec("x", options=OPTS)')):  # fmt: skip
        assert read_metrics(_sources(tmp_path / f"bad{i}", call)) is None, call
    # a check is resolved only when the module imports the common one, and binds it nowhere else
    call = 'MetricSpec("x", options={"k": POSITIVE_INT, "m": choice("a")})'
    for i, (head, resolved) in enumerate((
        ("from ..registry import POSITIVE_INT, choice", True),
        ("from xmsem.alignment import POSITIVE_INT, choice", True),
        ("", False),  # not imported at all
        ("from mypkg.registry import POSITIVE_INT, choice", False),
        ("from ..registry import POSITIVE_INT as P, choice as c\nPOSITIVE_INT = P\nchoice = c", False),
        ("from ..registry import POSITIVE_INT, choice\ndef choice(*v): ...\nPOSITIVE_INT: Option = 0",
         False),
    )):  # fmt: skip
        known = read_metrics(_sources(tmp_path / f"common{i}", f"{head}\n{call}"))[
            "x"
        ].options.known
        assert (known["k"] is POSITIVE_INT) == resolved, head
        assert (known["m"] is not None) == resolved, head


def test_the_catalogue_is_the_live_registry_once_alignment_is_imported(monkeypatch) -> None:
    assert metric_catalog() is METRICS  # imported by this test module
    monkeypatch.setitem(sys.modules, "xmsem.alignment", types.ModuleType("xmsem.alignment"))
    assert metric_catalog() is read_metrics()  # not imported: read from the sources
    monkeypatch.setattr(catalog_metrics, "read_metrics", lambda: None)
    monkeypatch.setattr(catalog_metrics, "import_registry", lambda: METRICS)
    assert metric_catalog() is METRICS  # unreadable sources: the live registry, imported


def plugin_measure(x, y, k: int = 3):
    """A metric registered at run time (its value does not matter here)."""
    return (x[:, 0] * y[:, 0]).mean()


@pytest.fixture
def plugin_metric():
    spec = register(MetricSpec(
        "plugin_measure", "similarity", frozenset(), "reps", plugin_measure,
        "A metric of a user's plugin.", options={"k": Option(lambda v: v == 3, "3 only")},
    ))  # fmt: skip
    yield spec
    unregister("plugin_measure")


def test_a_metric_registered_at_run_time_is_accepted(plugin_metric, tmp_path: Path) -> None:
    base = ["debug=tiny", "model=mlp", "model.mlp.hidden=[8]",
            "callbacks.representations.subspace_k=2",
            "callbacks.representations.metrics=[linear_cka,plugin_measure]"]  # fmt: skip
    validate_run_config(compose_cfg(base, tmp_path))
    params = "+callbacks.representations.metric_params={plugin_measure:{k:4}}"
    with pytest.raises(ConfigError, match=r"metric_params\.plugin_measure\.k=4; valid: 3 only$"):
        validate_run_config(compose_cfg([*base, params], tmp_path))
