"""Seed ensembles in the cohort: copy k trains exactly like a plain member of its seed and data
order, copies are models with their own names and metrics, checkpoints restore them, and the
shuffled-label control member trains on a fixed permutation of the labels."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import compose_cfg
from xmsem.data import TensorDataModule, load_raw
from xmsem.data.datamodule import ShuffledBatches, epoch_permutation, order_seed, shuffled_labels
from xmsem.lit.cohort import (
    CohortModule,
    build_members,
    member_seed,
    model_names,
    split_model_name,
)
from xmsem.models import build_model
from xmsem.train import run

SPECS = {
    "pgnn": {"arch": "pgnn", "hidden": [16, 12], "corr_rank": 4},
    "mlp": {"arch": "mlp", "hidden": [16, 12]},
}
D, C, N, BATCH, SEED = 10, 4, 320, 32, 5


def data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(N, D, generator=gen)
    y = (x[:, :C] + 0.3 * torch.randn(N, C, generator=gen)).argmax(1)
    return x, y


def build(spec):
    return build_model(spec, input_dim=D, num_classes=C)


def batches(x, y, seed: int, copies: int = 1, per_copy: bool = False, steps: int = 50):
    """``steps`` training batches over as many epochs as needed (epoch e = e-th permutation)."""
    out, epoch = [], 0
    while len(out) < steps:
        it = ShuffledBatches(x, y, BATCH, seed, lambda e=epoch: e, copies=copies, per_copy=per_copy)
        out += list(it)
        epoch += 1
    return out[:steps]


def test_names() -> None:
    assert split_model_name("pgnn.3") == ("pgnn", 3)
    assert split_model_name("pgnn") == ("pgnn", None)
    assert split_model_name("my_net.12") == ("my_net", 12)
    assert list(model_names(["pgnn", "mlp"], 1)) == ["pgnn", "mlp"]
    assert list(model_names(["pgnn", "mlp"], 2)) == ["pgnn.0", "pgnn.1", "mlp.0", "mlp.1"]
    assert list(model_names(["mlp"], 2, first=3)) == ["mlp.3", "mlp.4"]
    # copy 0 is the plain member's seed; other copies get seeds of their own
    assert member_seed(0, "pgnn", 0) == member_seed(0, "pgnn")
    assert len({member_seed(0, "pgnn", k) for k in range(20)}) == 20


def test_ensemble_of_one_is_the_plain_member() -> None:
    plain = build_members(SPECS, SEED, build)
    one = build_members(SPECS, SEED, build, copies=1)
    for name in SPECS:
        assert type(one[name]) is type(plain[name])
        for a, b in zip(one[name].parameters(), plain[name].parameters(), strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("per_copy", [False, True], ids=["same_order", "per_copy"])
def test_copy_k_after_50_steps_equals_a_single_run_of_its_seed(per_copy: bool) -> None:
    """The ensemble (3 copies, one Adam, one batched forward/backward) against three independent
    plain trainings, each from member_seed(run, member, k) on copy k's batch order."""
    x, y = data()
    k_copies = 3
    cohort = CohortModule(build_members(SPECS, SEED, build, copies=k_copies), C, lr=3e-3,
                          copies=k_copies, per_copy=per_copy)  # fmt: skip
    opt = cohort.configure_optimizers()
    for batch in batches(x, y, SEED, k_copies, per_copy):
        opt.zero_grad()
        cohort._step(batch, "train").backward()
        opt.step()
    for k in range(k_copies):
        own = batches(x, y, order_seed(SEED, k) if per_copy else SEED)
        for name, spec in SPECS.items():
            torch.manual_seed(member_seed(SEED, name, k))
            net = build(spec)
            ref_opt = torch.optim.Adam(net.parameters(), lr=3e-3)
            for bx, by in own:
                ref_opt.zero_grad()
                F.cross_entropy(net(bx), by).backward()
                ref_opt.step()
            copy = cohort.model(f"{name}.{k}")
            moved = False
            for (key, a), b in zip(copy.state_dict().items(), net.state_dict().values(),
                                   strict=True):  # fmt: skip
                torch.testing.assert_close(a, b, rtol=1e-4, atol=2e-5, msg=f"{name}.{k} {key}")
                moved |= key.endswith("weight")
            assert moved
    # the copies really differ (independent initialisations)
    w = cohort.members["mlp"].blocks[0].linear.weight
    assert not torch.allclose(w[0], w[1])


def test_per_copy_order_differs_per_copy_and_is_reproducible() -> None:
    x, y = data()
    ids = torch.arange(N, dtype=torch.float32).unsqueeze(1)
    a = list(ShuffledBatches(ids, y, BATCH, SEED, lambda: 2, copies=3, per_copy=True))
    b = list(ShuffledBatches(ids, y, BATCH, SEED, lambda: 2, copies=3, per_copy=True))
    same = list(ShuffledBatches(ids, y, BATCH, SEED, lambda: 2))
    assert a[0][0].shape == (3, BATCH, 1) and a[0][1].shape == (3, BATCH)
    order = torch.cat([batch[0][..., 0] for batch in a], dim=1).long()  # (3, N)
    assert torch.equal(order, torch.cat([batch[0][..., 0] for batch in b], dim=1).long())
    for k in range(3):
        assert torch.equal(order[k].sort().values, torch.arange(N))  # a permutation
        assert torch.equal(order[k], epoch_permutation(N, order_seed(SEED, k), 2))
    # copy 0 reads the plain run's order; the others their own
    assert torch.equal(order[0], torch.cat([batch[0][:, 0] for batch in same]).long())
    assert not torch.equal(order[0], order[1]) and not torch.equal(order[1], order[2])
    # labels travel with their inputs
    assert torch.equal(torch.cat([batch[1] for batch in a], dim=1), y[order])


def test_shuffled_labels_are_a_fixed_permutation_of_the_seed() -> None:
    _, y = data()
    s5, again, s6 = shuffled_labels(y, 5), shuffled_labels(y, 5), shuffled_labels(y, 6)
    assert torch.equal(s5, again) and not torch.equal(s5, s6)
    assert torch.equal(s5.bincount(minlength=C), y.bincount(minlength=C))  # same label counts
    assert (s5 == y).float().mean() < 0.5  # unrelated to the inputs


def test_shuffled_member_trains_on_the_shuffled_labels(tmp_path: Path) -> None:
    raw = functools.partial(load_raw, "synthetic", n_train=400, n_test=100, input_dim=D,
                            latent_dim=3, num_classes=C, hidden=16)  # fmt: skip
    dm = TensorDataModule(raw, batch_size=BATCH, val_size=80, split_seed=0, seed=SEED,
                          shuffled_labels=True)  # fmt: skip
    dm.setup()
    assert torch.equal(dm.train_y_shuffled, shuffled_labels(dm.train_y, SEED))
    batch = next(iter(dm.train_dataloader()))
    assert len(batch) == 3
    specs = {"mlp": SPECS["mlp"], "ctrl": SPECS["mlp"]}
    members = build_members(specs, SEED, build)
    cohort = CohortModule(members, C, labels={"ctrl": "shuffled"})
    cohort._step(batch, "train")
    x, y, ys = batch
    with torch.no_grad():
        expect_true = F.cross_entropy(members["mlp"](x), y) * len(y)
        expect_shuffled = F.cross_entropy(members["ctrl"](x), ys) * len(y)
    torch.testing.assert_close(cohort._train_loss, torch.stack([expect_true, expect_shuffled]))
    # evaluation is always against the true labels
    cohort._step((x, y), "val")
    with torch.no_grad():
        correct = (members["ctrl"](x).argmax(1) == y).sum().float()
    assert cohort._val_correct[1] == correct


def logged_columns(run_dir: Path) -> set[str]:
    columns: set[str] = set()
    for path in (run_dir / "csv").glob("version_*/metrics.csv"):
        with path.open() as handle:
            columns |= set(next(csv.reader(handle)))
    return columns


def test_ensemble_run_logs_every_copy_as_a_model(tmp_path: Path, tiny_overrides) -> None:
    cpu = ["callbacks=none", "trainer.accelerator=cpu"]
    cfg = compose_cfg([*tiny_overrides, *cpu, "ensemble=3"], tmp_path / "ens")
    results = run(cfg, tmp_path / "ens")
    cfg1 = compose_cfg([*tiny_overrides, *cpu], tmp_path / "one")
    single = run(cfg1, tmp_path / "one")
    columns = logged_columns(tmp_path / "ens")
    for model in ("pgnn.0", "pgnn.1", "pgnn.2", "mlp.0", "mlp.1", "mlp.2"):
        for key in ("train/{m}/loss", "val/{m}/acc", "test/{m}/acc", "val/{m}/best_epoch"):
            assert key.format(m=model) in columns
        for key in ("test/{m}/acc", "test/{m}/loss", "val/{m}/best_acc", "val/{m}/best_epoch"):
            assert key.format(m=model) in results
    assert not any("/pgnn/" in c for c in columns)
    assert {k for k in single if k.startswith("test/")} == {
        "test/pgnn/acc", "test/pgnn/loss", "test/mlp/acc", "test/mlp/loss"
    }  # fmt: skip
    # copy 0 is the plain run's member (same seed, same batches), up to float reassociation
    for m in ("pgnn", "mlp"):
        assert results[f"test/{m}.0/loss"] == pytest.approx(single[f"test/{m}/loss"], abs=1e-4)
    assert results["test/mlp.0/loss"] != results["test/mlp.1/loss"]


def test_ensemble_checkpoint_resumes_bit_identically(tmp_path: Path) -> None:
    raw = functools.partial(load_raw, "synthetic", n_train=400, n_test=100, input_dim=D,
                            latent_dim=3, num_classes=C, hidden=16)  # fmt: skip

    def fit(epochs: int, root: Path, ckpt: str | None = None) -> CohortModule:
        L.seed_everything(0, verbose=False)
        dm = TensorDataModule(raw, batch_size=BATCH, val_size=80, split_seed=0, seed=SEED,
                              copies=2, data_order="per_copy")  # fmt: skip
        cohort = CohortModule(build_members(SPECS, SEED, build, copies=2), C, copies=2,
                              per_copy=True)  # fmt: skip
        trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", deterministic=True,
                            logger=False, enable_progress_bar=False, enable_model_summary=False,
                            default_root_dir=root, num_sanity_val_steps=0)  # fmt: skip
        trainer.fit(cohort, datamodule=dm, ckpt_path=ckpt)
        if ckpt is None:
            trainer.save_checkpoint(root / "last.ckpt")
        return cohort

    straight = fit(3, tmp_path / "a")
    fit(1, tmp_path / "b")
    resumed = fit(3, tmp_path / "c", ckpt=str(tmp_path / "b" / "last.ckpt"))
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                           strict=True):  # fmt: skip
        assert torch.equal(a, b), key
    assert torch.equal(straight.best_val_acc, resumed.best_val_acc)
