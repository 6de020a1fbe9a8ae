"""Noise robustness at test time: accuracy under Gaussian input noise, and how much of each
layer's representation survives it (linear CKA between clean and noisy representations)."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from xmsem.alignment import linear_cka
from xmsem.lit.checks import noise_settings, validate_noise_config  # noqa: F401
from xmsem.lit.epochs import EPOCH_AXIS, after_fit
from xmsem.snapshots.table import write_rows

log = logging.getLogger(__name__)


def gaussian_noise(shape: torch.Size, sigma: float, seed: int, device: torch.device) -> Tensor:
    """sigma * N(0, I) from a CPU generator seeded ``seed`` (the same noise on every device)."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=gen) * sigma).to(device)


class NoiseRobustnessCallback(L.Callback):
    """After testing: for each noise level sigma (on the standardised inputs), every member's test
    accuracy on x + sigma * eps (``noise_acc@<sigma>``, layer ``output``) and, per hidden layer,
    linear CKA between its representations of the clean and the noisy probe inputs
    (``noise_cka@<sigma>``). Rows go to metrics/alignment.csv at the final epoch."""

    def __init__(self, run_dir: Path, datamodule, levels: list[float], probe_size: int | None,
                 seed: int = 0) -> None:  # fmt: skip
        self.run_dir, self.datamodule = Path(run_dir), datamodule
        self.levels, self.probe_size, self.seed = [float(s) for s in levels], probe_size, seed

    @torch.no_grad()
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        device = pl_module.device
        x, y = self.datamodule.test_x.to(device), self.datamodule.test_y.to(device)
        probe = self.datamodule.probe_set(self.probe_size, device)
        epoch = after_fit(trainer)  # tested after fitting: the epochs trained
        rows, scalars = [], {}
        for i, sigma in enumerate(self.levels):
            noisy_x = x + gaussian_noise(x.shape, sigma, self.seed + 2 * i, device)
            noisy_probe = probe.x + gaussian_noise(
                probe.x.shape, sigma, self.seed + 2 * i + 1, device
            )
            for name in pl_module.model_names:
                net = pl_module.model(name)
                was = net.training
                net.eval()
                correct = sum(
                    int((net(noisy_x[s : s + 4096]).argmax(1) == y[s : s + 4096]).sum())
                    for s in range(0, len(x), 4096)
                )
                net.train(was)
                acc = correct / len(x)
                rows.append(self._row(epoch, name, "output", f"noise_acc@{sigma:g}", acc))
                scalars[f"noise/acc/{name}/sigma={sigma:g}"] = acc
                clean = pl_module.hidden(name, probe.x)
                noisy = pl_module.hidden(name, noisy_probe)
                for layer in clean:
                    cka = float(linear_cka(clean[layer], noisy[layer]))
                    rows.append(self._row(epoch, name, layer, f"noise_cka@{sigma:g}", cka))
                    scalars[f"noise/cka/{name}/{layer}/sigma={sigma:g}"] = cka
        write_rows(self.run_dir, rows)
        scalars[EPOCH_AXIS] = scalars["epoch"] = epoch
        for lg in trainer.loggers:
            lg.log_metrics(scalars, step=trainer.global_step)
        log.info("noise robustness: %d rows", len(rows))

    @staticmethod
    def _row(epoch: int, member: str, layer: str, metric: str, value: float) -> dict:
        return {"epoch": epoch, "member_a": member, "member_b": member, "layer_a": layer,
                "layer_b": layer, "metric": metric, "value": float(value)}  # fmt: skip


def build_noise_callback(cfg, run_dir: Path, datamodule) -> NoiseRobustnessCallback | None:
    """The callback of ``cfg.callbacks.noise`` (None when disabled)."""
    settings = noise_settings(cfg)
    if settings is None or not settings.enabled:
        return None
    rep = (cfg.get("callbacks") or {}).get("representations") or {}
    return NoiseRobustnessCallback(
        run_dir, datamodule, list(settings.levels), rep.get("probe_size"), settings.seed
    )
