"""The torchmetrics classes (xmsem.metrics) equal the direct functions, and their states reduce
across processes by summation (torchmetrics' own merge and sync code paths)."""

from __future__ import annotations

import copy

import pytest
import torch

from xmsem.alignment import MinibatchCKA as PlainMinibatchCKA
from xmsem.alignment import linear_cka
from xmsem.metrics import LinearCKA, MinibatchCKA


def data(seed: int, n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 4, generator=g)
    x = z @ torch.randn(4, 7, generator=g) + 0.5 * torch.randn(n, 7, generator=g) + 4.0
    y = torch.tanh(z @ torch.randn(4, 5, generator=g)) + 0.3 * torch.randn(n, 5, generator=g)
    return x, y


@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_metric_equals_full_data_value(debiased: bool) -> None:
    x, y = data(0)
    metric = LinearCKA(7, 5, debiased=debiased)
    for i in range(0, 96, 13):  # uneven batches, the last one short
        metric.update(x[i : i + 13], y[i : i + 13])
    expected = float(linear_cka(x, y, debiased=debiased))
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-10)
    metric.reset()
    metric.update(x[:10], y[:10])
    assert float(metric.compute()) == pytest.approx(
        float(linear_cka(x[:10], y[:10], debiased=debiased)), abs=1e-10
    )


def _shards(make, x, y, size):
    """Two 'processes', each updated with every other batch."""
    ranks = [make(), make()]
    for k, i in enumerate(range(0, len(x), size)):
        ranks[k % 2].update(x[i : i + size], y[i : i + size])
    return ranks


@pytest.mark.parametrize(
    ("make", "reference"),
    [
        (lambda: LinearCKA(7, 5), lambda x, y: linear_cka(x, y)),
        (lambda: LinearCKA(7, 5, debiased=True), lambda x, y: linear_cka(x, y, debiased=True)),
    ],
)
def test_linear_cka_states_reduce_across_processes(make, reference) -> None:
    x, y = data(1)
    rank0, rank1 = _shards(make, x, y, 12)
    alone = float(copy.deepcopy(rank0).compute())
    assert alone != pytest.approx(float(reference(x, y)), abs=1e-6)  # one shard alone differs
    rank0.merge_state(rank1)  # torchmetrics applies each state's dist_reduce_fx
    assert float(rank0.compute()) == pytest.approx(float(reference(x, y)), abs=1e-10)


def test_sync_with_a_two_process_gather() -> None:
    """The DDP path: ``compute()`` gathers every state from both ranks and reduces it."""
    x, y = data(2)
    ranks: list[LinearCKA] = []

    def gather(tensor: torch.Tensor, group=None) -> list[torch.Tensor]:
        name = next(n for n in ranks[0]._defaults if getattr(ranks[0], n) is tensor)
        return [tensor, getattr(ranks[1], name)]

    def make() -> LinearCKA:
        return LinearCKA(7, 5, dist_sync_fn=gather, distributed_available_fn=lambda: True)

    ranks += _shards(make, x, y, 16)
    assert float(ranks[0].compute()) == pytest.approx(float(linear_cka(x, y)), abs=1e-10)
    assert int(ranks[0].n) == 48  # unsynced again after compute: its own shard


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_minibatch_metric_equals_plain_and_reduces(kernel: str) -> None:
    x, y = data(3)
    plain = PlainMinibatchCKA(kernel=kernel)
    for i in range(0, 96, 16):
        plain.update(x[i : i + 16], y[i : i + 16])
    rank0, rank1 = _shards(lambda: MinibatchCKA(kernel=kernel), x, y, 16)
    rank0.merge_state(rank1)
    assert float(rank0.compute()) == pytest.approx(float(plain.compute()), abs=1e-12)


def test_non_finite_batch_gives_nan_and_bad_widths_raise() -> None:
    x, y = data(4)
    metric = LinearCKA(7, 5)
    metric.update(x[:10], y[:10])
    bad = x[10:20].clone()
    bad[0, 0] = float("nan")
    metric.update(bad, y[10:20])
    with pytest.warns(UserWarning):
        assert torch.isnan(metric.compute())
    with pytest.raises(ValueError, match=r"expected x \(\*, 7\)"):
        metric.update(x[:, :6], y)
    with pytest.raises(ValueError, match="num_features_x"):
        LinearCKA(0, 5)
