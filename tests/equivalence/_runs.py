"""Train an ensemble and the single runs of its copies through ``xmsem.train.run`` and read back
everything a run reports about a model: per-epoch train / validation numbers, test numbers, every
snapshot layer, the checkpoint's weights and the alignment rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch

from tests.conftest import compose_cfg
from xmsem.analysis.discovery import read_alignment_csv, read_metrics_csv
from xmsem.snapshots import SnapshotStore
from xmsem.train import run

EPOCHS = 3
W = "[12,10]"
# every shaping (spectral with a binding and with a non-binding cap), with and without the
# correction path, a learned alpha, next to the MLP: one cohort, so one run covers them all
MEMBERS = {
    "mlp": f"{{arch: mlp, hidden: {W}}}",
    "spec_bind": f"{{arch: pgnn, hidden: {W}, corr_rank: 3, shaping: spectral, gamma: 0.5}}",
    "spec_bind_nc": f"{{arch: pgnn, hidden: {W}, shaping: spectral, gamma: 0.5, correction: false}}",
    "spec_free": f"{{arch: pgnn, hidden: {W}, corr_rank: 3, shaping: spectral, gamma: 1000.0}}",
    "proj": f"{{arch: pgnn, hidden: {W}, corr_rank: 3, shaping: projection, proj_rank: 5}}",
    "proj_nc": f"{{arch: pgnn, hidden: {W}, shaping: projection, correction: false}}",
    "diag": f"{{arch: pgnn, hidden: {W}, corr_rank: 3, shaping: diagonal, learn_alpha: true}}",
    "diag_nc": f"{{arch: pgnn, hidden: {W}, shaping: diagonal, correction: false}}",
    "none": f"{{arch: pgnn, hidden: {W}, corr_rank: 3, shaping: none}}",
    "none_nc": f"{{arch: pgnn, hidden: {W}, shaping: none, correction: false}}",
}
BASE = [
    "debug=tiny",
    "model=mlp",  # replaced member by member below
    f"trainer.max_epochs={EPOCHS}",
    "trainer.limit_train_batches=12",
    "trainer.accelerator=cpu",
    "data.batch_size=32",
    "callbacks.representations.epochs=[0,1,3]",
    "callbacks.representations.storage_dtype=float64",
    "callbacks.representations.subspace_k=4",
    "seed=7",
]
# snapshots and their alignment rows, but no n^2-in-models extras (11 members x 3 copies)
LEAN = [
    "callbacks.representations.metrics=[linear_cka]",
    "callbacks.representations.pairs=same_name",
    "callbacks.representations.layer_cka=false",
    "callbacks.representations.cross_layer_cka=false",
    "callbacks.representations.drift=false",
    "callbacks.representations.seed_pairs=false",
    "callbacks.representations.controls=false",
    "callbacks.representations.latent_r2=false",
]


def member_overrides(members: dict[str, str]) -> list[str]:
    return ["~model.mlp", *[f"+model.{name}={spec}" for name, spec in members.items()]]


@dataclass
class RunRecord:
    """What one run reports, per model name."""

    run_dir: Path
    results: dict

    def epoch_values(self, key: str) -> list[float]:
        """``key`` (e.g. ``train/pgnn.2/loss``) per epoch, in epoch order."""
        logged = read_metrics_csv(self.run_dir)
        return [row[key] for _, row in sorted(logged.items()) if key in row]

    def snapshot(self, epoch: int, model: str) -> dict[str, torch.Tensor]:
        store = SnapshotStore(self.run_dir)
        layers = store.manifest(epoch)["members"][model]
        return {layer: store.load(epoch, model, layer, torch.float64) for layer in layers}

    def snapshot_epochs(self) -> list[int]:
        return SnapshotStore(self.run_dir).epochs()

    def weights(self, member: str) -> dict[str, torch.Tensor]:
        ckpt = torch.load(self.run_dir / "checkpoints" / "last.ckpt", map_location="cpu",
                          weights_only=True)  # fmt: skip
        prefix = f"members.{member}."
        return {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}

    def rows(self) -> dict[tuple, float]:
        """Alignment rows keyed by (epoch, member_a, member_b, layer_a, layer_b, metric)."""
        out = {}
        for r in read_alignment_csv(self.run_dir):
            key = (
                r["epoch"],
                r["member_a"],
                r["member_b"],
                r["layer_a"],
                r["layer_b"],
                r["metric"],
            )
            out[key] = r["value"]
        return out


class Killed(RuntimeError):
    """Raised by :class:`KillAt`: the process 'dies' here (no status, no cleanup)."""


class KillAt(L.Callback):
    """Stops training like a kill at the start of epoch ``epoch`` (after the previous epoch's
    checkpoint and snapshot were written)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise Killed(f"killed at the start of epoch {self.epoch}")


def train(overrides: list[str], run_dir: Path, monkeypatch=None, kill_at: int | None = None):
    """One run through ``xmsem.train.run``; with ``kill_at`` it is killed at that epoch and then
    run again (the resume path a real rerun takes)."""
    if kill_at is not None:
        import xmsem.train as train_module

        build = train_module.build_callbacks
        monkeypatch.setattr(train_module, "build_callbacks",
                            lambda *a, **k: [*build(*a, **k), KillAt(kill_at)])  # fmt: skip
        try:
            run(compose_cfg(overrides, run_dir), run_dir)
        except Killed:
            pass
        else:
            raise AssertionError("the run was not killed")
        monkeypatch.setattr(train_module, "build_callbacks", build)
        assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    results = run(compose_cfg(overrides, run_dir), run_dir)
    return RunRecord(run_dir, results)


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b||_F / ||b||_F`` in float64 (0 when both are zero)."""
    a, b = a.double(), b.double()
    denom = torch.linalg.norm(b).item()
    num = torch.linalg.norm(a - b).item()
    return num / denom if denom > 0 else (0.0 if num == 0 else math.inf)
