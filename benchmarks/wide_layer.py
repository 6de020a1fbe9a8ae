"""A `_target_` member with a 12,544-wide layer, snapshotted on 2,000 Fashion-MNIST probe images.

Writes a small package (``widenets.WideNet``: a 64-channel stride-2 conv on 28 x 28 inputs,
64 x 14 x 14 = 12,544 features, then a pooled head) to a temp folder, trains it alone for a few
batches with ``debug=tiny`` and snapshots at epochs 0 and 1 with the default metrics, then prints
the seconds of each snapshot (the callback's own timer, ``time/representations_seconds``).

    python benchmarks/wide_layer.py                 # the must-show: each snapshot < 60 s
    python benchmarks/wide_layer.py --with-mlp      # next to the default PGNN and MLP
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDENET = """from torch import nn


class WideNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, 64, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.conv1(x)).flatten(1))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-mlp", action="store_true", help="keep the default pgnn and mlp")
    parser.add_argument("--probe-size", type=int, default=2000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="xmsem_wide_"))
    (root / "pkgs" / "widenets").mkdir(parents=True)
    (root / "pkgs" / "widenets" / "__init__.py").write_text(WIDENET)
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true",
               PYTHONPATH=f"{root / 'pkgs'}:{os.environ.get('PYTHONPATH', '')}")  # fmt: skip
    members = [] if args.with_mlp else ["~model.pgnn", "~model.mlp"]
    cmd = [sys.executable, "-m", "xmsem.train", "debug=tiny", "data=fmnist", *members,
           "+model.net={_target_: widenets.WideNet, layers: [conv1, pool]}",
           f"callbacks.representations.probe_size={args.probe_size}",
           "callbacks.representations.epochs=[0,1]", "trainer.max_epochs=1",
           "trainer.limit_train_batches=3", f"hydra.run.dir={root / 'run'}"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    print(f"run: {time.perf_counter() - start:.1f}s, exit {proc.returncode}")
    metrics = sorted((root / "run" / "csv").rglob("metrics.csv"))
    if not metrics:
        return 1
    with metrics[-1].open() as handle:
        for row in csv.DictReader(handle):
            if row.get("time/representations_seconds"):
                print(
                    f"snapshot epoch {row['epoch']}: {float(row['time/representations_seconds']):.1f}s"
                )
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
