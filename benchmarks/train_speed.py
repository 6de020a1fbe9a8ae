"""Training speed of the xmsem cohort, side by side in one process.

1. **cohort vs raw loop**: one training epoch of the xmsem ``CohortModule`` under Lightning (the
   ``TensorDataModule``, exactly as ``python -m xmsem.train`` runs it, without validation, logging
   or callbacks) against a hand-written torch loop over the very same networks (PGNN + MLP,
   784-256-256-256-10), data (Fashion-MNIST, batch 128) and optimiser (one Adam).
   Target: cohort <= 1.15x the raw loop.
2. **ensemble=20 vs 20 sequential single-copy runs**: one epoch of a 20-copy ensemble cohort
   (one batched forward/backward for all copies) against 20 single-copy cohort epochs one after
   the other (each a fresh cohort of its seed). Target: >= 1.3x faster.

Each figure is the median over ``--repeats`` measured epochs after one warm-up epoch; epochs are
cut to ``--batches`` batches so the whole script takes a couple of minutes on a 2-core CPU. On
CUDA every timing ends with a device synchronisation. The last line is machine-readable:

    train_speed: device=<name> cohort_vs_raw=<x> ensemble20_speedup=<y>

    python benchmarks/train_speed.py                         # fmnist, 60 batches/epoch, 3 repeats
    python benchmarks/train_speed.py --batches 0 --repeats 2 # whole epochs (430 batches)
    python benchmarks/train_speed.py --data synthetic        # no dataset files needed
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from xmsem.data import TensorDataModule, load_raw  # noqa: E402
from xmsem.lit.cohort import CohortModule, build_members  # noqa: E402
from xmsem.models import build_model  # noqa: E402

HIDDEN = [256, 256, 256]
SPECS = {
    "pgnn": {"arch": "pgnn", "hidden": HIDDEN},
    "mlp": {"arch": "mlp", "hidden": HIDDEN},
}
SEED = 0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def loader(args: argparse.Namespace) -> Callable:
    if args.data == "fmnist":
        data_dir = args.data_dir or os.environ.get("XMSEM_FMNIST_DIR")
        return functools.partial(load_raw, "fmnist", data_dir=data_dir, download=False)
    return functools.partial(load_raw, "synthetic", n_train=57000, input_dim=784)


def datamodule(args: argparse.Namespace, raw, copies: int = 1) -> TensorDataModule:
    return TensorDataModule(lambda: raw, batch_size=args.batch_size, val_size=5000, split_seed=0,
                            seed=SEED, copies=copies)  # fmt: skip


def cohort(raw, copies: int, seed: int = SEED) -> CohortModule:
    def build(spec):
        return build_model(spec, input_dim=raw.input_dim, num_classes=raw.num_classes)

    members = build_members(SPECS, seed, build, copies=copies)
    return CohortModule(members, raw.num_classes, copies=copies)


class _Timer:
    """Seconds of each training epoch (synchronised with the device at both ends)."""

    def __init__(self, device: torch.device) -> None:
        import lightning as L

        outer = self

        class Callback(L.Callback):
            def on_train_epoch_start(self, trainer, pl_module) -> None:  # noqa: ANN001
                sync(device)
                outer._start = time.perf_counter()

            def on_train_batch_end(self, trainer, pl_module, *rest) -> None:  # noqa: ANN001
                outer._last = time.perf_counter

            def on_train_epoch_end(self, trainer, pl_module) -> None:  # noqa: ANN001
                sync(device)
                outer.seconds.append(time.perf_counter() - outer._start)

        self.callback = Callback()
        self.seconds: list[float] = []
        self._start = 0.0


def lightning_epochs(args, raw, copies: int, epochs: int, device, seed: int = SEED) -> list[float]:
    """Per-epoch seconds of ``epochs`` epochs of the xmsem cohort under Lightning."""
    import lightning as L

    timer = _Timer(device)
    trainer = L.Trainer(
        max_epochs=epochs, accelerator=device.type if device.type == "cuda" else "cpu",
        devices=1, deterministic=device.type != "cuda", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0, limit_train_batches=args.batches or None,
        callbacks=[timer.callback],
    )  # fmt: skip
    trainer.fit(cohort(raw, copies, seed), datamodule=datamodule(args, raw, copies))
    return timer.seconds


def raw_loop_epochs(args, raw, epochs: int, device) -> list[float]:
    """Per-epoch seconds of a plain torch loop over the same networks, data and optimiser."""
    dm = datamodule(args, raw)
    dm.setup()
    x, y = dm.train_x.to(device), dm.train_y.to(device)

    def build(spec):
        return build_model(spec, input_dim=raw.input_dim, num_classes=raw.num_classes)

    nets = [net.to(device) for net in build_members(SPECS, SEED, build).values()]
    opt = torch.optim.Adam([p for net in nets for p in net.parameters()], lr=1e-3)
    n, bs = len(x), args.batch_size
    steps = -(-n // bs) if not args.batches else args.batches
    seconds = []
    for epoch in range(epochs):
        sync(device)
        start = time.perf_counter()
        gen = torch.Generator().manual_seed(SEED * 1_000_003 + epoch)
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(steps):
            idx = order[i * bs : (i + 1) * bs]
            bx, by = x[idx], y[idx]
            loss = sum(F.cross_entropy(net(bx), by) for net in nets)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def median_after_warmup(seconds: list[float]) -> float:
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["fmnist", "synthetic"], default="fmnist")
    parser.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (else "
                        "$XMSEM_FMNIST_DIR, then the Debian package's copy)")  # fmt: skip
    parser.add_argument("--batches", type=int, default=60,
                        help="training batches per epoch (0 = the whole epoch)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="measured epochs (after 1 warm-up)")
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--sequential", type=int, default=None,
                        help="single-copy runs actually timed (default: all --copies; fewer are "
                             "scaled up to --copies)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    device = torch.device(args.device)
    raw = loader(args)()
    epochs = args.repeats + 1
    name = device_name(device)
    steps = args.batches or -(-(len(raw.x_train) - 5000) // args.batch_size)
    print(f"device: {name} | data: {raw.name} {tuple(raw.x_train.shape)} | batch "
          f"{args.batch_size} x {steps} per epoch | PGNN + MLP {raw.input_dim}-"
          f"{'-'.join(map(str, HIDDEN))}-{raw.num_classes} | median of {args.repeats} epochs")  # fmt: skip

    # 1. cohort vs raw loop, alternating so that machine noise hits both alike
    cohort_s, raw_s = [], []
    for _ in range(2):
        raw_s.append(median_after_warmup(raw_loop_epochs(args, raw, epochs, device)))
        cohort_s.append(median_after_warmup(lightning_epochs(args, raw, 1, epochs, device)))
    t_raw, t_cohort = min(raw_s), min(cohort_s)
    cohort_vs_raw = t_cohort / t_raw
    print(f"raw torch loop        {t_raw:8.3f} s/epoch")
    print(f"xmsem cohort          {t_cohort:8.3f} s/epoch   cohort/raw = {cohort_vs_raw:.3f} "
          f"(target <= 1.15)")  # fmt: skip

    # 2. ensemble vs sequential single-copy runs
    k = args.copies
    t_ens = median_after_warmup(lightning_epochs(args, raw, k, epochs, device))
    n_seq = min(args.sequential or k, k)
    singles = [
        median_after_warmup(lightning_epochs(args, raw, 1, 2, device, seed=s)) for s in range(n_seq)
    ]
    t_seq = statistics.fmean(singles) * k
    speedup = t_seq / t_ens
    timed = f"{n_seq} timed" + (f", scaled to {k}" if n_seq < k else "")
    print(f"ensemble={k}           {t_ens:8.3f} s/epoch")
    print(f"{k} single-copy runs   {t_seq:8.3f} s/epoch ({timed})   speedup = {speedup:.2f}x "
          f"(target >= 1.3)")  # fmt: skip
    print(f"train_speed: device={name.replace(' ', '_')} cohort_vs_raw={cohort_vs_raw:.3f} "
          f"ensemble{k}_speedup={speedup:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
