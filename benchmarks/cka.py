"""Linear CKA benchmark: ours vs a Gram-form implementation vs the matrix-product floor, and
the peak memory of StreamingLinearCKA as n grows.

    python benchmarks/cka.py [--n 10000 --d 512 --device cpu --repeats 3 --stream-n 60000]

All timings: time.perf_counter, median of ``--repeats`` runs, same data for every contender.
* ``ours``: ``xmsem.alignment.linear_cka`` (float32 input -> float64, centre, feature form).
* ``gram``: the route most CKA packages take (Kornblith et al.'s reference code): n x n Gram
  matrices K = X X^T, L = Y Y^T in float64, double-centred, <K, L> / (||K|| ||L||).
* ``floor``: just the three products X^T X, Y^T Y, X^T Y on already centred float64 data.
Streaming memory: each n runs in a fresh subprocess that generates 1,000-row batches on the fly
and feeds StreamingLinearCKA; reported is the peak resident memory above the process's baseline
(VmHWM after resetting it; tracemalloc cannot see torch's CPU allocator), or torch.cuda.max_memory_allocated
on a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

from xmsem.alignment import StreamingLinearCKA, linear_cka


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, repeats: int, device: torch.device, warmup: bool = True) -> tuple[float, object]:
    out = fn() if warmup else None
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def gram_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gram-form linear CKA (Kornblith et al. 2019 reference code, in torch float64)."""

    def centred_gram(v: torch.Tensor) -> torch.Tensor:
        g = v.double() @ v.double().T
        means = g.mean(dim=0)
        means -= means.mean() / 2
        g -= means[:, None]
        g -= means[None, :]
        return g

    k = centred_gram(x)
    l = centred_gram(y)
    return (k * l).sum() / (torch.linalg.norm(k) * torch.linalg.norm(l))


def floor_products(xc: torch.Tensor, yc: torch.Tensor) -> torch.Tensor:
    return torch.stack([(xc.T @ xc).sum(), (yc.T @ yc).sum(), (xc.T @ yc).sum()])


def _status_kib(key: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def _rss_reset() -> int:
    """Reset the peak-RSS mark (VmHWM) to the current RSS and return that RSS in KiB."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kib("VmRSS")


def stream_child(n: int, d: int, device: str, batch: int = 1000) -> dict:
    """Run inside a subprocess: peak memory of streaming n x d through StreamingLinearCKA."""
    dev = torch.device(device)
    g = torch.Generator(device="cpu").manual_seed(0)
    w = torch.randn(d, d, generator=g) / d**0.5
    s = StreamingLinearCKA()
    xb = torch.randn(batch, d, generator=g).to(dev)
    s.update(xb, xb @ w.to(dev))  # warm-up: allocator and BLAS buffers exist before baseline
    s.reset()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    base_rss = _rss_reset()
    t0 = time.perf_counter()
    for _ in range(n // batch):
        xb = torch.randn(batch, d, generator=g).to(dev)
        s.update(xb, xb @ w.to(dev) + 0.5 * xb)
    value = float(s.compute())
    elapsed = time.perf_counter() - t0
    if dev.type == "cuda":
        peak = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    else:
        peak = (_status_kib("VmHWM") - base_rss) / 1024
    state = sum(t.numel() * t.element_size() for t in s._s.values()) / 2**20
    total = _status_kib("VmHWM") / 1024
    return {
        "n": n,
        "peak_mib": peak,
        "total_mib": total,
        "state_mib": state,
        "seconds": elapsed,
        "cka": value,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stream-n", type=int, default=60_000)
    ap.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child is not None:
        print(json.dumps(stream_child(args._child, args.d, args.device)))
        return

    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.n, args.d, generator=g).to(dev)
    y = torch.tanh(x @ (torch.randn(args.d, args.d, generator=g) / args.d**0.5).to(dev))
    y = y + 0.5 * torch.randn(args.n, args.d, generator=g).to(dev)
    xc = x.double() - x.double().mean(0)
    yc = y.double() - y.double().mean(0)

    print(
        f"linear CKA, n={args.n}, d={args.d}, device={dev}, float32 input, "
        f"torch threads={torch.get_num_threads()}, median of {args.repeats}"
    )
    t_ours, v_ours = timeit(lambda: linear_cka(x, y), args.repeats, dev)
    t_floor, _ = timeit(lambda: floor_products(xc, yc), args.repeats, dev)
    # the Gram form takes ~10x longer: no warm-up and at most 2 repeats keep the run short
    t_gram, v_gram = timeit(lambda: gram_cka(x, y), min(args.repeats, 2), dev, warmup=False)
    print(f"{'contender':<28}{'seconds':>10}{'vs ours':>10}")
    print(f"{'ours (feature form)':<28}{t_ours:>10.3f}{1.0:>10.2f}")
    print(f"{'floor (3 products)':<28}{t_floor:>10.3f}{t_floor / t_ours:>10.2f}")
    print(f"{'gram form (n x n)':<28}{t_gram:>10.3f}{t_gram / t_ours:>10.2f}")
    print(
        f"speed-up over gram form: {t_gram / t_ours:.1f}x (target >= 10x); "
        f"ours / floor: {t_ours / t_floor:.2f}x (target <= 1.5x); "
        f"|ours - gram| = {abs(float(v_ours) - float(v_gram)):.1e}"
    )

    print(f"\nStreamingLinearCKA peak memory, d={args.d}, 1,000-row batches")
    print(
        "(growth = peak memory above the process after a warm-up batch; "
        "full batch = the two n x d float64 copies linear_cka would hold)"
    )
    print(
        f"{'n':>8}{'growth MiB':>12}{'proc peak MiB':>15}{'state MiB':>11}{'seconds':>9}"
        f"{'full batch MiB':>16}"
    )
    ns = sorted({max(args.stream_n // 6, 1000), args.stream_n})
    for n in ns:
        cmd = [
            sys.executable,
            __file__,
            "--d",
            str(args.d),
            "--device",
            args.device,
            "--_child",
            str(n),
        ]
        res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        full = 2 * n * args.d * 8 / 2**20
        print(
            f"{n:>8}{res['peak_mib']:>12.1f}{res['total_mib']:>15.0f}{res['state_mib']:>11.1f}"
            f"{res['seconds']:>9.2f}{full:>16.0f}"
        )


if __name__ == "__main__":
    main()
