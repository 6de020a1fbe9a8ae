"""One snapshot meets the same pair of layers twice (the pairwise rows and the cross-layer CKA
matrix); the cross product X^T Y behind linear CKA is computed once per pair and both rows still
equal the independent reference."""

from __future__ import annotations

import torch

from xmsem.alignment import linear_cka
from xmsem.snapshots import MeasureSettings, pair_rows
from xmsem.snapshots.measure import RepCache, cross_layer_rows
from xmsem.snapshots.store import layer_dtype


def _reps(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(60, 7, generator=gen, dtype=torch.float64)
    return {"h1": base @ torch.randn(7, 9, generator=gen, dtype=torch.float64),
            "h2": torch.randn(60, 5, generator=gen, dtype=torch.float64)}  # fmt: skip


def test_cross_product_shared_between_pair_and_cross_layer_rows():
    a, b = _reps(0), _reps(1)
    labels = torch.arange(60) % 3
    s = MeasureSettings(metrics=["linear_cka", "linear_cka_debiased"], controls=False)
    cache = RepCache(labels, 30, s)
    rows = pair_rows("a", "b", a, b, [("h1", "h1"), ("h2", "h2")], labels, 30, s, cache=cache)
    rows += cross_layer_rows("a", "b", a, b, cache)
    assert len(cache._frob2) == 4  # 2x2 layer pairs, each product once
    value = {(r["metric"], r["layer_a"], r["layer_b"]): r["value"] for r in rows}
    for la in a:
        for lb in b:
            ref = float(linear_cka(a[la], b[lb]))
            assert abs(value[("cross_layer_cka", la, lb)] - ref) < 1e-12
    for layer in a:
        assert value[("linear_cka", layer, layer)] == value[("cross_layer_cka", layer, layer)]
    # without a cache: the same numbers
    plain = {(r["layer_a"], r["layer_b"]): r["value"] for r in cross_layer_rows("a", "b", a, b)}
    for (la, lb), v in plain.items():
        assert abs(v - value[("cross_layer_cka", la, lb)]) < 1e-12


def test_storage_dtype_checks_range_with_nan_and_inf_present():
    x = torch.randn(50, 4)
    assert layer_dtype(x, "float16") == torch.float16
    x[0, 0], x[1, 1] = float("nan"), float("inf")
    assert layer_dtype(x, "float16") == torch.float16  # non-finite values keep their dtype
    x[2, 2] = 1e6
    assert layer_dtype(x, "float16") == torch.float32  # a finite value beyond float16's range
    assert layer_dtype(torch.empty(0, 3), "float16") == torch.float16
