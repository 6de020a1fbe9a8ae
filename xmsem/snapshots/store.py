"""The ``reps/`` folder of a run: probe-set file plus one file per (epoch, member, layer).

Layout::

    reps/probe.pt                      indices into the test split, labels, latents (if any)
    reps/epoch_003/<member>/<layer>.pt (n_probe, width) tensor in the storage dtype
    reps/epoch_003/manifest.json       written last: members, layers, dtype -> the epoch is complete

Every file is written atomically; an epoch without a manifest is incomplete and is ignored by
readers (and rewritten by a resumed run).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from xmsem.runs.atomic import atomic_torch_save, atomic_write_text
from xmsem.runs.safeload import load_plain
from xmsem.snapshots.settings import STORAGE_DTYPE_NAMES

STORAGE_DTYPES = {name: getattr(torch, name) for name in STORAGE_DTYPE_NAMES}
_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")


def layer_dtype(value: Tensor, dtype: str) -> torch.dtype:
    """The dtype one layer is stored in: ``dtype``, unless its finite values exceed that dtype's
    range (a diverging run's activations beyond float16's 65504 would become inf): then float32."""
    target = STORAGE_DTYPES[dtype]
    if target.is_floating_point and torch.finfo(target).max < torch.finfo(value.dtype).max:
        value = value.detach()
        if value.numel() == 0:
            return target
        # one pass in the common case (every value finite and in range); NaN/inf excluded only
        # when the largest magnitude is not already within range
        largest = value.abs().amax()
        if not bool(largest <= torch.finfo(target).max):
            largest = torch.where(torch.isfinite(value), value.abs(), 0).amax()
            if float(largest) > torch.finfo(target).max:
                return torch.float32
    return target


def stored_values(reps: dict[str, dict[str, Tensor]], dtype: str) -> dict[str, dict[str, Tensor]]:
    """``reps`` rounded to their storage dtype (:func:`layer_dtype`), as float64 (exact): the
    values the files hold, in the precision every metric computes in."""
    return {m: {k: v.detach().to(layer_dtype(v, dtype)).to(torch.float64) for k, v in layers.items()}
            for m, layers in reps.items()}  # fmt: skip


@dataclass
class SnapshotStore:
    """Reads and writes the snapshots of one run directory."""

    run_dir: Path

    @property
    def root(self) -> Path:
        return Path(self.run_dir) / "reps"

    def epoch_dir(self, epoch: int) -> Path:
        return self.root / f"epoch_{epoch:03d}"

    # -- probe set --------------------------------------------------------------------------
    def save_probe(self, indices: Tensor, labels: Tensor, z: Tensor | None, meta: dict) -> None:
        payload = {"indices": indices.cpu(), "labels": labels.cpu(), "meta": dict(meta)}
        if z is not None:
            payload["z"] = z.cpu()
        atomic_torch_save(payload, self.root / "probe.pt")

    def load_probe(self) -> dict:
        return load_plain(self.root / "probe.pt")

    # -- snapshots --------------------------------------------------------------------------
    def save_epoch(self, epoch: int, reps: dict[str, dict[str, Tensor]], dtype: str) -> None:
        """Save ``reps[member][layer]`` for ``epoch``; the manifest is written last."""
        folder = self.epoch_dir(epoch)
        promoted = []
        for member, layers in reps.items():
            for layer, value in layers.items():
                target = layer_dtype(value, dtype)
                if target != STORAGE_DTYPES[dtype]:
                    promoted.append(f"{member}/{layer}")
                atomic_torch_save(value.detach().to("cpu", target), folder / member / f"{layer}.pt")
        manifest = {
            "epoch": epoch,
            "dtype": dtype,
            "members": {m: list(layers) for m, layers in reps.items()},
        }
        if promoted:  # values beyond the storage dtype's range: these layers are float32
            manifest["float32_layers"] = promoted
        atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")

    def manifest(self, epoch: int) -> dict | None:
        try:
            return json.loads((self.epoch_dir(epoch) / "manifest.json").read_text())
        except (OSError, ValueError):
            return None

    def epochs(self) -> list[int]:
        """Epochs whose snapshot is complete (has a manifest), ascending."""
        if not self.root.is_dir():
            return []
        found = []
        for child in self.root.iterdir():
            match = _EPOCH_DIR.match(child.name)
            if match and (child / "manifest.json").is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def load(
        self, epoch: int, member: str, layer: str, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        path = self.epoch_dir(epoch) / member / f"{layer}.pt"
        return load_plain(path).to(dtype)

    def load_epoch(
        self, epoch: int, dtype: torch.dtype = torch.float32
    ) -> dict[str, dict[str, Tensor]]:
        manifest = self.manifest(epoch)
        if manifest is None:
            raise FileNotFoundError(f"no complete snapshot for epoch {epoch} in {self.root}")
        return {
            member: {layer: self.load(epoch, member, layer, dtype) for layer in layers}
            for member, layers in manifest["members"].items()
        }
