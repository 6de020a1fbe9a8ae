"""AlignmentCallback inside a user's own LightningModule: the rows at each epoch equal the metric
on the named submodules' layers at that moment; the last epoch is measured; loggers get them."""

from __future__ import annotations

import copy
import csv

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from xmsem.alignment import linear_cka
from xmsem.lightning import AlignmentCallback


class Distill(L.LightningModule):
    """A student fitted to a frozen teacher: a LightningModule xmsem knows nothing about."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.teacher = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2))
        self.student = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
        self.teacher.requires_grad_(False)
        self.modes: list[bool] = []

    def training_step(self, batch, batch_idx):
        (x,) = batch
        self.modes.append(self.student.training)
        return nn.functional.mse_loss(self.student(x), self.teacher(x))

    def configure_optimizers(self):
        return torch.optim.SGD(self.student.parameters(), lr=0.5)


def _data(n: int) -> torch.Tensor:
    return torch.randn(n, 5, generator=torch.Generator().manual_seed(1))


def _fit(tmp_path, epochs=None, max_epochs: int = 3):
    module = Distill()
    probe = _data(64)
    callback = AlignmentCallback(
        modules=["student", "teacher"], layers={"student": ["1", "2"], "teacher": ["1"]},
        probe=probe, epochs=epochs, dirpath=tmp_path / "align",
    )  # fmt: skip
    start = copy.deepcopy(module)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(_data(96)), batch_size=32)
    trainer = L.Trainer(max_epochs=max_epochs, logger=CSVLogger(tmp_path), callbacks=[callback],
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")  # fmt: skip
    trainer.fit(module, loader)
    return module, start, callback, probe, trainer


def _value(rows, epoch, a, b, la, lb, metric="linear_cka"):
    (value,) = [r["value"] for r in rows if r["epoch"] == epoch and r["member_a"] == a
                and r["member_b"] == b and r["layer_a"] == la and r["layer_b"] == lb
                and r["metric"] == metric]  # fmt: skip
    return value


def test_rows_equal_the_metric_on_the_submodules_at_start_and_end(tmp_path) -> None:
    module, start, callback, probe, trainer = _fit(tmp_path)
    assert callback.done == [0, 1, 2, 3]
    with torch.no_grad():
        for epoch, net in ((0, start), (3, module)):
            hs, ht = net.student[:2](probe), net.teacher[:2](probe)
            expected = float(linear_cka(hs, ht))
            got = _value(callback.rows, epoch, "student", "teacher", "1", "1")
            assert got == pytest.approx(expected, abs=1e-9)
    # the frozen teacher does not move; the student does
    assert _value(callback.rows, 3, "teacher", "teacher", "1", "1", "drift") == pytest.approx(
        0.0, abs=1e-12
    )
    assert _value(callback.rows, 1, "student", "student", "1", "1", "drift") > 1e-4
    assert all(module.modes)  # train mode restored after every snapshot


def test_loggers_files_and_the_last_epoch(tmp_path) -> None:
    _, _, callback, _, trainer = _fit(tmp_path, epochs=[0, 1], max_epochs=3)
    assert callback.done == [0, 1, 3]  # 3: the last epoch trained, although not listed
    metrics = tmp_path / "lightning_logs" / "version_0" / "metrics.csv"
    with metrics.open() as handle:
        logged = list(csv.DictReader(handle))
    key = "align/linear_cka/student~teacher/1"
    series = {int(float(r["epochs_trained"])): float(r[key]) for r in logged if r.get(key)}
    assert sorted(series) == [0, 1, 3]
    assert series[3] == pytest.approx(_value(callback.rows, 3, "student", "teacher", "1", "1"))
    assert "member/layer_cka/student/1" not in logged[0]  # a layer with itself: not logged
    with (tmp_path / "align" / "metrics" / "alignment.csv").open() as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == len(callback.rows)
    assert sorted((tmp_path / "align" / "reps").glob("epoch_*")) != []


def test_bad_names_are_one_clear_line(tmp_path) -> None:
    with pytest.raises(ValueError, match="no layers for module 'teacher'"):
        AlignmentCallback(["student", "teacher"], {"student": ["1"]}, _data(8))
    callback = AlignmentCallback(["studnet"], {"studnet": ["1"]}, _data(8))
    with pytest.raises(ValueError, match="no submodule 'studnet'; its children: teacher, student"):
        callback.setup(None, Distill(), "fit")
