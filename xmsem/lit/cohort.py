"""The cohort: one or more named networks trained on identical batches in one LightningModule.

Members share no parameters and their losses are summed, so one Adam step on the sum is exactly
one independent Adam step per member (Adam's update of a parameter depends only on its own
gradient). Every member therefore sees the same batches in the same order, which keeps data
order out of architecture comparisons and lets callbacks compare members live.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

STAGES = ("train", "val", "test")


def member_seed(run_seed: int, member: str) -> int:
    """Initialisation seed of ``member`` in a run seeded ``run_seed``: sha256("seed:name") mod 2^31.

    Depends on nothing else, so adding or removing a member never changes another's initialisation.
    """
    digest = hashlib.sha256(f"{run_seed}:{member}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2**31)


def build_members(
    specs: Mapping[str, Mapping],
    run_seed: int,
    build: Callable[[Mapping], nn.Module],
) -> dict[str, nn.Module]:
    """Build every member with its own derived seed; the global RNG state is left untouched."""
    members: dict[str, nn.Module] = {}
    for name, spec in specs.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(member_seed(run_seed, name))
            members[name] = build(spec)
    return members


class CohortModule(L.LightningModule):
    """Trains ``members`` side by side; logs ``<stage>/<member>/{loss,acc}`` per member.

    Also tracks, per member, the best validation accuracy and the epoch it was reached at
    (``val/<member>/best_acc``, ``val/<member>/best_epoch``); both are saved in checkpoints.
    """

    def __init__(
        self,
        members: Mapping[str, nn.Module],
        num_classes: int,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__()
        self.members = nn.ModuleDict(dict(members))
        self.lr, self.weight_decay, self.num_classes = lr, weight_decay, num_classes
        self.metrics = nn.ModuleDict(
            {
                f"{stage}_{name}": MetricCollection(
                    {
                        "acc": MulticlassAccuracy(num_classes, average="micro"),
                        "loss": MeanMetric(),
                    }
                )
                for stage in STAGES
                for name in self.members
            }
        )
        n = len(self.members)
        self.register_buffer("best_val_acc", torch.full((n,), -1.0))
        self.register_buffer("best_val_epoch", torch.full((n,), -1, dtype=torch.long))

    @property
    def member_names(self) -> list[str]:
        return list(self.members.keys())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    # -- steps ---------------------------------------------------------------------------
    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        total = x.new_zeros(())
        for name, net in self.members.items():
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            metric = self.metrics[f"{stage}_{name}"]
            metric["acc"].update(logits.detach(), y)
            metric["loss"].update(loss.detach(), weight=len(y))
            total = total + loss
        return total

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    # -- epoch ends ----------------------------------------------------------------------
    def _log_stage(self, stage: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for name in self.members:
            metric = self.metrics[f"{stage}_{name}"]
            for key, value in metric.compute().items():
                values[f"{stage}/{name}/{key}"] = float(value)
            metric.reset()
        self.log_dict(values, on_step=False, on_epoch=True)
        return values

    def on_train_epoch_end(self) -> None:
        self._log_stage("train")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            for name in self.members:
                self.metrics[f"val_{name}"].reset()
            return
        values = self._log_stage("val")
        best: dict[str, float] = {}
        for i, name in enumerate(self.members):
            acc = values[f"val/{name}/acc"]
            if acc > float(self.best_val_acc[i]):
                self.best_val_acc[i] = acc
                self.best_val_epoch[i] = self.current_epoch
            best[f"val/{name}/best_acc"] = float(self.best_val_acc[i])
            best[f"val/{name}/best_epoch"] = float(self.best_val_epoch[i])
        self.log_dict(best, on_step=False, on_epoch=True)

    def on_test_epoch_end(self) -> None:
        self._log_stage("test")

    # -- representations -------------------------------------------------------------------
    @torch.no_grad()
    def hidden(self, name: str, x: Tensor, batch_size: int = 16384) -> dict[str, Tensor]:
        """Hidden representations of member ``name`` on ``x`` (eval mode, no grad, batched)."""
        net = self.members[name]
        was_training = net.training
        net.eval()
        try:
            parts: dict[str, list[Tensor]] = {}
            for start in range(0, len(x), batch_size):
                _, hid = net(x[start : start + batch_size], return_hidden=True)
                for layer, h in hid.items():
                    parts.setdefault(layer, []).append(h)
            return {layer: hs[0] if len(hs) == 1 else torch.cat(hs) for layer, hs in parts.items()}
        finally:
            net.train(was_training)
