"""MLP and PGNN: hidden representations, tails, Lipschitz bounds, correction path, gradients."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from xmsem.models import MLP, PGNN, count_parameters
from xmsem.models.activations import activation_lipschitz

IN, C, HIDDEN = 20, 3, [16, 12, 8]
SHAPINGS = ["spectral", "projection", "diagonal", "none"]


def make(arch: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        cls = MLP if arch == "mlp" else PGNN
        return cls(IN, C, HIDDEN, **kwargs).double()


def inputs(n: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, IN, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def randomise_shaping(model: torch.nn.Module) -> None:
    """Move diagonal gains off one, so tests see them."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gain"):
                p.uniform_(0.5, 1.5)


def structured_by_hand(model: PGNN, x: torch.Tensor) -> torch.Tensor:
    """The PGNN without its correction path, from the parameters, in eval mode."""
    h = x
    for block in model.blocks:
        w = block.linear.shaping(block.linear.weight)
        h = block.act(h @ w.T + block.linear.bias)
    w = model.readout.shaping(model.readout.weight)
    return h @ w.T + model.readout.bias


ARCHS = [("mlp", {})] + [("pgnn", {"shaping": s}) for s in SHAPINGS]


@pytest.mark.parametrize(("arch", "kw"), ARCHS)
def test_shapes_names_and_hidden(arch: str, kw: dict) -> None:
    model = make(arch, **kw).eval()
    assert model.layer_names == ["h1", "h2", "h3"]
    assert model.primary_layer == "h3"
    x = inputs()
    logits, hidden = model(x, return_hidden=True)
    assert logits.shape == (7, C)
    assert list(hidden) == ["h1", "h2", "h3"]
    assert [h.shape[1] for h in hidden.values()] == HIDDEN
    assert (hidden["h2"] >= 0).all()  # post-activation (ReLU)
    torch.testing.assert_close(model(x), logits)
    images = x.reshape(7, 1, 4, 5)  # image-shaped input is flattened
    torch.testing.assert_close(model(images), logits)


@pytest.mark.parametrize(("arch", "kw"), ARCHS)
@pytest.mark.parametrize("training", [False, True])
def test_forward_from_reproduces_logits(arch: str, kw: dict, training: bool) -> None:
    model = make(arch, **kw).train(training)
    x = inputs()
    if training and kw.get("shaping") == "spectral":  # converge estimates: forwards then agree
        with torch.no_grad():
            for _ in range(200):
                model(x)
    logits, hidden = model(x, return_hidden=True)
    for layer in model.layer_names:
        torch.testing.assert_close(model.forward_from(layer, hidden[layer]), logits)


def test_unknown_layer_lists_names() -> None:
    model = make("pgnn")
    with pytest.raises(ValueError, match="'h9'.*h1, h2, h3"):
        model.forward_from("h9", torch.zeros(1, 8))
    with pytest.raises(ValueError, match="h1, h2, h3"):
        model.tail_lipschitz("x")


CASES = [
    ("mlp", {"activation": "relu"}),
    ("mlp", {"activation": "gelu"}),
    ("pgnn", {"shaping": "spectral", "alpha": 0.5}),
    ("pgnn", {"shaping": "none", "activation": "gelu", "corr_activation": "gelu", "alpha": -1.0}),
    ("pgnn", {"shaping": "projection", "activation": "tanh", "alpha": 2.0}),
    ("pgnn", {"shaping": "diagonal", "corr_activation": "relu", "alpha": 1.0}),
]


@pytest.mark.parametrize(("arch", "kw"), CASES)
def test_tail_lipschitz_bound_holds(arch: str, kw: dict) -> None:
    model = make(arch, **kw).eval()
    randomise_shaping(model)
    g = torch.Generator().manual_seed(2)
    for layer in model.layer_names:
        bound = model.tail_lipschitz(layer)
        width = HIDDEN[model.layer_names.index(layer)]
        a = torch.randn(500, width, generator=g, dtype=torch.float64).abs() * 3
        step = torch.randn(500, width, generator=g, dtype=torch.float64)
        step = step * torch.logspace(-4, 1, 500, dtype=torch.float64).unsqueeze(1)  # near and far
        b = a + step
        with torch.no_grad():
            ratio = (model.forward_from(layer, a) - model.forward_from(layer, b)).norm(dim=1)
        ratio = ratio / step.norm(dim=1)
        assert ratio.max().item() <= bound * (1 + 1e-9)
        assert ratio.max().item() > 0.01 * bound  # the inputs do probe the tail


def test_tail_lipschitz_is_tight_for_a_linear_tail() -> None:
    model = make("mlp").eval()
    w = model.readout.weight.detach()
    sigma = torch.linalg.matrix_norm(w, ord=2).item()
    assert model.tail_lipschitz("h3") == pytest.approx(sigma, rel=1e-12)
    v = torch.linalg.svd(w).Vh[0]  # top right singular vector attains the bound
    with torch.no_grad():
        zero = torch.zeros(1, 8, dtype=torch.float64)
        diff = model.forward_from("h3", v[None]) - model.forward_from("h3", zero)
    assert diff.norm().item() == pytest.approx(sigma, rel=1e-9)


def test_pgnn_block_bound_formula() -> None:
    model = make("pgnn", shaping="spectral", alpha=-0.4, activation="gelu", corr_activation="gelu")
    block = model.blocks[1]
    s = torch.linalg.matrix_norm(block.linear.shaping.exact(block.linear.weight), ord=2).item()
    su = torch.linalg.matrix_norm(block.correction.U, ord=2).item()
    sv = torch.linalg.matrix_norm(block.correction.V, ord=2).item()
    lip_gelu = 1.1289041452
    assert activation_lipschitz("gelu") == pytest.approx(lip_gelu, abs=1e-9)
    expected = lip_gelu * (s + 0.4 * su * lip_gelu * sv)
    assert block.lipschitz() == pytest.approx(expected, rel=1e-6)
    assert s <= block.linear.shaping.gamma * (1 + 1e-5)
    tail = model.tail_lipschitz("h1")
    assert tail == pytest.approx(expected * model.blocks[2].lipschitz() * model.readout.lipschitz())


@pytest.mark.parametrize("shaping", SHAPINGS)
def test_correction_off_is_the_structured_path_with_fewer_parameters(shaping: str) -> None:
    on = make("pgnn", shaping=shaping, learn_alpha=True)
    off = make("pgnn", shaping=shaping, correction=False, learn_alpha=True).eval()
    randomise_shaping(off)
    with torch.no_grad():
        torch.testing.assert_close(off(inputs()), structured_by_hand(off, inputs()))
    rank = 16
    dims = [IN, *HIDDEN]
    pairs = zip(dims[:-1], dims[1:], strict=False)
    corr = sum(rank * d_in + d_out * rank + 1 for d_in, d_out in pairs)
    assert count_parameters(on) - count_parameters(off) == corr
    assert not any("correction" in n or "alpha" in n for n, _ in off.named_parameters())


@pytest.mark.parametrize("shaping", SHAPINGS)
def test_alpha_zero_equals_structured_path(shaping: str) -> None:
    model = make("pgnn", shaping=shaping, alpha=0.0).eval()
    randomise_shaping(model)
    with torch.no_grad():
        torch.testing.assert_close(model(inputs()), structured_by_hand(model, inputs()))


def test_correction_matches_formula_by_hand() -> None:
    model = make("pgnn", shaping="diagonal", alpha=0.3, corr_activation="tanh").eval()
    randomise_shaping(model)
    x = inputs()
    h = x
    with torch.no_grad():
        for block in model.blocks:
            w = block.linear.shaping.gain[:, None] * block.linear.weight
            phi = torch.tanh(h @ block.correction.V.T) @ block.correction.U.T
            h = torch.relu(h @ w.T + block.linear.bias + 0.3 * phi)
        expected = (model.readout.shaping.gain[:, None] * model.readout.weight) @ h.T
        expected = expected.T + model.readout.bias
        torch.testing.assert_close(model(x), expected)
        without = make("pgnn", shaping="diagonal", alpha=0.0).eval()
        without.load_state_dict(model.state_dict())
        assert (model(x) - without(x)).abs().max().item() > 1e-3  # the correction matters


def test_pgnn_without_shaping_or_correction_equals_mlp_under_same_seed() -> None:
    mlp = make("mlp", seed=5).eval()
    pgnn = make("pgnn", seed=5, shaping="none", correction=False).eval()
    expected = 20 * 16 + 16 * 12 + 12 * 8 + 8 * 3 + (16 + 12 + 8 + 3)
    assert count_parameters(mlp) == count_parameters(pgnn) == expected
    torch.testing.assert_close(pgnn(inputs()), mlp(inputs()), rtol=0, atol=0)


@pytest.mark.parametrize("shaping", SHAPINGS)
def test_gradients_reach_every_parameter(shaping: str) -> None:
    model = make("pgnn", shaping=shaping, learn_alpha=True).train()
    randomise_shaping(model)
    loss = F.cross_entropy(model(inputs(32)), torch.arange(32) % C)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().max().item() > 1e-8, name


def test_learned_alpha_starts_at_alpha_and_fixed_alpha_is_no_parameter() -> None:
    learned = make("pgnn", alpha=0.25, learn_alpha=True)
    fixed = make("pgnn", alpha=0.25)
    alphas = [p.item() for n, p in learned.named_parameters() if n.endswith("alpha")]
    assert alphas == [0.25, 0.25, 0.25]
    assert count_parameters(learned) - count_parameters(fixed) == 3


def test_spectral_pgnn_eval_mode_caps_every_layer_after_training_steps() -> None:
    model = make("pgnn", shaping="spectral", gamma=0.8)
    with torch.no_grad():  # inflate the weights so every cap binds
        for layer in [*(b.linear for b in model.blocks), model.readout]:
            layer.weight.mul_(5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(inputs(32)), torch.arange(32) % C).backward()
        opt.step()
    model.eval()
    for layer in [*(b.linear for b in model.blocks), model.readout]:
        s = torch.linalg.matrix_norm(layer.shaped_weight(), ord=2).item()
        assert s == pytest.approx(0.8, rel=1e-5)
    copied = copy.deepcopy(model)
    torch.testing.assert_close(copied(inputs()), model(inputs()))
    assert all(math.isfinite(v) for v in (model.tail_lipschitz(n) for n in model.layer_names))
