"""Members of any kind: the built-in CNN, any nn.Module by ``_target_`` + ``layers``, layer pairing."""

from __future__ import annotations

import csv
import logging
import math
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.conftest import compose_cfg
from xmsem.models import CNN, ExtractedNet, build_model, member_layers, stitch_support
from xmsem.models.cnn import conv_lipschitz_bound
from xmsem.snapshots.measure import layer_pairs
from xmsem.train import run

SMALL_CNN = textwrap.dedent(
    """
    import torch
    from torch import nn


    class SmallCNN(nn.Module):
        def __init__(self, channels: int = 4, num_classes: int = 4):
            super().__init__()
            self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(2)
            self.fc1 = nn.Linear(channels * 4, 8)
            self.out = nn.Linear(8, num_classes)

        def forward(self, x):
            h = torch.relu(self.conv1(x))
            h = torch.relu(self.conv2(h))
            return self.out(torch.relu(self.fc1(self.pool(h).flatten(1))))
    """
)


@pytest.fixture
def ext_package(tmp_path: Path, monkeypatch) -> str:
    """A package written to tmp_path (outside xmsem) and put on the path, as a user would."""
    name = f"extnets_{tmp_path.name.replace('-', '_')}"
    (tmp_path / "pkgs" / name).mkdir(parents=True)
    (tmp_path / "pkgs" / name / "__init__.py").write_text(SMALL_CNN)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setenv(
        "PYTHONPATH", f"{tmp_path / 'pkgs'}:{__import__('os').environ.get('PYTHONPATH', '')}"
    )
    yield name
    sys.modules.pop(name, None)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Independent reference: Gram-matrix form of biased linear CKA, float64."""
    x, y = x.double(), y.double()
    n = len(x)
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    k, l = h @ x @ x.T @ h, h @ y @ y.T @ h
    return float((k * l).sum() / (k.norm() * l.norm()))


# --------------------------------------------------------------------------- the must-show run
def test_target_cnn_member_trains_next_to_mlp(tmp_path, ext_package, tiny_overrides, caplog):
    """A CNN from a package outside xmsem joins by _target_ + layers: its rows are in
    alignment.csv, stitching into it is skipped with a recorded reason, no layer is substituted."""
    run_dir = tmp_path / "run"
    overrides = [
        "debug=tiny", "model=mlp", "model.mlp.hidden=[16,16]",
        f"+model.cnn={{_target_: {ext_package}.SmallCNN, layers: [conv1, conv2, fc1], "
        "input_shape: [1, 4, 4], channels: 3}",
        "trainer.max_epochs=1", "callbacks.representations.subspace_k=4",
    ]  # fmt: skip
    cfg = compose_cfg(overrides, run_dir)
    with caplog.at_level(logging.WARNING, logger="xmsem"):
        results = run(cfg, run_dir)
    assert 0.0 <= results["test/cnn/acc"] <= 1.0
    rows = _csv(run_dir / "metrics" / "alignment.csv")
    layers = {"mlp": ["h1", "h2"], "cnn": ["conv1", "conv2", "fc1"]}
    for r in rows:  # every row names a layer its model really has: nothing substituted
        assert r["layer_a"] in layers[r["member_a"]] and r["layer_b"] in layers[r["member_b"]]
    pair = [r for r in rows if {r["member_a"], r["member_b"]} == {"mlp", "cnn"}]
    for epoch in ("0", "1"):
        cross = {(r["layer_a"], r["layer_b"]): float(r["value"]) for r in pair
                 if r["metric"] == "cross_layer_cka" and r["epoch"] == epoch}  # fmt: skip
        assert set(cross) == {(a, b) for a in layers["mlp"] for b in layers["cnn"]}
        # the default pairing (last): no common names, so exactly the last layers (h2, fc1)
        cka = [r for r in pair if r["metric"] == "linear_cka" and r["epoch"] == epoch]
        assert [(r["layer_a"], r["layer_b"]) for r in cka] == [("h2", "fc1")]
        assert float(cka[0]["value"]) == pytest.approx(cross[("h2", "fc1")], abs=1e-12)
    # the numbers agree with an independent CKA of the stored snapshot (conv maps flattened)
    reps = torch.load(run_dir / "reps/epoch_001/cnn/conv1.pt")
    assert reps.shape[1] == 3 * 4 * 4  # (n, C*H*W)
    h1 = torch.load(run_dir / "reps/epoch_001/mlp/h1.pt")
    value = next(float(r["value"]) for r in pair if r["epoch"] == "1" and
                 r["metric"] == "cross_layer_cka" and r["layer_a"] == "h1" and r["layer_b"] == "conv1")  # fmt: skip
    assert value == pytest.approx(_linear_cka(h1, reps), abs=1e-9)
    # stitching: into the MLP yes, into the _target_ CNN never, and the skip is on record
    stitched = {(r["member_a"], r["member_b"]) for r in rows if r["metric"] == "stitch_acc"}
    assert stitched == {("cnn", "mlp")}
    skipped = _csv(run_dir / "metrics" / "skipped.csv")
    assert [(s["member_a"], s["member_b"], s["what"]) for s in skipped] == [
        ("mlp", "cnn", "stitching")
    ]
    assert "_target_ member" in skipped[0]["reason"]
    assert any("skipped stitching mlp -> cnn" in rec.getMessage() for rec in caplog.records)


def test_same_name_pairing_records_models_without_common_layers(tmp_path, tiny_overrides):
    run_dir = tmp_path / "run"
    overrides = [*tiny_overrides, "trainer.max_epochs=1", "model.mlp.hidden=[16,16,16]",
                 "callbacks.representations.pairs=same_name",
                 "+model.cnn={arch: cnn, channels: [4], hidden: [8], input_shape: [1, 4, 4]}"]  # fmt: skip
    cfg = compose_cfg(overrides, run_dir)
    run(cfg, run_dir)
    rows = _csv(run_dir / "metrics" / "alignment.csv")
    cka = {(r["member_a"], r["member_b"], r["layer_a"], r["layer_b"]) for r in rows
           if r["metric"] == "linear_cka" and r["epoch"] == "1"}  # fmt: skip
    # pgnn [16,16] and mlp [16,16,16] share h1, h2 only: h3 is never compared with anything
    assert cka == {("pgnn", "mlp", "h1", "h1"), ("pgnn", "mlp", "h2", "h2")}
    skipped = {
        (s["member_a"], s["member_b"], s["what"]) for s in _csv(run_dir / "metrics/skipped.csv")
    }
    assert skipped == {("pgnn", "cnn", "pairs"), ("mlp", "cnn", "pairs")}
    # the built-in CNN runs its tail: it is stitched into, with a finite Lipschitz bound
    gaps = [r for r in rows if r["metric"] == "stitch_gap" and r["member_b"] == "cnn"]
    assert gaps and all(math.isfinite(float(r["value"])) for r in gaps)


# --------------------------------------------------------------------------- pairing
def test_layer_pairs_modes() -> None:
    a, b = ["h1", "h2", "h3"], ["h1", "h2"]
    assert layer_pairs(a, b, "same_name") == [("h1", "h1"), ("h2", "h2")]
    assert layer_pairs(a, b, "last") == [("h1", "h1"), ("h2", "h2"), ("h3", "h2")]
    assert layer_pairs(a, a, "last") == [("h1", "h1"), ("h2", "h2"), ("h3", "h3")]
    assert len(layer_pairs(a, b, "all")) == 6
    assert layer_pairs(a, ["conv1", "fc1"], "same_name") == []
    assert layer_pairs(a, ["conv1", "fc1"], "last") == [("h3", "fc1")]
    with pytest.raises(ValueError, match="pairs='near'"):
        layer_pairs(a, b, "near")


# --------------------------------------------------------------------------- built-in CNN
def _operator_norm(conv: nn.Conv2d, shape: tuple[int, ...], steps: int = 200) -> float:
    """Power iteration on J^T J of the (linear, bias-free) conv: a lower bound that converges."""
    v = torch.randn(1, *shape, dtype=torch.float64)
    w = conv.weight.detach().double()
    for _ in range(steps):
        v = v / v.norm()
        u = torch.nn.functional.conv2d(v, w, padding=conv.padding)
        v = torch.nn.functional.conv_transpose2d(u, w, padding=conv.padding)
    v = v / v.norm()
    return float(torch.nn.functional.conv2d(v, w, padding=conv.padding).norm())


def test_conv_lipschitz_bound_is_exact_for_1x1_and_an_upper_bound_otherwise() -> None:
    torch.manual_seed(0)
    one = nn.Conv2d(3, 5, 1)
    assert conv_lipschitz_bound(one.weight) == pytest.approx(
        float(torch.linalg.matrix_norm(one.weight.detach().double().flatten(1), ord=2)), rel=1e-12
    )
    assert _operator_norm(one, (3, 6, 6)) == pytest.approx(
        conv_lipschitz_bound(one.weight), rel=1e-6
    )
    three = nn.Conv2d(3, 5, 3, padding=1)
    true = _operator_norm(three, (3, 12, 12))
    assert true <= conv_lipschitz_bound(three.weight) + 1e-9
    assert conv_lipschitz_bound(three.weight) <= 3.0 * true  # not vacuous


def test_cnn_layers_shapes_and_tail() -> None:
    torch.manual_seed(0)
    net = build_model({"arch": "cnn", "channels": [4, 6], "hidden": [10]}, 64, 3, (1, 8, 8))
    assert isinstance(net, CNN) and net.layer_names == ["conv1", "conv2", "fc1"]
    assert member_layers({"arch": "cnn", "channels": [4, 6], "hidden": [10]}) == net.layer_names
    x = torch.randn(5, 64)
    logits, hidden = net(x, return_hidden=True)
    assert {k: tuple(v.shape) for k, v in hidden.items()} == {
        "conv1": (5, 4 * 4 * 4), "conv2": (5, 6 * 2 * 2), "fc1": (5, 10)}  # fmt: skip
    assert torch.equal(net(x.reshape(5, 1, 8, 8)), logits)  # images or flat: the same network
    for layer in net.layer_names:
        assert torch.allclose(net.forward_from(layer, hidden[layer]), logits, atol=1e-6)
        assert math.isfinite(net.tail_lipschitz(layer)) and net.tail_lipschitz(layer) > 0
    # the bound holds: |f(h) - f(h')| <= L |h - h'| along random directions
    h = hidden["conv1"]
    d = 1e-3 * torch.randn_like(h)
    change = (net.forward_from("conv1", h + d) - logits).norm(dim=1)
    assert torch.all(change <= net.tail_lipschitz("conv1") * d.norm(dim=1) + 1e-6)
    assert stitch_support(net) is None


def test_cnn_needs_an_image_shape() -> None:
    with pytest.raises(ValueError, match="input_shape.*needs images"):
        build_model({"arch": "cnn"}, 64, 3)
    with pytest.raises(ValueError, match="input_shape.*holds 49 values.*64 features"):
        build_model({"arch": "cnn", "input_shape": [1, 7, 7]}, 64, 3)


# --------------------------------------------------------------------------- any nn.Module
class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.lin(torch.relu(self.lin(x))))


class _TupleBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        h = self.lin(x)
        return h, h.sum()


class _Branchy(nn.Module):
    """Data-dependent control flow (FX cannot trace it) and a tuple-returning block."""

    def __init__(self) -> None:
        super().__init__()
        self.block = _TupleBlock()
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        h, total = self.block(x)
        if total > 1e9:
            h = h * 0
        return self.out(torch.relu(h))


def test_hooks_fallback_tuple_outputs_and_reused_modules(monkeypatch) -> None:
    torch.manual_seed(0)
    net = ExtractedNet(_Branchy(), ["block"], (4,))
    x = torch.randn(6, 4)
    net.verify(x)
    assert net.method == "hooks"
    logits, hidden = net(x, return_hidden=True)
    assert torch.equal(hidden["block"], net.net.block.lin(x))  # the tuple's first tensor
    assert torch.equal(logits, net.net(x))
    with pytest.raises(ValueError, match="'lin' ran 2 times"):
        reused = ExtractedNet(_Twice(), ["lin"], (4,))
        reused.method = "hooks"
        reused(x, return_hidden=True)


def test_fx_extraction_matches_the_modules_outputs(ext_package) -> None:
    spec = {"_target_": f"{ext_package}.SmallCNN", "layers": ["conv1", "fc1"], "channels": 2}
    net = build_model(spec, 16, 4, (1, 4, 4))
    assert net.method == "fx" and stitch_support(net) is not None
    x = torch.randn(3, 16)
    logits, hidden = net(x, return_hidden=True)
    conv1 = net.net.conv1(x.reshape(3, 1, 4, 4))
    assert torch.allclose(hidden["conv1"], conv1.flatten(1)) and hidden["conv1"].shape == (3, 32)
    assert torch.allclose(logits, net(x))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"_target_": "nowhere_pkg.Net", "layers": ["a"]}, "cannot import 'nowhere_pkg.Net'"),
        (
            {"_target_": "{pkg}.SmallCNN", "layers": ["conv9"]},
            "has no module 'conv9'; valid: conv1",
        ),
        ({"_target_": "{pkg}.SmallCNN", "layers": []}, "'layers': must be a non-empty list"),
        ({"_target_": "{pkg}.SmallCNN", "layers": ["fc1"], "size": 3}, "unexpected keyword"),
        (
            {"_target_": "{pkg}.SmallCNN", "layers": ["fc1"], "num_classes": 7},
            r"expected logits \(2, 4\)",
        ),
        ({"_target_": "{pkg}.SmallCNN", "arch": "mlp", "layers": ["fc1"]}, "either 'arch' or"),
    ],
)
def test_bad_target_specs_fail_in_one_line(ext_package, spec, message) -> None:
    spec = {k: v.format(pkg=ext_package) if isinstance(v, str) else v for k, v in spec.items()}
    with pytest.raises(ValueError, match=message) as info:
        build_model(spec, 16, 4, (1, 4, 4))
    assert "\n" not in str(info.value)


def test_bad_target_member_stops_the_cli_before_training(tmp_path, ext_package) -> None:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "xmsem.train", "debug=tiny", "model=mlp",
         f"+model.cnn={{_target_: {ext_package}.SmallCNN, layers: [conv7]}}",
         f"hydra.run.dir={tmp_path / 'r'}"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("xmsem: config error: model.cnn:")
    assert "no module 'conv7'" in out.stderr
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_fmnist_cnn_vs_mlp_experiment_validates(tmp_path) -> None:
    from xmsem.lit.validation import validate_run_config

    cfg = compose_cfg(["+experiment=fmnist_cnn_vs_mlp", "hydra.mode=RUN"], tmp_path)
    validate_run_config(cfg)
    assert list(cfg.model) == ["cnn", "mlp"] and cfg.data.name == "fmnist"
    assert member_layers(cfg.model.cnn) == ["conv1", "conv2", "fc1"]


def test_ensembles_refuse_members_they_cannot_vectorise(tmp_path, ext_package) -> None:
    from xmsem.config import ConfigError, validate

    target = f"+model.net={{_target_: {ext_package}.SmallCNN, layers: [fc1]}}"
    for extra, kind in ((target, "_target_"), ("+model.cnn={arch: cnn}", "arch cnn")):
        cfg = compose_cfg(["debug=tiny", "ensemble=3", extra], tmp_path)
        with pytest.raises(ConfigError, match=f"ensemble=3: model.(net|cnn) \\({kind}"):
            validate(cfg)
    validate(compose_cfg(["debug=tiny", "ensemble=1", target], tmp_path))
