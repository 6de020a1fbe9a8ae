"""What the representation callback adds to training time, side by side in one invocation.

Trains the same run with ``callbacks=none`` and with the default snapshot/alignment callback
(alternating, ``--repeats`` times each) and reports, per run: fit seconds, the seconds spent in
snapshots (the callback's own timer, ``time/representations_seconds``) and the median training
epoch (``time/epoch_seconds``, validation included, snapshots excluded). Default: the real
``+experiment=fmnist_pgnn_vs_mlp`` settings (probe set = the 10,000 test images, snapshots at
[0, 1, 2, 5, 10, 20]) on one seed.

Two readings of "what the callback adds":

* ``snapshot share`` = snapshot seconds / (fit seconds - snapshot seconds) of the same run. The
  callback works synchronously between epochs, so this is exactly the time it adds, provided it
  does not slow the epochs themselves -- which the median-epoch ratio (full / plain, ~1.00)
  checks.
* ``fit ratio`` = fit seconds with the callback / without, from two different processes. On a
  shared machine run-to-run noise is of the same size as the effect (+-10% seen here), so this
  one is only a cross-check; use ``--repeats`` to average it.

    python benchmarks/callback_cost.py                    # the fmnist protocol, one seed
    python benchmarks/callback_cost.py --repeats 3        # alternating A/B, 3 times each
    python benchmarks/callback_cost.py --experiment synthetic_pgnn_vs_mlp --epochs 2  # quick

A seed ensemble (``ensemble=20``: 40 networks) trains for hours on a CPU, so its share is
measured on a short run (``--only-full``: no callbacks=none twin) and projected onto the full
protocol (``--project-epochs 10``: the default snapshot epochs clipped to 10, i.e. 5 snapshots,
at the run's mean snapshot seconds, over 10 of its median training epochs)::

    python benchmarks/callback_cost.py --experiment init_sensitivity --epochs 1 --only-full \
        --project-epochs 10
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.10


@dataclass
class Run:
    fit: float
    wall: float
    snapshots: list[float]
    epochs: list[float]

    @property
    def share(self) -> float:
        return sum(self.snapshots) / max(self.fit - sum(self.snapshots), 1e-9)


def _column(run_dir: Path, name: str) -> list[float]:
    out = []
    for path in sorted((run_dir / "csv").glob("version_*/metrics.csv")):
        with path.open() as handle:
            out += [float(r[name]) for r in csv.DictReader(handle) if r.get(name)]
    return out


def train(run_dir: Path, overrides: list[str]) -> Run:
    cmd = [sys.executable, "-m", "xmsem.train", *overrides, f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"training failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    wall = time.perf_counter() - start
    fit = json.loads((run_dir / "status.json").read_text())["fit_seconds"]
    return Run(
        fit,
        wall,
        _column(run_dir, "time/representations_seconds"),
        _column(run_dir, "time/epoch_seconds"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--experiment", default="fmnist_pgnn_vs_mlp")
    parser.add_argument(
        "--epochs", type=int, default=None, help="trainer.max_epochs (default: the experiment's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="A/B pairs, alternating")
    parser.add_argument(
        "--only-full", action="store_true", help="skip the callbacks=none runs (share only)"
    )
    parser.add_argument(
        "--project-epochs",
        type=int,
        default=None,
        help="also project the share onto a run of this many epochs (default snapshot epochs)",
    )
    parser.add_argument("extra", nargs="*", help="more Hydra overrides (after --)")
    args = parser.parse_args()
    base = [f"+experiment={args.experiment}", "hydra.mode=RUN", f"seed={args.seed}", *args.extra]
    if args.epochs is not None:
        base.append(f"trainer.max_epochs={args.epochs}")
    plain: list[Run] = []
    full: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            if not args.only_full:
                plain.append(train(Path(tmp) / f"plain{i}", [*base, "callbacks=none"]))
            full.append(train(Path(tmp) / f"full{i}", base))
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"callback cost on {' '.join(base)}  (torch threads: {threads})")
    print(f"{'run':24s}{'fit s':>9s}{'wall s':>9s}{'median epoch s':>16s}{'snapshots s':>13s}")
    for i in range(args.repeats):
        pair = [("default (snapshots)", full[i])]
        if plain:
            pair.insert(0, ("callbacks=none", plain[i]))
        for label, run in pair:
            print(f"{label:24s}{run.fit:9.1f}{run.wall:9.1f}{statistics.median(run.epochs):16.2f}"
                  f"{sum(run.snapshots):13.1f}")  # fmt: skip
    last = full[-1]
    print(f"snapshots of the last run: {', '.join(f'{s:.2f}' for s in last.snapshots)} s")
    shares = [run.share for run in full]
    if plain:
        epoch_ratio = statistics.median(e for r in full for e in r.epochs) / statistics.median(
            e for r in plain for e in r.epochs
        )
        fit_ratio = statistics.mean(r.fit for r in full) / statistics.mean(r.fit for r in plain)
    print(f"snapshot share (callback's own timer / rest of training): "
          f"{', '.join(f'{100 * s:.1f}%' for s in shares)}  (target <= {100 * TARGET:.0f}%)")  # fmt: skip
    if args.project_epochs:
        from xmsem.lit.representations import snapshot_epochs

        count = len(snapshot_epochs(None, args.project_epochs))
        snap = statistics.mean(s for r in full for s in r.snapshots)
        epoch = statistics.median(e for r in full for e in r.epochs)
        print(f"projected onto {args.project_epochs} epochs ({count} snapshots of {snap:.1f} s, "
              f"epochs of {epoch:.1f} s): {100 * count * snap / (args.project_epochs * epoch):.1f}%")  # fmt: skip
    if not plain:
        return
    print(f"median training epoch, with / without the callback: {epoch_ratio:.3f}")
    print(f"fit ratio, with / without (noisy across processes): {fit_ratio:.3f}")


if __name__ == "__main__":
    main()
