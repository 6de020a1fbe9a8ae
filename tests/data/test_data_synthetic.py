"""Tests for the synthetic latent-factor task."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from xmsem.data.synthetic import load_synthetic


def _softmax_readout_accuracy(
    x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor
) -> float:
    """Test accuracy of a multinomial logistic regression (with bias) fitted by LBFGS."""
    ones_tr, ones_te = torch.ones(len(x_train), 1), torch.ones(len(x_test), 1)
    a_train, a_test = torch.cat([x_train, ones_tr], 1), torch.cat([x_test, ones_te], 1)
    w = torch.zeros(a_train.shape[1], int(y_train.max()) + 1, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(a_train @ w, y_train)
        loss.backward()
        return loss

    opt.step(closure)
    return float(((a_test @ w).argmax(1) == y_test).float().mean())


def _lstsq_readout_accuracy(
    x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor
) -> float:
    """Test accuracy of a least-squares fit to one-hot labels (with bias)."""
    a_train = torch.cat([x_train, torch.ones(len(x_train), 1)], 1)
    a_test = torch.cat([x_test, torch.ones(len(x_test), 1)], 1)
    w = torch.linalg.lstsq(a_train, F.one_hot(y_train).float()).solution
    return float(((a_test @ w).argmax(1) == y_test).float().mean())


SMALL = {"n_train": 2000, "n_test": 1000}


def test_same_seed_is_bit_identical() -> None:
    a, b = load_synthetic(**SMALL, seed=3), load_synthetic(**SMALL, seed=3)
    for field in ("x_train", "y_train", "x_test", "y_test", "z_train", "z_test"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field


def test_different_seed_differs() -> None:
    a, b = load_synthetic(**SMALL, seed=3), load_synthetic(**SMALL, seed=4)
    assert not torch.allclose(a.x_train, b.x_train)
    assert not torch.equal(a.z_test, b.z_test)
    assert (a.y_train != b.y_train).float().mean() > 0.5


def test_global_rng_untouched() -> None:
    torch.manual_seed(99)
    state = torch.get_rng_state()
    load_synthetic(n_train=50, n_test=20)
    assert torch.equal(torch.get_rng_state(), state)


def test_shapes_dtypes_and_standardisation() -> None:
    data = load_synthetic(
        n_train=300, n_test=100, latent_dim=5, input_dim=17, num_classes=4, hidden=32
    )
    assert data.name == "synthetic" and data.num_classes == 4 and data.input_dim == 17
    assert data.x_train.shape == (300, 17) and data.x_test.shape == (100, 17)
    assert data.z_train.shape == (300, 5) and data.z_test.shape == (100, 5)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert set(data.y_train.tolist()) == {0, 1, 2, 3}
    torch.testing.assert_close(data.x_train.mean(0), torch.zeros(17), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.x_train.std(0, correction=0), torch.ones(17), atol=1e-4, rtol=0)


def test_test_split_does_not_depend_on_n_train() -> None:
    a, b = load_synthetic(n_train=100, n_test=50), load_synthetic(n_train=700, n_test=50)
    assert torch.equal(a.z_test, b.z_test)
    assert torch.equal(a.y_test, b.y_test)


@pytest.mark.parametrize(("latent_dim", "num_classes"), [(8, 10), (8, 3), (4, 10), (2, 2)])
def test_classes_roughly_balanced(latent_dim: int, num_classes: int) -> None:
    for seed in (0, 1, 7, 1234):
        data = load_synthetic(
            n_train=5000, n_test=10, latent_dim=latent_dim, num_classes=num_classes, seed=seed
        )
        freq = torch.bincount(data.y_train, minlength=num_classes).float() / 5000
        assert freq.min() > 0.7 / num_classes and freq.max() < 1.3 / num_classes, freq.tolist()


def test_labels_are_a_linear_function_of_z() -> None:
    data = load_synthetic(**SMALL)
    acc_z = _softmax_readout_accuracy(data.z_train, data.y_train, data.z_test, data.y_test)
    assert acc_z > 0.95
    shuffled = data.y_train[torch.randperm(len(data.y_train), generator=torch.Generator())]
    assert _softmax_readout_accuracy(data.z_train, shuffled, data.z_test, data.y_test) < 0.3


def test_inputs_carry_the_label() -> None:
    data = load_synthetic(**SMALL)
    assert _lstsq_readout_accuracy(data.x_train, data.y_train, data.x_test, data.y_test) > 0.5


def test_noise_changes_inputs_but_not_labels() -> None:
    clean, noisy = load_synthetic(**SMALL, noise=0.0), load_synthetic(**SMALL, noise=1.0)
    assert torch.equal(clean.y_train, noisy.y_train) and torch.equal(clean.z_train, noisy.z_train)
    assert not torch.allclose(clean.x_train, noisy.x_train, atol=1e-2)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_train": 0}, "n_train"),
        ({"n_test": -5}, "n_test"),
        ({"latent_dim": 2.5}, "latent_dim"),
        ({"input_dim": True}, "input_dim"),
        ({"hidden": 0}, "hidden"),
        ({"num_classes": 1}, "num_classes"),
        ({"latent_dim": 1, "num_classes": 3}, "num_classes"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be") as info:
        load_synthetic(**kwargs)
    assert "\n" not in str(info.value)
