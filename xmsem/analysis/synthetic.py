"""Write a fake sweep folder with the real writers (no training): for tests and benchmarks.

Every run gets ``.hydra/config.yaml`` + ``overrides.yaml``, ``status.json`` (RunStatus),
``csv/version_0/metrics.csv``, ``metrics/alignment.csv`` and ``reps/`` (SnapshotStore) whose
representations are ``latent @ A_instance + noise``: a shared latent signal makes instances
partially aligned, the per-instance random map makes them differ.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from omegaconf import OmegaConf

from xmsem.models.naming import model_names
from xmsem.runs.status import EPOCH_CONVENTION, RunStatus
from xmsem.snapshots import SnapshotStore

RepFn = Callable[[int, str, int, str, int, int], torch.Tensor]


def default_reps(rank: int = 16, noise: float = 0.5) -> RepFn:
    """``reps(seed, member, epoch, layer, n, width)``: a shared rank-``rank`` latent signal
    through a per-instance random map, plus noise."""

    def make(seed: int, member: str, epoch: int, layer: str, n: int, width: int) -> torch.Tensor:
        base = torch.Generator().manual_seed(12345)
        latent = torch.randn(n, rank, generator=base)
        g = torch.Generator().manual_seed(zlib.crc32(f"{seed}|{member}|{epoch}|{layer}".encode()))
        mix = torch.randn(rank, width, generator=g)
        return latent @ mix + noise * torch.randn(n, width, generator=g)

    return make


def write_run(
    run_dir: Path,
    seed: int,
    members: Sequence[str] = ("pgnn", "mlp"),
    overrides: Sequence[str] | None = None,
    dataset: str = "synthetic",
    n: int = 64,
    widths: Sequence[int] = (8, 8),
    epochs: Sequence[int] = (0, 1, 2),
    state: str = "completed",
    error: str | None = None,
    reps: RepFn | None = None,
    dtype: str = "float16",
    probe_indices: torch.Tensor | None = None,
    live: bool = True,
    ensemble: int = 1,
) -> Path:
    """One fake run folder (see the module doc). With ``ensemble=K > 1`` every member has K
    copies ``<member>.<k>``, each a model with its own results, logs and snapshots; ``reps`` is
    then called with the model name."""
    run_dir = Path(run_dir)
    overrides = list(overrides if overrides is not None else [f"seed={seed}"])
    layers = [f"h{i + 1}" for i in range(len(widths))]
    model = {
        m: {"arch": "mlp" if m.startswith("mlp") else "pgnn", "hidden": list(widths)}
        | ({"labels": "shuffled"} if m.endswith("_shuffled") else {})
        for m in members
    }
    cfg = {
        "data": {"name": dataset},
        "model": model,
        "seed": seed,
        "ensemble": ensemble,
        "name": "fake",
        "paths": {"root_dir": "${hydra:runtime.cwd}"},
    }
    members = list(model_names(list(members), ensemble))
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(cfg), run_dir / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), run_dir / ".hydra" / "overrides.yaml")
    results: dict[str, float] = {"epochs": max(epochs)}
    for i, m in enumerate(members):
        results[f"test/{m}/acc"] = 0.8 + 0.01 * seed + 0.05 * i
        results[f"test/{m}/loss"] = 0.5 - 0.01 * seed
        results[f"val/{m}/best_acc"] = 0.79 + 0.01 * seed + 0.05 * i
        results[f"val/{m}/best_epoch"] = max(epochs) - (seed % 2)  # epochs trained
    status = RunStatus(run_dir)
    status.write("running", parameters={m: 1000 + 10 * i for i, m in enumerate(members)},
                 overrides=overrides, epoch_convention=EPOCH_CONVENTION)  # fmt: skip
    if state == "completed":
        status.write("completed", results=results, fit_seconds=1.0)
    elif state == "failed":
        status.write("failed", error=error or "RuntimeError: boom")
    _write_metrics_csv(run_dir, members, max(epochs), seed)
    store = SnapshotStore(run_dir)
    if probe_indices is None:
        probe_indices = torch.arange(n)
    labels = torch.arange(n) % 4
    store.save_probe(
        probe_indices, labels, None, {"dataset": dataset, "split_seed": 0, "n_fit": n // 2}
    )
    make = reps or default_reps()
    rows = []
    for epoch in epochs:
        snap = {
            m: {
                layer: make(seed, m, epoch, layer, n, w)
                for layer, w in zip(layers, widths, strict=True)
            }
            for m in members
        }
        store.save_epoch(epoch, snap, dtype)
        if live:
            rows += _live_rows(epoch, members, layers, seed)
    if live:
        _write_alignment_csv(run_dir, rows)
    return run_dir


def _write_metrics_csv(run_dir: Path, members: Sequence[str], max_epoch: int, seed: int) -> None:
    """Lightning's CSV log as a run writes it: ``epoch`` and ``epochs_trained`` both count the
    epochs trained (1..max_epoch)."""
    cols = (
        ["epoch", "epochs_trained", "step"]
        + [f"val/{m}/acc" for m in members]
        + [f"train/{m}/loss" for m in members]
    )
    path = run_dir / "csv" / "version_0" / "metrics.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(cols)
        for e in range(max_epoch):
            val = [0.5 + 0.1 * e + 0.01 * seed + 0.02 * i for i in range(len(members))]
            done = e + 1
            writer.writerow([done, done, 10 * e] + val + [""] * len(members))
            writer.writerow(
                [done, done, 10 * e] + [""] * len(members) + [1.0 / done] * len(members)
            )


def _live_rows(epoch: int, members: Sequence[str], layers: list[str], seed: int) -> list[dict]:
    rows = []
    for i, a in enumerate(members):
        for b in members[i + 1 :]:
            for j, layer in enumerate(layers):
                v = 0.5 + 0.05 * j + 0.01 * epoch + 0.001 * seed
                for metric, value in (
                    ("linear_cka", v),
                    ("linear_cka_debiased", v - 0.1),
                    ("subspace_overlap", v - 0.2),
                    ("linear_cka_null", 0.05),
                    ("subspace_overlap_null", 0.0625),
                ):
                    rows.append(_row(epoch, a, b, layer, layer, metric, value))
            last = layers[-1]
            for x, y, val in ((a, b, 0.9), (b, a, 0.8)):
                rows.append(_row(epoch, x, y, last, last, "transfer_ratio", val))
                rows.append(_row(epoch, x, y, last, last, "stitch_penalty", 1.0 - val))
        for j, la in enumerate(layers):
            rows.append(_row(epoch, a, a, la, la, "probe_acc", 0.6 + 0.1 * j))
            rows.append(_row(epoch, a, a, la, la, "input_cka", 0.3 - 0.1 * j))
            for lb in layers[j:]:
                rows.append(_row(epoch, a, a, la, lb, "layer_cka", 1.0 if la == lb else 0.7))
    return rows


def _row(epoch, a, b, la, lb, metric, value) -> dict:
    return {
        "epoch": epoch,
        "member_a": a,
        "member_b": b,
        "layer_a": la,
        "layer_b": lb,
        "metric": metric,
        "value": value,
    }


def _write_alignment_csv(run_dir: Path, rows: list[dict]) -> None:
    path = run_dir / "metrics" / "alignment.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ("epoch", "member_a", "member_b", "layer_a", "layer_b", "metric", "value")
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=cols)
        writer.writeheader()
        writer.writerows(rows)


def write_sweep(root: Path, seeds: Sequence[int], **kwargs) -> Path:
    """A sweep folder with one cohort run ``seed=<s>`` per seed (kwargs: :func:`write_run`)."""
    root = Path(root)
    for seed in seeds:
        write_run(root / f"seed={seed}", seed, **kwargs)
    return root
