"""compare_models: two in-memory modules over a loader give the values of the metric functions on
their layers' outputs, for every pair of layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import xmsem
from xmsem.alignment import linear_cka, subspace_overlap


def mlp(seed: int, width: int = 12) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, width), nn.ReLU(), nn.Linear(width, width), nn.Tanh(),
                         nn.Linear(width, 3))  # fmt: skip


def loader(n: int = 90, batch: int = 16, labels: bool = False):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(n, 6, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    data = torch.utils.data.TensorDataset(x, y) if labels else x
    return torch.utils.data.DataLoader(data, batch_size=batch), x, y


def test_matrices_equal_the_metric_on_the_layer_outputs() -> None:
    a, b = mlp(0), mlp(1, width=9)
    batches, x, _ = loader()
    result = xmsem.compare_models(a, b, batches, ["1", "3"], ["0", "3", "4"],
                                  metrics=["linear_cka", "subspace_overlap"],
                                  settings={"subspace_k": 2})  # fmt: skip
    with torch.no_grad():  # the references: the layers' outputs on all examples at once
        ha = {"1": a[:2](x), "3": a[:4](x)}
        hb = {"0": b[:1](x), "3": b[:4](x), "4": b(x)}
    assert result.n == 90 and result.layers_a == ["1", "3"] and result.layers_b == ["0", "3", "4"]
    cka, overlap = result.matrix("linear_cka"), result.matrix("subspace_overlap")
    assert cka.shape == (2, 3)
    for i, la in enumerate(result.layers_a):
        for j, lb in enumerate(result.layers_b):
            assert cka[i, j] == pytest.approx(float(linear_cka(ha[la], hb[lb])), abs=1e-6)
            expected = float(subspace_overlap(ha[la], hb[lb], 2).mean_cos2)
            assert overlap[i, j] == pytest.approx(expected, abs=1e-6)
    assert set(result.matrices) == {"linear_cka", "subspace_overlap"}


def test_a_model_against_itself_and_a_rotated_copy() -> None:
    a = mlp(0)
    b = mlp(0)
    q, _ = torch.linalg.qr(torch.randn(12, 12, generator=torch.Generator().manual_seed(3)))
    with torch.no_grad():  # layer "2" of b = layer "2" of a rotated by q (then undone in "4")
        b[2].weight.copy_(q.T @ a[2].weight)
        b[2].bias.copy_(q.T @ a[2].bias)
    batches, _, _ = loader()
    same = xmsem.compare_models(a, a, batches, ["1", "2"], ["1", "2"])
    m = same.matrix()
    assert m.diagonal() == pytest.approx([1.0, 1.0], abs=1e-9)
    assert m[0, 1] == pytest.approx(m[1, 0], abs=1e-12) and m[0, 1] < 0.999
    rotated = xmsem.compare_models(a, b, batches, ["2"], ["2"], names=("a", "rotated"))
    assert rotated.matrix()[0, 0] == pytest.approx(1.0, abs=1e-6)  # CKA: orthogonal invariance


def test_labels_give_probe_transfer_both_ways_and_max_examples() -> None:
    batches, _, _ = loader(labels=True)
    result = xmsem.compare_models(mlp(0), mlp(1), batches, ["3"], ["3"],
                                  metrics=["linear_cka", "probe_transfer"], max_examples=64)  # fmt: skip
    assert result.n == 64
    ratios = {
        (r["member_a"], r["member_b"]) for r in result.rows if r["metric"] == "transfer_ratio"
    }
    assert ratios == {("a", "b"), ("b", "a")}


def test_bad_input_is_one_clear_line() -> None:
    batches, _, _ = loader()
    with pytest.raises(ValueError, match="'layers_a'.*no module 'fc9'; valid: 0, 1, 2"):
        xmsem.compare_models(mlp(0), mlp(1), batches, ["fc9"], ["1"])
    with pytest.raises(ValueError, match="'stitching' is not available .*needs a run"):
        xmsem.compare_models(mlp(0), mlp(1), batches, ["1"], ["1"], metrics=["stitching"])
    with pytest.raises(ValueError, match="'probe_transfer' needs labels"):
        xmsem.compare_models(mlp(0), mlp(1), batches, ["1"], ["1"], metrics=["probe_transfer"])


def test_training_mode_is_restored_and_plot_saves_png_and_pdf(tmp_path) -> None:
    a, b = mlp(0), mlp(1)
    a.train()
    b.eval()
    batches, _, _ = loader()
    result = xmsem.compare_models(a, b, batches, ["1", "3"], ["1", "3"])
    assert a.training and not b.training
    fig = result.plot(path=tmp_path / "cka")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert f"{result.matrix()[0, 1]:.2f}" in texts  # cells are annotated with their values
    assert (tmp_path / "cka.png").stat().st_size > 0 and (tmp_path / "cka.pdf").stat().st_size > 0
