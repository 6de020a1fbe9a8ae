"""The cohort: one or more named networks trained on identical batches in one LightningModule.

Members share no parameters and their losses are summed, so one Adam step on the sum is exactly
one independent Adam step per member (Adam's update of a parameter depends only on its own
gradient). Every member therefore sees the same batches in the same order, which keeps data
order out of architecture comparisons and lets callbacks compare members live.

Seed ensembles (``ensemble=K > 1``): every member is an :class:`xmsem.models.EnsembleNet` of K
copies trained in one batched forward/backward; the loss is the sum over copies of each copy's
mean loss, so copy ``k`` gets exactly the gradient it would get alone. Downstream every copy is a
*model* named ``<member>.<k>`` (``pgnn.3``); with K == 1 the models are the members themselves
(``pgnn``) and nothing differs from a plain run. :func:`split_model_name` undoes the naming.

Lean steps: per-step work stays on the device (correct counts and loss sums accumulate in
device tensors, no ``.item()``, no per-step logging); numbers are read once per epoch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xmsem.lit.epochs import CONVENTION, EPOCH_AXIS, after_fit, at_epoch_end
from xmsem.models.factory import stack_copies
from xmsem.models.naming import model_names, split_model_name

STAGES = ("train", "val", "test")
# member spec keys that xmsem reads itself and never passes to a network constructor
MEMBER_KEYS = ("labels", "weight_decay")


def member_seed(run_seed: int, member: str, copy: int = 0) -> int:
    """Initialisation seed of copy ``copy`` of ``member`` in a run seeded ``run_seed``.

    Copy 0: sha256("seed:name") mod 2^31 (the member of a plain run); copy k > 0:
    sha256("seed:name:k") mod 2^31. Depends on nothing else, so adding or removing a member or
    a copy never changes another's initialisation.
    """
    text = f"{run_seed}:{member}" if copy == 0 else f"{run_seed}:{member}:{copy}"
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2**31)


def member_options(spec: Mapping) -> tuple[dict, dict]:
    """Split a member spec into (network spec, xmsem's own keys such as ``labels``)."""
    net = {k: v for k, v in spec.items() if k not in MEMBER_KEYS}
    opts = {k: spec[k] for k in MEMBER_KEYS if k in spec}
    return net, opts


def build_members(
    specs: Mapping[str, Mapping],
    run_seed: int,
    build: Callable[[Mapping], nn.Module],
    copies: int = 1,
    first: int = 0,
) -> dict[str, nn.Module]:
    """Build every member with its own derived seed; the global RNG state is left untouched.

    Copy ``k`` of a member is initialised as a plain member built under ``member_seed(run_seed,
    name, first + k)``; with ``copies > 1`` the copies form one vectorised network (the arch's
    batched builder: an :class:`~xmsem.models.EnsembleNet` for mlp and pgnn).
    """
    members: dict[str, nn.Module] = {}
    for name, spec in specs.items():
        nets = []
        for k in range(copies):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(member_seed(run_seed, name, first + k))
                try:
                    nets.append(build(spec))
                except ValueError as err:  # name the member: "model.cnn: model spec key ..."
                    raise ValueError(f"model.{name}: {err}") from None
        members[name] = nets[0] if copies == 1 else stack_copies(spec, nets)
    return members


class CohortModule(L.LightningModule):
    """Trains ``members`` side by side; logs ``<stage>/<model>/{loss,acc}`` per model.

    Also tracks, per model, the best validation accuracy and the epoch it was reached at
    (``val/<model>/best_acc``, ``val/<model>/best_epoch`` in epochs trained, :mod:`xmsem.lit.epochs`);
    both are saved in checkpoints. Every logged row carries ``epochs_trained`` (and ``epoch``,
    the same number, in place of Lightning's 0-based index).

    ``copies``: ensemble size K (every member an :class:`EnsembleNet` of K copies when > 1);
    ``first_copy``: the index of its first copy (model names ``<member>.<first_copy + k>``).
    ``per_copy``: batches carry one slice per copy (``x`` ``(K, B, ...)``), see the datamodule.
    ``labels``: member -> ``"true"`` | ``"shuffled"``; a shuffled member trains on the batch's
    fixed permutation of the training labels (validated and tested on the true ones).
    """

    def __init__(
        self,
        members: Mapping[str, nn.Module],
        num_classes: int,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        copies: int = 1,
        per_copy: bool = False,
        labels: Mapping[str, str] | None = None,
        first_copy: int = 0,
        member_weight_decay: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        # member -> its own weight decay (a baseline such as an MLP with weight decay); members
        # not named use ``weight_decay``
        self.member_weight_decay = dict(member_weight_decay or {})
        self.members = nn.ModuleDict(dict(members))
        self.lr, self.weight_decay, self.num_classes = lr, weight_decay, num_classes
        self.copies, self.per_copy = int(copies), bool(per_copy and copies > 1)
        self.labels = {name: (labels or {}).get(name, "true") for name in self.members}
        self.first_copy = int(first_copy)
        self.model_names = list(model_names(list(self.members), self.copies, self.first_copy))
        n = len(self.model_names)
        # per-stage sums, on the device, read once per epoch (not saved: reset every epoch)
        for stage in STAGES:
            self.register_buffer(f"_{stage}_correct", torch.zeros(n), persistent=False)
            self.register_buffer(f"_{stage}_loss", torch.zeros(n), persistent=False)
            self.register_buffer(f"_{stage}_count", torch.zeros(n), persistent=False)
        self.register_buffer("best_val_acc", torch.full((n,), -1.0))
        self.register_buffer("best_val_epoch", torch.full((n,), -1, dtype=torch.long))
        self._copies: dict[str, nn.Module] = {}  # plain networks of ensemble copies, refreshed

    @property
    def member_names(self) -> list[str]:
        return list(self.members.keys())

    @property
    def needs_shuffled_labels(self) -> bool:
        return any(mode == "shuffled" for mode in self.labels.values())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # Ensembles use the fused Adam kernel (one pass over each stacked parameter: 11x faster
        # than the per-op loop for 20 copies on the CPU); a plain run keeps the default
        # implementation, so ensemble=1 reproduces earlier runs bit for bit.
        fused = self.copies > 1 and self.device.type in ("cpu", "cuda")
        params: object = self.parameters()
        if self.member_weight_decay:  # one parameter group per member, each its own decay
            params = [{"params": list(net.parameters()),
                       "weight_decay": float(self.member_weight_decay.get(name, self.weight_decay))}
                      for name, net in self.members.items()]  # fmt: skip
        return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay,
                                fused=fused or None)  # fmt: skip

    # -- models ------------------------------------------------------------------------------
    def model(self, name: str) -> nn.Module:
        """Model ``name`` as a plain network with ``forward(x, return_hidden)``,
        ``forward_from`` and ``tail_lipschitz``: the member itself, or copy k of an ensemble
        (a plain network loaded with copy k's weights as they are now, on every call: the
        fused Adam changes them in place without a trace a cache could key on)."""
        member, k = split_model_name(name)
        if name not in self.model_names or (k is None) != (self.copies == 1):
            raise KeyError(f"unknown model {name!r}; valid: {', '.join(self.model_names)}")
        net = self.members[member]
        if k is None:
            return net
        self._copies[name] = net.copy_module(k - self.first_copy, into=self._copies.get(name))
        return self._copies[name]

    # -- steps ---------------------------------------------------------------------------
    def _forward_member(self, net: nn.Module, x: Tensor, per_copy: bool) -> Tensor:
        if self.copies == 1:
            return net(x).unsqueeze(0)
        return net(x, per_copy=per_copy)

    def _step(self, batch: tuple[Tensor, ...], stage: str) -> Tensor:
        x, y = batch[0], batch[1]
        y_shuffled = batch[2] if len(batch) > 2 else None
        per_copy = self.per_copy and stage == "train"  # evaluation batches are shared
        total = x.new_zeros(())
        losses, corrects = [], []
        for name, net in self.members.items():
            logits = self._forward_member(net, x, per_copy)  # (K, B, C)
            target = y_shuffled if self.labels[name] == "shuffled" and stage == "train" else y
            if target is None:
                raise RuntimeError(f"member {name!r} trains on shuffled labels the batch lacks")
            k, b, c = logits.shape
            target = target.expand(k, b) if target.dim() == 1 else target
            if k == 1:  # a plain member: exactly the loss of a plain run
                loss = F.cross_entropy(logits[0], target[0]).unsqueeze(0)
            else:
                loss = F.cross_entropy(logits.reshape(k * b, c), target.reshape(k * b),
                                       reduction="none").view(k, b).mean(1)  # fmt: skip
            total = total + loss.sum()
            losses.append(loss.detach())
            corrects.append((logits.detach().argmax(-1) == target).sum(1))
        n = x.shape[1] if per_copy else x.shape[0]
        getattr(self, f"_{stage}_correct").add_(torch.cat(corrects))
        getattr(self, f"_{stage}_loss").add_(torch.cat(losses), alpha=n)
        getattr(self, f"_{stage}_count").add_(n)
        return total

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "test")

    # -- epoch ends ----------------------------------------------------------------------
    def _reset(self, stage: str) -> None:
        for part in ("correct", "loss", "count"):
            getattr(self, f"_{stage}_{part}").zero_()

    def _log_stage(self, stage: str) -> dict[str, float]:
        count = getattr(self, f"_{stage}_count").clamp_min(1)
        acc = (getattr(self, f"_{stage}_correct") / count).tolist()  # the epoch's one host sync
        loss = (getattr(self, f"_{stage}_loss") / count).tolist()
        self._reset(stage)
        values: dict[str, float] = {}
        for i, name in enumerate(self.model_names):
            values[f"{stage}/{name}/acc"] = acc[i]
            values[f"{stage}/{name}/loss"] = loss[i]
        self.log_dict(values, on_step=False, on_epoch=True)
        self._log_epochs(stage)
        return values

    def _log_epochs(self, stage: str) -> None:
        """``epochs_trained`` and ``epoch`` (the same number) on this stage's logger row: train and
        validation rows come at an epoch's end, the test row after fitting."""
        trainer = self.trainer
        done = after_fit(trainer) if stage == "test" else at_epoch_end(trainer)
        # float: Lightning logs (and reduces) floats; the loggers write e.g. 3.0
        self.log_dict({EPOCH_AXIS: float(done), "epoch": float(done)}, on_step=False, on_epoch=True)

    def on_train_epoch_end(self) -> None:
        self._log_stage("train")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self._reset("val")
            return
        values = self._log_stage("val")
        best: dict[str, float] = {}
        for i, name in enumerate(self.model_names):
            acc = values[f"val/{name}/acc"]
            if acc > float(self.best_val_acc[i]):
                self.best_val_acc[i] = acc
                self.best_val_epoch[i] = at_epoch_end(self.trainer)
            best[f"val/{name}/best_acc"] = float(self.best_val_acc[i])
            best[f"val/{name}/best_epoch"] = float(self.best_val_epoch[i])
        self.log_dict(best, on_step=False, on_epoch=True)

    def on_test_epoch_end(self) -> None:
        self._log_stage("test")

    # -- checkpoints ---------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["xmsem_epochs"] = CONVENTION

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint written before the epochs-trained convention stored ``best_val_epoch`` as
        Lightning's 0-based epoch index: counted as epochs trained (+1) so a resumed run goes on
        in one convention."""
        if checkpoint.get("xmsem_epochs") == CONVENTION:
            return
        state = checkpoint.get("state_dict") or {}
        best = state.get("best_val_epoch")
        if isinstance(best, Tensor):
            state["best_val_epoch"] = torch.where(best >= 0, best + 1, best)
        checkpoint["xmsem_epochs"] = CONVENTION

    # -- representations -------------------------------------------------------------------
    @torch.no_grad()
    def hidden(self, name: str, x: Tensor, batch_size: int = 16384) -> dict[str, Tensor]:
        """Hidden representations ``{layer: (n, d)}`` of model ``name`` on ``x`` (eval mode, no
        grad, batched)."""
        return _hidden_in_batches(self.model(name), x, batch_size, dim=0)

    @torch.no_grad()
    def hidden_copies(self, member: str, x: Tensor, batch_size: int = 4096) -> dict[str, Tensor]:
        """Hidden representations ``{layer: (K, n, d)}`` of every copy of ``member`` in one
        batched pass (eval mode, no grad); K = 1 for a plain member."""
        hidden = _hidden_in_batches(
            self.members[member], x, batch_size, dim=1 if self.copies > 1 else 0
        )
        return hidden if self.copies > 1 else {k: h.unsqueeze(0) for k, h in hidden.items()}


@torch.no_grad()
def _hidden_in_batches(net: nn.Module, x: Tensor, batch_size: int, dim: int) -> dict[str, Tensor]:
    """``net``'s hidden layers on ``x`` in eval mode, ``batch_size`` inputs at a time, joined
    along ``dim`` (the example dimension: 0 for a plain network, 1 for a ``(K, B, d)`` ensemble);
    the training mode is restored."""
    was_training = net.training
    net.eval()
    param = next(net.parameters(), None)
    if param is not None and x.is_floating_point():  # e.g. a float64 run (precision=64-true)
        x = x.to(param.dtype)
    try:
        parts: dict[str, list[Tensor]] = {}
        for start in range(0, len(x), batch_size):
            _, hid = net(x[start : start + batch_size], return_hidden=True)
            for layer, h in hid.items():
                parts.setdefault(layer, []).append(h)
        return {k: hs[0] if len(hs) == 1 else torch.cat(hs, dim=dim) for k, hs in parts.items()}
    finally:
        net.train(was_training)
