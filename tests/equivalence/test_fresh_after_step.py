"""An eval-mode forward after an optimizer step reflects the new weights, for every module that
caches anything (the exact spectral norm of the plain and the batched spectral shaping, the plain
networks the cohort hands out for ensemble copies), with the default, foreach and fused Adam
(the fused one updates in place without bumping ``Tensor._version``), whether the step was
taken in train mode or while the module stayed in eval mode, and after a manual in-place edit.

The reference is an independent forward written here from the definition
``h' = relu(S(W) h + b + alpha U tanh(V h))``, ``S(W) = W / max(1, ||W||_2 / gamma)``, with
``||W||_2`` from ``torch.linalg.matrix_norm`` on the current weights.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from xmsem.lit.cohort import CohortModule, build_members
from xmsem.models import EnsembleNet, build_model

D, C, GAMMA = 12, 3, 0.3  # a cap far below the layers' spectral norms: it binds everywhere
SPEC = {"arch": "pgnn", "hidden": [10, 8], "corr_rank": 3, "gamma": GAMMA}
OPTIMIZERS = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def reference_logits(state: dict[str, torch.Tensor], x: torch.Tensor, alpha: float = 0.1):
    """The PGNN forward from its state dict (plain keys), exact spectral norms."""

    def shaped(prefix: str) -> torch.Tensor:
        w = state[f"{prefix}.weight"].double()
        return w / torch.clamp(torch.linalg.matrix_norm(w, ord=2) / GAMMA, min=1.0)

    h = x.double()
    for i in range(2):
        p = f"blocks.{i}"
        z = h @ shaped(f"{p}.linear").T + state[f"{p}.linear.bias"].double()
        v, u = state[f"{p}.correction.V"].double(), state[f"{p}.correction.U"].double()
        h = F.relu(z + alpha * torch.tanh(h @ v.T) @ u.T)
    return h @ shaped("readout").T + state["readout.bias"].double()


def data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(64, D, generator=gen), torch.randint(0, C, (64,), generator=gen)


def step(net, opt, x, y, train_mode: bool) -> None:
    net.train(train_mode)
    opt.zero_grad()
    out = net(x)
    out = out if out.dim() == 2 else out.flatten(0, 1)
    target = y if out.shape[0] == len(y) else y.repeat(out.shape[0] // len(y))
    F.cross_entropy(out, target).backward()
    opt.step()


def copy_state(net, k: int | None) -> dict[str, torch.Tensor]:
    return {key: (t if k is None else t[k]).detach() for key, t in net.state_dict().items()}


def assert_current(net, x: torch.Tensor, k: int | None = None) -> None:
    net.eval()
    with torch.no_grad():
        got = net(x) if k is None else net(x)[k]
    want = reference_logits(copy_state(net, k), x)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
@pytest.mark.parametrize("train_mode", [True, False], ids=["step-in-train", "step-in-eval"])
def test_plain_and_batched_spectral_see_every_step(kind: str, train_mode: bool) -> None:
    x, y = data()
    torch.manual_seed(1)
    plain = build_model(SPEC, D, C)
    ensemble = EnsembleNet.from_copies([build_model(SPEC, D, C) for _ in range(3)])
    for net, copies in ((plain, [None]), (ensemble, [0, 2])):
        opt = torch.optim.Adam(net.parameters(), lr=0.05, **OPTIMIZERS[kind])
        for k in copies:
            assert_current(net, x, k)  # fills the cache
        for _ in range(3):
            step(net, opt, x, y, train_mode)
            for k in copies:
                assert_current(net, x, k)
        with torch.no_grad():  # a manual in-place edit, in eval mode
            net.blocks[0].linear.weight.mul_(1.5)
        for k in copies:
            assert_current(net, x, k)


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_cohort_copies_follow_the_ensemble(kind: str) -> None:
    """``cohort.model("pgnn.k")`` after steps equals copy k's current weights, MLPs included."""
    x, y = data()
    specs = {"pgnn": SPEC, "mlp": {"arch": "mlp", "hidden": [10, 8]}}
    cohort = CohortModule(build_members(specs, 3, lambda s: build_model(s, D, C), copies=3), C,
                          lr=0.05, copies=3)  # fmt: skip
    opt = torch.optim.Adam(cohort.parameters(), lr=0.05, **OPTIMIZERS[kind])
    held = cohort.model("pgnn.2").eval()  # a caller that keeps the module
    for _ in range(3):
        cohort.train()
        opt.zero_grad()
        cohort._step((x, y), "train").backward()
        opt.step()
        cohort.eval()
        for name in ("pgnn.0", "pgnn.2", "mlp.1"):
            member, k = name.split(".")
            plain = cohort.model(name)
            for key, t in plain.state_dict().items():
                assert torch.equal(t, cohort.members[member].state_dict()[key][int(k)]), key
        with torch.no_grad():
            torch.testing.assert_close(cohort.model("pgnn.2")(x).double(),
                                       reference_logits(copy_state(cohort.members["pgnn"], 2), x),
                                       rtol=1e-5, atol=1e-6)  # fmt: skip
            torch.testing.assert_close(held(x), cohort.model("pgnn.2")(x))
