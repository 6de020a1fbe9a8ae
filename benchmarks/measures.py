"""Cost of every registered measure: seconds per pair at n examples and width d, one process,
``--threads`` torch threads (default 1), float64, best of ``--repeat`` calls.

    python benchmarks/measures.py --n 2000 10000 --d 256 --threads 1

Inputs: two related random representations (a shared rank-16 signal through a different map,
one of them through tanh, plus noise). Every measure runs with the snapshot defaults
(:class:`~xmsem.snapshots.measure.MeasureSettings`; its ``metric_params`` defaults) but WITHOUT the
snapshot caps (``pairwise_max_n``, ``rbf_max_n``, ``spectral_max_n``), so the numbers say what a
measure costs at n; the ``cap`` column says which cap bounds it in a snapshot. The composite
measures run on their own inputs: ``probe_transfer`` (10 classes, half fit / half evaluation, both
transfer maps of the defaults: one call per map), ``stitching`` (a linear 10-class tail, half /
half), ``spectral`` (d-wide inputs, its kNN graph and dense Laplacian).

Nothing is skipped silently: n is measured in ascending order (after a quarter of the first n)
and a cell whose time, projected from the two smaller n by the measure's own growth (t ~ n^e, e
fitted; 3 before two points exist), exceeds
``--max-seconds``, or whose n x n matrices would exceed ``--max-gb``, is reported as ``~T est``
(never run); the last column gives e.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable

import torch

from xmsem.alignment import METRICS
from xmsem.snapshots.measure import MeasureSettings, RepCache, pair_rows

CLASSES = 10


def pair(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 16, generator=g, dtype=torch.float64)
    x = z @ torch.randn(16, d, generator=g, dtype=torch.float64)
    x = x + torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.tanh(z @ torch.randn(16, d, generator=g, dtype=torch.float64))
    y = y + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, y


def call(name: str, n: int, d: int, settings: MeasureSettings) -> Callable[[], object]:
    """A zero-argument call of measure ``name`` on a pair of n examples (module doc)."""
    spec = METRICS[name]
    x, y = pair(n, d)
    kw = spec.kwargs(settings)
    labels = torch.arange(n) % CLASSES
    h = n // 2
    if spec.inputs == "reps":
        return lambda: spec.fn(x, y, **kw)
    if spec.inputs == "probe":
        maps = list(settings.transfer_maps)
        return lambda: [spec.fn(x[:h], labels[:h], x[h:], labels[h:], y[:h], y[h:], map=m, **kw)
                        for m in maps]  # fmt: skip
    if spec.inputs == "stitch":
        tail = torch.nn.Linear(d, CLASSES, dtype=torch.float64)
        return lambda: spec.fn(x[:h], y[:h], x[h:], labels[h:], tail, b_eval=y[h:], **kw)
    if spec.inputs == "spectral":
        inputs = pair(n, d, seed=1)[0]
        return lambda: spec.fn(inputs, x, y, **kw)
    raise ValueError(f"{name}: inputs {spec.inputs!r} has no benchmark call")


def seconds(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # CPU: the result is computed when the call returns
        best = min(best, time.perf_counter() - t0)
    return best


def n_by_n_gb(n: int) -> float:
    """A few n x n float64 matrices at once (kernels, distance matrices, neighbour masks)."""
    return 4 * 8 * n * n / 1e9


def row(name: str, ns: list[int], args: argparse.Namespace, settings: MeasureSettings) -> dict:
    """Seconds (measured or estimated) of one measure at each n, and its growth exponent."""
    spec = METRICS[name]
    quadratic = spec.max_n is not None
    points: list[tuple[int, float]] = []  # measured (n, seconds)
    cells: dict[int, tuple[float, bool]] = {}  # n -> (seconds, estimated)
    for n in [max(ns[0] // 4, 20), *ns]:  # a quarter of the first n: two points for e
        exponent = _exponent(points)
        projected = points[-1][1] * (n / points[-1][0]) ** exponent if points else 0.0
        if points and (projected > args.max_seconds or quadratic and n_by_n_gb(n) > args.max_gb):
            cells[n] = (projected, True)
            continue
        t = seconds(call(name, n, args.d, settings), 1 if n > 2000 else args.repeat)
        points.append((n, t))
        cells[n] = (t, False)
    return {"name": name, "cap": spec.max_n or "", "cells": cells, "exponent": _exponent(points)}


def _exponent(points: list[tuple[int, float]]) -> float:
    """e in t ~ n^e from the last two measured points (3 until there are two: the worst case of
    the dense n x n eigen/SVD measures)."""
    if len(points) < 2:
        return 3.0
    (n0, t0), (n1, t1) = points[-2], points[-1]
    return max(1.0, math.log(max(t1, 1e-6) / max(t0, 1e-6)) / math.log(n1 / n0))


def snapshot_seconds(name: str, args: argparse.Namespace) -> float:
    """Seconds the rows of measure ``name`` add to one snapshot of ``--models`` models x
    ``--layers`` layers (d wide, ``--probe`` examples): the same-name layer pairs of every two
    models through :func:`~xmsem.snapshots.measure.pair_rows` with one shared
    :class:`~xmsem.snapshots.measure.RepCache` (per-representation work done once), the snapshot
    caps and defaults (no chance controls)."""
    n, d = args.probe, args.d
    models = [f"m{i}" for i in range(args.models)]
    layers = [f"h{j}" for j in range(args.layers)]
    reps = {m: {la: pair(n, d, seed=10 * i + j)[i % 2] for j, la in enumerate(layers)}
            for i, m in enumerate(models)}  # fmt: skip
    labels = torch.arange(n) % CLASSES
    settings = MeasureSettings(metrics=[name], controls=False)
    tail = torch.nn.Linear(d, CLASSES, dtype=torch.float64)
    tails = {m: (lambda layer: (tail, 1.0)) for m in models}
    same = [(la, la) for la in layers]
    inputs = pair(n, d, seed=99)[0]
    cache = RepCache(labels, n // 2, settings)
    t0 = time.perf_counter()
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            pair_rows(a, b, reps[a], reps[b], same, labels, n // 2, settings, tails=tails,
                      stitch_layers=same, inputs=inputs, cache=cache)  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1)")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many calls (n <= 2000)")
    ap.add_argument("--max-seconds", type=float, default=120.0,
                    help="estimate, do not run, a cell projected above this")  # fmt: skip
    ap.add_argument("--max-gb", type=float, default=8.0, help="estimate n x n cells above this")
    ap.add_argument("--metrics", nargs="+", default=None, help="these measures only (all)")
    ap.add_argument("--snapshot", action="store_true",
                    help="instead: seconds each measure adds to one snapshot (--models, --layers, "
                    "--probe)")  # fmt: skip
    ap.add_argument("--models", type=int, default=3, help="--snapshot: models (3)")
    ap.add_argument("--layers", type=int, default=3, help="--snapshot: layers per model (3)")
    ap.add_argument("--probe", type=int, default=10000, help="--snapshot: probe examples")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = MeasureSettings()
    names = args.metrics or list(METRICS)
    if args.snapshot:
        print(
            f"seconds per snapshot: {args.models} models x {args.layers} layers of {args.d}, "
            f"{args.probe:,} probe examples (snapshot caps), {torch.get_num_threads()} thread(s)"
        )
        for name in names:
            print(f"| {name} | {snapshot_seconds(name, args):.3g} |", flush=True)
        return
    ns = sorted(args.n)
    print(f"seconds per pair, d={args.d}, float64, CPU {platform.processor() or platform.machine()},"
          f" {torch.get_num_threads()} torch thread(s), torch {torch.__version__}; "
          f"'~T est' = projected, not run")  # fmt: skip
    print(f"| measure | cap in snapshots | {' | '.join(f'n = {n:,}' for n in ns)} | growth e |")
    print("|---|---|" + "---|" * len(ns) + "---|")
    for name in names:
        r = row(name, ns, args, settings)
        cells = [f"~{t:.3g} est" if est else f"{t:.3g}" for t, est in (r["cells"][n] for n in ns)]
        print(f"| {name} | {r['cap'] or '-'} | {' | '.join(cells)} | {r['exponent']:.1f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
