"""EnsembleNet: K copies in one vectorised network equal K plain networks (forward, copies,
spectral cap per copy)."""

from __future__ import annotations

import pytest
import torch

from xmsem.models import build_model
from xmsem.models.ensemble import EnsembleNet, batched_linear

SPECS = [
    {"arch": "mlp", "hidden": [24, 16]},
    {"arch": "pgnn", "hidden": [24, 16], "corr_rank": 4},
    {
        "arch": "pgnn",
        "hidden": [24, 16],
        "shaping": "projection",
        "proj_rank": 8,
        "learn_alpha": True,
    },  # fmt: skip
    {"arch": "pgnn", "hidden": [24, 16], "shaping": "diagonal", "correction": False},
    {"arch": "pgnn", "hidden": [24, 16], "shaping": "none", "activation": "gelu"},
]


def copies(spec: dict, k: int = 3) -> list[torch.nn.Module]:
    nets = []
    for i in range(k):
        torch.manual_seed(100 + i)
        nets.append(build_model(spec, input_dim=12, num_classes=5))
    return nets


def test_batched_linear_matches_per_copy_linear() -> None:
    gen = torch.Generator().manual_seed(0)
    w, b = torch.randn(4, 6, 5, generator=gen), torch.randn(4, 6, generator=gen)
    shared, own = torch.randn(7, 5, generator=gen), torch.randn(4, 7, 5, generator=gen)
    for k in range(4):
        ref = shared @ w[k].T + b[k]
        torch.testing.assert_close(batched_linear(shared, w, b)[k], ref)
        torch.testing.assert_close(batched_linear(own, w, b)[k], own[k] @ w[k].T + b[k])
        torch.testing.assert_close(batched_linear(shared, w)[k], shared @ w[k].T)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['arch']}-{s.get('shaping', '')}")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_ensemble_forward_equals_each_copy(spec: dict, mode: str) -> None:
    nets = copies(spec)
    ens = EnsembleNet.from_copies(nets)
    for net in [*nets, ens]:
        net.train(mode == "train")
    x = torch.randn(9, 12)
    for _ in range(2):  # the second train-mode pass uses the warm power-iteration vectors
        logits, hidden = ens(x, return_hidden=True)
        assert logits.shape == (3, 9, 5) and list(hidden) == ["h1", "h2"]
        for k, net in enumerate(nets):
            ref_logits, ref_hidden = net(x, return_hidden=True)
            torch.testing.assert_close(logits[k], ref_logits, rtol=1e-5, atol=1e-6)
            for layer in ref_hidden:
                torch.testing.assert_close(
                    hidden[layer][k], ref_hidden[layer], rtol=1e-5, atol=1e-6
                )
    own = torch.randn(3, 9, 12)
    per_copy = ens(own, per_copy=True)
    for k, net in enumerate(nets):
        torch.testing.assert_close(per_copy[k], net(own[k]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("spec", SPECS[:3], ids=lambda s: s["arch"])
def test_copy_module_is_a_plain_network_with_that_copys_weights(spec: dict) -> None:
    nets = copies(spec)
    ens = EnsembleNet.from_copies(nets).eval()
    for k, net in enumerate(nets):
        plain = ens.copy_module(k)
        assert type(plain) is type(net) and not plain.training
        for (name, a), (_, b) in zip(
            plain.state_dict().items(), net.state_dict().items(), strict=True
        ):
            assert torch.equal(a, b), name
        x = torch.randn(5, 12)
        net.eval()
        torch.testing.assert_close(plain.forward_from("h1", net(x, True)[1]["h1"]), net(x))
        assert plain.tail_lipschitz("h1") == pytest.approx(net.tail_lipschitz("h1"), rel=1e-6)
    # a copy holds copies of the weights: changing it leaves the ensemble alone
    plain = ens.copy_module(0)
    with torch.no_grad():
        next(plain.parameters()).add_(1.0)
    assert torch.equal(next(ens.parameters())[0], next(nets[0].parameters()))
    with pytest.raises(IndexError, match="copy 3 out of range"):
        ens.copy_module(3)


def test_spectral_cap_holds_per_copy() -> None:
    """Copies with very different spectral norms are each capped at gamma on their own: the scale
    of one copy never leaks into another."""
    spec = {"arch": "pgnn", "hidden": [24, 16], "gamma": 1.5, "corr_rank": 4}
    nets = copies(spec, 4)
    scales = [0.05, 1.0, 10.0, 100.0]
    with torch.no_grad():
        for net, s in zip(nets, scales, strict=True):
            for name, p in net.named_parameters():
                if name.endswith("linear.weight") or name == "readout.weight":
                    p.mul_(s)
    ens = EnsembleNet.from_copies(nets)
    layers = [b.linear for b in ens.blocks] + [ens.readout]
    for layer in layers:
        w = layer.weight.detach()
        raw = torch.linalg.matrix_norm(w.double(), ord=2)
        exact = torch.linalg.matrix_norm(layer.shaping.exact(w).double(), ord=2)
        # per copy: min(raw sigma, gamma) exactly
        torch.testing.assert_close(exact, raw.clamp(max=1.5), rtol=1e-5, atol=1e-6)
        assert raw[0] < 1.5 < raw[-1]  # the test covers capped and uncapped copies in one stack
    # train mode: the batched power iteration estimates each copy's sigma as the plain one does
    ens.train()
    for net in nets:
        net.train()
    plain_layers = [[b.linear for b in net.blocks] + [net.readout] for net in nets]
    for _ in range(3):  # cold start (warm-up steps), then warm-started steps
        for i, layer in enumerate(layers):
            batched = layer.shaping.power_sigma(layer.weight)
            assert batched.shape == (4,)
            for k in range(4):
                plain = plain_layers[k][i]
                est = plain.shaping.power_sigma(plain.weight)
                torch.testing.assert_close(batched[k], est, rtol=1e-4, atol=1e-6)
    for layer in layers:  # estimates never exceed the truth, so the eval cap is the strict one
        raw = torch.linalg.matrix_norm(layer.weight.detach().double(), ord=2).float()
        assert torch.all(layer.shaping.power_sigma(layer.weight) <= raw * (1 + 1e-5))


def test_state_dict_keys_are_the_plain_networks_keys_with_a_copy_dimension() -> None:
    for spec in SPECS:
        nets = copies(spec, 2)
        ens = EnsembleNet.from_copies(nets)
        plain, batched = nets[0].state_dict(), ens.state_dict()
        assert list(plain) == list(batched)
        for key, value in plain.items():
            assert batched[key].shape == (2, *value.shape)
