"""Cost of every registered two-representation measure: seconds per pair at n examples and
width d (two related random representations, float64, the default options), best of ``--repeat``.

    python benchmarks/measures.py --n 2000 10000 --d 256

Prints one table row per measure: its name, O(n^2) or not (``max_n`` in its spec: capped at
``pairwise_max_n`` examples in snapshots), and the seconds at each n (``-`` when a measure's n x n
matrices would need more than ``--max-gb`` of memory).
"""

from __future__ import annotations

import argparse
import time

import torch

from xmsem.alignment import METRICS


def pair(n: int, d: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n, 16, generator=g, dtype=torch.float64)
    x = z @ torch.randn(16, d, generator=g, dtype=torch.float64) + torch.randn(
        n, d, generator=g, dtype=torch.float64
    )
    y = torch.tanh(z @ torch.randn(16, d, generator=g, dtype=torch.float64)) + 0.5 * torch.randn(
        n, d, generator=g, dtype=torch.float64
    )
    return x.to(device), y.to(device)


def seconds(fn, x, y, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        float(fn(x, y))  # a 0-d tensor: float() waits for the device
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--max-gb", type=float, default=8.0, help="skip n x n measures above this")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    names = [n for n, s in METRICS.items() if s.inputs == "reps"]
    data = {n: pair(n, args.d, args.device) for n in args.n}
    print(f"seconds per pair, d={args.d}, {args.device}, {torch.get_num_threads()} threads")
    print(f"{'measure':22s} {'n x n':5s} " + " ".join(f"n={n:<7d}" for n in args.n))
    for name in names:
        spec = METRICS[name]
        cells = []
        for n in args.n:
            # a few n x n float64 matrices at once (kernels, masks, distance matrices)
            if spec.max_n is not None and 4 * 8 * n * n / 1e9 > args.max_gb:
                cells.append(f"{'-':9s}")
                continue
            x, y = data[n]
            cells.append(f"{seconds(spec.fn, x, y, args.repeat):<9.3f}")
        print(f"{name:22s} {'yes' if spec.max_n else 'no':5s} " + " ".join(cells))


if __name__ == "__main__":
    main()
