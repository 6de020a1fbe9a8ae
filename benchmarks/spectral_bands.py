"""Spectral band CKA with its permutation null: the band-coordinate route against the generic
route (the metric on the explicit n x n projections), side by side in one process, one thread.

n = 500 probe examples (``spectral_max_n`` of ``fmnist_pgnn_vs_mlp``), 784 inputs, two 256-wide
ReLU representations, 3 bands over the whole spectrum, 10 permutations: the seconds of one pair
each way (best of 3), their ratio, the seconds of the graph spectrum (once per snapshot) and the
largest difference between the two routes' values and null samples.

    python benchmarks/spectral_bands.py            # n = 500
    python benchmarks/spectral_bands.py --n 1000
"""

from __future__ import annotations

import argparse
import time

import torch

from xmsem.alignment import linear_cka
from xmsem.alignment import spectral as sp
from xmsem.alignment._checks import centre


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="probe examples (spectral_max_n)")
    n = parser.parse_args().n
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    f64 = {"generator": g, "dtype": torch.float64}
    inputs = torch.randn(n, 784, **f64)
    x = torch.relu(torch.randn(n, 256, **f64))
    y = torch.relu(x @ torch.randn(256, 256, **f64) / 16 + torch.randn(n, 256, **f64))
    t_graph, (_, u) = best_of(lambda: sp.band_graph(inputs, 10), 1)
    bands = torch.arange(n).tensor_split(3)
    xc, yc = centre(x), centre(y)
    t_old, old = best_of(lambda: sp._metric_bands(u, bands, xc, yc, linear_cka, 10, 0))
    t_new, new = best_of(lambda: sp._linear_cka_bands(u, bands, u.T @ xc, u.T @ yc, yc, 10, 0))
    values = max(abs(float(a) - float(b)) for a, b in zip(old[0], new[0], strict=True))
    nulls = max(float((a - b).abs().max()) for a, b in zip(old[1], new[1], strict=True))
    print(f"n = {n}; graph spectrum (once per snapshot): {t_graph:.3f} s")
    print(f"one pair, 3 bands, 10 permutations: generic {t_old:.3f} s, band coordinates "
          f"{t_new:.3f} s, {t_old / t_new:.1f}x")  # fmt: skip
    print(f"largest difference: values {values:.1e}, null samples {nulls:.1e}")


if __name__ == "__main__":
    main()
