"""Fast cross-run path: identical to xmsem.alignment, invariances, pair planning."""

from __future__ import annotations

import pytest
import torch

from xmsem.alignment import linear_cka, prepare, subspace_overlap
from xmsem.analysis.crossrun import FAST_METRICS, pair_values, shifted_pairs


def _reps(seed: int, n: int = 300, d: int = 20) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, 5, generator=g)
    return (latent @ torch.randn(5, d, generator=g) + 0.3 * torch.randn(n, d, generator=g)).half()


@pytest.mark.parametrize("seeds", [(0, 1), (2, 3)])
def test_fast_path_matches_alignment_functions(seeds):
    x, y = _reps(seeds[0]), _reps(seeds[1], d=12)
    got = pair_values(prepare(x), prepare(y), FAST_METRICS, 4)
    assert got["linear_cka"] == pytest.approx(float(linear_cka(x, y)), abs=1e-10)
    assert got["linear_cka_debiased"] == pytest.approx(
        float(linear_cka(x, y, debiased=True)), abs=1e-10
    )
    assert got["subspace_overlap"] == pytest.approx(
        float(subspace_overlap(x, y, 4).mean_cos2), abs=1e-8
    )
    assert 0.0 < got["linear_cka"] < 1.0


def test_copy_and_rotated_copy_give_one():
    x = _reps(0).double()
    q, _ = torch.linalg.qr(
        torch.randn(20, 20, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    )
    sx = prepare(x)
    for y in (x.clone(), x @ q + 3.0):
        got = pair_values(sx, prepare(y), FAST_METRICS, 5)
        for metric in FAST_METRICS:
            assert got[metric] == pytest.approx(1.0, abs=1e-9), metric


def test_constant_representation_is_nan():
    x = _reps(0)
    got = pair_values(prepare(x), prepare(torch.ones(300, 20)), FAST_METRICS, 4)
    assert all(v != v for v in got.values())


class _I:
    def __init__(self, seed, copy=None):
        self.seed = seed
        self.unit = (seed, copy or 0)


def test_shifted_pairs_pair_seed_i_with_next_seed():
    a = [_I(s) for s in (0, 1, 2)]
    b = [_I(s) for s in (2, 0, 1)]
    pairs = [(x.seed, y.seed) for x, y in shifted_pairs(a, b)]
    assert pairs == [(0, 1), (1, 2), (2, 0)]
    assert shifted_pairs(a[:1], b[:1]) == []
    # copies of one job are seed units like seeds: copy k of A with copy k+1 of B
    a = [_I(5, k) for k in range(3)]
    b = [_I(5, k) for k in (2, 1, 0)]
    assert [(x.unit, y.unit) for x, y in shifted_pairs(a, b)] == [
        ((5, 0), (5, 1)),
        ((5, 1), (5, 2)),
        ((5, 2), (5, 0)),
    ]


# --------------------------------------------------------------------------- stored settings
def _sweep_with_stored_settings(tmp_path, **rep):
    from omegaconf import OmegaConf

    from xmsem.analysis.synthetic import write_run

    for seed in range(3):
        run = write_run(tmp_path / f"seed={seed}", seed, members=("mlp",), widths=(8,),
                        epochs=(1,), n=48, live=False)  # fmt: skip
        path = run / ".hydra" / "config.yaml"
        cfg = OmegaConf.load(path)
        cfg.callbacks = {"representations": rep}
        OmegaConf.save(cfg, path)
    return tmp_path


def _cross(sweep, metrics, k=None):
    from xmsem.analysis import collect
    from xmsem.analysis.cache import PairCache
    from xmsem.analysis.crossrun import cross_run_alignment
    from xmsem.analysis.discovery import discover

    runs = discover(sweep)
    groups = collect.instance_groups(runs, collect.arch_order(runs))["synthetic"]
    res = cross_run_alignment("synthetic", groups, metrics, k, PairCache(None), slow_max_n=48)
    return runs, {(r["run_a"], r["run_b"], r["metric"]): r["value"] for r in res.rows}


def test_cross_run_values_use_the_settings_each_run_stored(tmp_path):
    from xmsem.alignment import rbf_cka, subspace_overlap
    from xmsem.analysis.synthetic import default_reps

    sweep = _sweep_with_stored_settings(tmp_path, rbf_threshold=0.5, subspace_k=3)
    runs, values = _cross(sweep, ("rbf_cka", "subspace_overlap"))
    assert all(r.settings.rbf_threshold == 0.5 and r.settings.subspace_k == 3 for r in runs)
    x, y = (default_reps()(s, "mlp", 1, "h1", 48, 8).half().double() for s in (0, 1))
    got_rbf = values[("seed=0", "seed=1", "seed_rbf_cka")]
    assert got_rbf == pytest.approx(float(rbf_cka(x, y, threshold=0.5)), abs=1e-9)
    assert abs(got_rbf - float(rbf_cka(x, y, threshold=1.0))) > 1e-4  # the stored one mattered
    got_sub = values[("seed=0", "seed=1", "seed_subspace_overlap")]
    assert got_sub == pytest.approx(float(subspace_overlap(x, y, 3).mean_cos2), abs=1e-9)
    # an explicit k (the analysis CLI's --subspace-k) overrides the stored one
    _, values = _cross(sweep, ("subspace_overlap",), k=5)
    got5 = values[("seed=0", "seed=1", "seed_subspace_overlap")]
    assert got5 == pytest.approx(float(subspace_overlap(x, y, 5).mean_cos2), abs=1e-9)


def test_runs_that_stored_different_settings_are_named(tmp_path, caplog):
    from xmsem.analysis.crossrun import cross_settings, stored_settings
    from xmsem.analysis.discovery import Run
    from xmsem.snapshots import MeasureSettings

    a = Run(tmp_path, "a", "completed", settings=MeasureSettings(rbf_threshold=0.5))
    b = Run(tmp_path, "b", "completed", settings=MeasureSettings(rbf_threshold=2.0,
                                                                 metrics=["linear_cka"]))  # fmt: skip
    c = Run(tmp_path, "c", "completed", settings=MeasureSettings(rbf_threshold=0.5,
                                                                 metrics=["linear_cka"]))  # fmt: skip
    assert stored_settings([a, c]).rbf_threshold == 0.5 and not caplog.records  # metrics differ
    assert stored_settings([a, b]).rbf_threshold == 0.5
    assert "different measurement settings (rbf_threshold)" in caplog.text
    assert stored_settings([Run(tmp_path, "d", "completed")]) == MeasureSettings()
    s = cross_settings(None, 100, MeasureSettings(subspace_k=4, probe_l2=0.5))
    assert (s.subspace_k, s.probe_l2, s.rbf_max_n, s.pairwise_max_n) == (4, 0.5, 100, 100)
