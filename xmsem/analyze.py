"""``python -m xmsem.analyze <sweep dir>``: tables, figures and report.md of a whole sweep.

Exit 0 when the analysis was written (failed or incomplete runs are listed in the report),
1 when it was written but snapshot files were missing (each named on the terminal and in the
report), 2 with one line when the sweep folder is missing, holds no runs, or an argument is invalid.
"""

from __future__ import annotations

import argparse
import logging
import sys

from xmsem.analysis import AnalysisError, analyze_sweep
from xmsem.analysis.crossrun import DEFAULT_METRICS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m xmsem.analyze", description=__doc__.split("\n")[0])
    p.add_argument("sweep_dir", help="a sweep folder, e.g. outputs/sweeps/<name>")
    p.add_argument("--out", default=None, help="output folder (default: <sweep dir>/analysis)")
    p.add_argument(
        "--metrics",
        nargs="+",
        default=None,
        help="cross-run metrics (registered two-representation metrics), space- or comma-"
        "separated or as a Hydra-style list '[a,b]' (default: "
        f"{' '.join(DEFAULT_METRICS)}; with --sanity: every one)",
    )
    p.add_argument(
        "--sanity",
        action="store_true",
        help="only which measure to trust: the layer-identification test (Kornblith et al. "
        "2019) and ReSi's grounding by prediction (Spearman rho with accuracy difference, "
        "disagreement, JSD; outputs from checkpoints/last.ckpt) per measure: "
        "<out>/sanity.csv, sanity.md, sanity.png",
    )
    p.add_argument("--subspace-k", type=int, default=None,
                   help="k of subspace overlap (default: the runs' callbacks.representations."
                        "subspace_k)")  # fmt: skip
    p.add_argument(
        "--interval",
        choices=["t", "bca"],
        default="t",
        help="95%% interval over seeds: Student t (default) or BCa (never narrower than t for "
        "n <= 10); seed-vs-seed metrics always use the delete-one-seed jackknife",
    )
    p.add_argument(
        "--convergence-fraction",
        type=float,
        default=0.95,
        help="convergence = first epoch/step with val accuracy >= this fraction of the best (0.95)",
    )
    p.add_argument("--bootstrap", type=int, default=1000, help="BCa resamples (1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the BCa generator (0)")
    p.add_argument(
        "--slow-max-n",
        type=int,
        default=2000,
        help="probe examples used by metrics without a fast path, e.g. rbf_cka (2000)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-cache", action="store_true", help="recompute every cross-run pair")
    p.add_argument(
        "--wandb",
        action="store_true",
        help="log one wandb summary run (mode from WANDB_MODE, offline by default)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings")
    return p


def metric_names(values: list[str] | None) -> list[str] | None:
    """``--metrics`` as names: ``a b``, ``a,b`` and the Hydra-style ``[a,b]`` / ``'[a, b]'``
    (as in ``callbacks.representations.metrics=[a,b]``) all give ``[a, b]``."""
    if values is None:
        return None
    names = []
    for value in values:
        names += [part.strip().strip("'\"") for part in value.strip().strip("[]").split(",")]
    return [name for name in names if name]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.metrics = metric_names(args.metrics)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if args.sanity:
        return _sanity(args)
    try:
        result = analyze_sweep(
            args.sweep_dir,
            out=args.out,
            metrics=args.metrics or list(DEFAULT_METRICS),
            subspace_k=args.subspace_k,
            bootstrap=args.bootstrap,
            interval=args.interval,
            convergence_fraction=args.convergence_fraction,
            seed=args.seed,
            figures=not args.no_figures,
            use_cache=not args.no_cache,
            wandb=args.wandb,
            slow_max_n=args.slow_max_n,
        )
    except AnalysisError as err:
        print(f"xmsem.analyze: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an unreadable file or an unwritable output folder: one line
        print(
            f"xmsem.analyze: {err.strerror or err}: {err.filename or args.sweep_dir}",
            file=sys.stderr,
        )
        return 2
    print(
        f"{len(result.runs)} runs: {len(result.completed)} completed, {len(result.failed)} "
        f"failed, {len(result.incomplete)} incomplete | pairs computed {result.pairs_computed}, "
        f"reused {result.pairs_reused} | {result.seconds:.1f}s"
    )
    print(f"report: {result.report_md}")
    print(f"summary: {result.summary_csv}")
    if result.wandb_dir:
        print(f"wandb: {result.wandb_dir}")
    if result.missing:  # written, but data were missing: say which, and exit 1
        for line in result.missing:
            print(f"xmsem.analyze: missing {line}", file=sys.stderr)
        print(f"xmsem.analyze: {len(result.missing)} snapshot file(s) missing (listed in report.md)",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _sanity(args: argparse.Namespace) -> int:
    """``--sanity``: layer identification and grounding of every (or each named) measure."""
    from pathlib import Path

    from xmsem.analysis.grounding import grounding
    from xmsem.analysis.sanity import layer_identification
    from xmsem.analysis.sanity_report import sanity_report

    out = Path(args.out) if args.out else Path(args.sweep_dir) / "analysis"
    kw = {"subspace_k": args.subspace_k, "slow_max_n": args.slow_max_n}
    try:
        rows = layer_identification(args.sweep_dir, args.metrics, **kw)
        grounded = grounding(args.sweep_dir, args.metrics, outputs=checkpoint_outputs(), **kw)
        paths = sanity_report(rows, out, figures=not args.no_figures, grounding=grounded)
    except (AnalysisError, ValueError) as err:
        print(f"xmsem.analyze: {err}", file=sys.stderr)
        return 2
    for r in rows:
        print(f"{r.dataset:10s} {r.arch:24s} {r.metric:22s} {r.accuracy:.3f} ({r.counted})")
    for g in grounded:
        rhos = " ".join(f"{k}={v:+.2f}" for k, v in g.rho.items())
        print(
            f"{g.dataset:10s} {g.arch:24s} {g.metric:22s} rho {rhos} ({g.pairs['accuracy']} pairs)"
        )
    print("written: " + ", ".join(str(p) for p in paths))
    return 0


def checkpoint_outputs():
    """``outputs(run, model, epoch, layer, h)`` of :func:`xmsem.analysis.grounding.grounding`:
    the logits of ``model`` on the probe set, its layers after ``layer`` run on the stored
    representation ``h`` with the weights of the run's ``checkpoints/last.ckpt``; None when the
    run has no such checkpoint or it holds another epoch than the snapshot's (the outputs would
    belong to other weights than the representations)."""
    import torch

    cohorts: dict = {}

    def cohort_of(run, epoch: int):
        key = (run.path, epoch)
        if key not in cohorts:
            cohorts[key] = None
            ckpt = run.path / "checkpoints" / "last.ckpt"
            if ckpt.is_file():  # only then the training stack (lightning) is imported
                from omegaconf import OmegaConf

                from xmsem.compare import epochs_in
                from xmsem.runs.safeload import load_plain
                from xmsem.train import build_cohort, build_datamodule

                state = load_plain(ckpt)
                if epochs_in(state) == epoch:
                    cfg = OmegaConf.load(run.path / ".hydra" / "config.yaml")
                    raw = build_datamodule(cfg).prepare()  # the dataset's shapes
                    cohort = build_cohort(cfg, raw.input_dim, raw.num_classes, raw.image_shape)
                    cohort.load_state_dict(state["state_dict"])
                    cohorts[key] = cohort.eval()
        return cohorts[key]

    def outputs(run, model: str, epoch: int, layer: str, h):
        cohort = cohort_of(run, epoch)
        if cohort is None:
            return None
        net = cohort.model(model)
        if not hasattr(net, "forward_from"):  # a network whose tail cannot be run from a layer
            return None
        dtype = next(net.parameters()).dtype
        with torch.no_grad():
            return net.forward_from(layer, h.to(dtype)).to(torch.float64)

    return outputs


if __name__ == "__main__":
    sys.exit(main())
