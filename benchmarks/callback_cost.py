"""What the representation callback adds to training time, side by side in one invocation.

Trains the same run twice — ``callbacks=none`` and the default snapshot/alignment callback — and
prints the fit seconds of both, their ratio, and the callback's own timer (seconds spent in
snapshots). Default: the real ``+experiment=fmnist_pgnn_vs_mlp`` settings (probe set = the 10,000
test images, epochs [0, 1, 2, 5, 10]) on one seed.

    python benchmarks/callback_cost.py                    # the fmnist protocol, one seed
    python benchmarks/callback_cost.py --experiment synthetic_pgnn_vs_mlp --epochs 2  # quick check
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def train(run_dir: Path, overrides: list[str]) -> float:
    cmd = [sys.executable, "-m", "xmsem.train", *overrides, f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"training failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    wall = time.perf_counter() - start
    return json.loads((run_dir / "status.json").read_text())["fit_seconds"], wall


def snapshot_seconds(run_dir: Path) -> list[float]:
    out = []
    for path in sorted((run_dir / "csv").glob("version_*/metrics.csv")):
        with path.open() as handle:
            out += [float(r["time/representations_seconds"]) for r in csv.DictReader(handle)
                    if r.get("time/representations_seconds")]  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--experiment", default="fmnist_pgnn_vs_mlp")
    parser.add_argument(
        "--epochs", type=int, default=None, help="trainer.max_epochs (default: the experiment's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("extra", nargs="*", help="more Hydra overrides (after --)")
    args = parser.parse_args()
    base = [f"+experiment={args.experiment}", "hydra.mode=RUN", f"seed={args.seed}", *args.extra]
    if args.epochs is not None:
        base.append(f"trainer.max_epochs={args.epochs}")
    with tempfile.TemporaryDirectory() as tmp:
        plain_fit, plain_wall = train(Path(tmp) / "plain", [*base, "callbacks=none"])
        full_fit, full_wall = train(Path(tmp) / "full", base)
        snaps = snapshot_seconds(Path(tmp) / "full")
    print(
        f"callback cost on {' '.join(base)}  (torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')})"
    )
    print(f"{'':28s}{'fit s':>10s}{'wall s':>10s}")
    print(f"{'callbacks=none':28s}{plain_fit:10.1f}{plain_wall:10.1f}")
    print(f"{'default (snapshots)':28s}{full_fit:10.1f}{full_wall:10.1f}")
    print(f"added to training time: {100 * (full_fit / plain_fit - 1):.1f}%  (target <= 10%)")
    share = sum(snaps) / max(full_fit - sum(snaps), 1e-9)
    print(f"callback's own timer: {len(snaps)} snapshots, {sum(snaps):.1f} s "
          f"({', '.join(f'{s:.2f}' for s in snaps)}) = {100 * share:.1f}% of the rest of training")  # fmt: skip


if __name__ == "__main__":
    main()
