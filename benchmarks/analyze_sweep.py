"""Time ``xmsem.analysis.analyze_sweep`` on a synthetic sweep written with the real writers.

Default: the performance target — 20 seeds x {pgnn, mlp} cohort runs, 5 snapshot epochs, 3 layers
of width 256, 10,000 probe examples stored as float16 (~3 GB in a temp dir). Prints the seconds of
the first analysis (everything computed) and of a second one (every pair from the cache).

    python benchmarks/analyze_sweep.py                       # the target (< 300 s)
    python benchmarks/analyze_sweep.py --seeds 4 --n 2000    # smaller
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from xmsem.analysis import analyze_sweep
from xmsem.analysis.synthetic import write_sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--n", type=int, default=10_000, help="probe examples")
    p.add_argument("--epochs", type=int, default=5, help="snapshot epochs")
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the temp sweep (prints its path)")
    args = p.parse_args()

    root = Path(tempfile.mkdtemp(prefix="xmsem_bench_"))
    try:
        t0 = time.perf_counter()
        write_sweep(
            root / "sweep",
            range(args.seeds),
            n=args.n,
            widths=[args.width] * args.layers,
            epochs=list(range(args.epochs)),
            dtype="float16",
        )
        built = time.perf_counter() - t0
        pairs_per_unit = 2 * args.seeds * (args.seeds - 1) // 2 + args.seeds
        print(
            f"sweep: {args.seeds} seeds x 2 members, {args.epochs} epochs, {args.layers} layers "
            f"of {args.width}, n={args.n}, float16 (built in {built:.1f}s); "
            f"{pairs_per_unit * args.epochs * args.layers} pairs; torch threads "
            f"{torch.get_num_threads()}, load avg {os.getloadavg()[0]:.1f}"
        )
        first = analyze_sweep(root / "sweep", figures=not args.no_figures)
        print(
            f"first analysis:  {first.seconds:.1f}s  (pairs computed {first.pairs_computed}, "
            f"reused {first.pairs_reused})"
        )
        second = analyze_sweep(root / "sweep", figures=not args.no_figures)
        print(
            f"second analysis: {second.seconds:.1f}s  (pairs computed {second.pairs_computed}, "
            f"reused {second.pairs_reused})"
        )
        print(f"target: first analysis < 300 s -> {'met' if first.seconds < 300 else 'MISSED'}")
    finally:
        if args.keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
