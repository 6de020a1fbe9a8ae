"""RepresentationCallback: snapshots of every member's hidden layers on the fixed probe set at
chosen epochs, and live alignment between members, logged to every logger and to
``metrics/alignment.csv`` (long format: epoch, member_a, member_b, layer_a, layer_b, metric, value).

Epoch ``e`` means "after e epochs of training" (:mod:`xmsem.lit.epochs`); 0 is the network before
its first step. The last epoch trained is always snapshotted (``max_epochs``, or where early
stopping ended the run), whether or not it is in the list. Snapshots are taken in eval mode under
no_grad (train mode restored after). The epochs already done are part of the checkpoint
(``state_dict``), so a resumed run never snapshots an epoch twice.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig
from torch import Tensor

from xmsem.alignment import prepare
from xmsem.alignment.registry import trivially_one
from xmsem.config import to_plain
from xmsem.lit.checks import (  # noqa: F401  (validation lives there, importable without lightning)
    DEFAULT_EPOCHS,
    chosen_layers,
    representation_settings,
    snapshot_epochs,
    spec_layers,
    validate_representation_config,
)
from xmsem.lit.epochs import EPOCH_AXIS, after_fit, at_epoch_end, logger_step
from xmsem.lit.loggers import is_wandb, log_snapshot
from xmsem.runs.signals import raise_if_interrupted
from xmsem.snapshots import MeasureSettings, SnapshotStore, member_rows, pair_rows
from xmsem.snapshots.copies import group_copies, plan_pairs, prepare_copies, seed_pair_rows
from xmsem.snapshots.cost import SnapshotProgress, describe_cost, estimate, snapshot_pieces
from xmsem.snapshots.measure import (
    INPUT_KEY,
    RepCache,
    composite_specs,
    cross_layer_rows,
    layer_pairs,
)
from xmsem.snapshots.store import stored_values
from xmsem.snapshots.table import skip_row, write_rows, write_skipped

log = logging.getLogger(__name__)


def build_representation_callback(cfg: DictConfig, run_dir: Path, datamodule, cohort) -> Any:
    """The callback of ``cfg.callbacks.representations`` (None when disabled)."""
    rep = representation_settings(cfg)
    if rep is None:
        return None
    from xmsem.lit.cohort import split_model_name

    specs = to_plain(cfg.model)
    # one entry per model: the members, or every copy <member>.<k> of an ensemble
    owner = {name: split_model_name(name)[0] for name in cohort.model_names}
    layers = {name: chosen_layers(rep.layers, specs[m]) for name, m in owner.items()}
    primary = {
        name: chosen[-1] for name, chosen in layers.items()
    }  # each model's last listed layer
    return RepresentationCallback(
        run_dir=run_dir,
        datamodule=datamodule,
        epochs=snapshot_epochs(rep.epochs, int(cfg.trainer.max_epochs)),
        layers=layers,
        primary=primary,
        settings=MeasureSettings.of(rep),
        probe_size=rep.probe_size,
        storage_dtype=rep.storage_dtype,
        layer_cka=rep.layer_cka,
        drift=rep.drift,
        latent_r2=rep.latent_r2,
        heatmaps=rep.heatmaps,
        seed_pairs=rep.seed_pairs,
        pairs=rep.pairs,
        cross_layer_cka=rep.cross_layer_cka,
        split=split_model_name,
    )


# --------------------------------------------------------------------------- callback
class RepresentationCallback(L.Callback):
    """Snapshots + live alignment at the chosen epochs (see the module docstring)."""

    def __init__(
        self,
        run_dir: Path,
        datamodule,
        epochs: list[int],
        layers: dict[str, list[str]],
        primary: dict[str, str],
        settings: MeasureSettings,
        probe_size: int | None = None,
        storage_dtype: str = "float16",
        layer_cka: bool = True,
        drift: bool = True,
        latent_r2: bool = True,
        heatmaps: bool = True,
        seed_pairs: bool = True,
        split: Callable[[str], tuple[str, int | None]] | None = None,
        pairs: str = "last",
        cross_layer_cka: bool = True,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.datamodule = datamodule
        self.epochs = list(epochs)
        self.layers, self.primary = layers, primary
        # model name -> (member, copy): the copies of one member are measured together
        self.split = split or (lambda name: (name, None))
        self.groups = group_copies(self.layers, self.split)
        self.seed_pairs = seed_pairs
        self.settings = settings
        self.probe_size, self.storage_dtype = probe_size, storage_dtype
        self.layer_cka, self.drift, self.latent_r2, self.heatmaps = (
            layer_cka,
            drift,
            latent_r2,
            heatmaps,
        )
        self.pairs, self.cross_layer_cka = pairs, cross_layer_cka
        self._warned = False  # the cost warning is given once per process
        self.store = SnapshotStore(self.run_dir)
        self.done: list[int] = []
        self.seconds: dict[int, float] = {}
        self.probe = None
        self._skips_recorded = False
        self._reference: tuple[int, dict] | None = None
        self._inputs_prepared = None  # the probe inputs never change: centred once per run
        self._defined: set[str] = (
            set()
        )  # wandb metrics already plotted against epochs_trained  # (epoch, prepared layers) for drift

    # -- state (resume) ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"done": list(self.done), "seconds": dict(self.seconds)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.done = list(state_dict.get("done", []))
        self.seconds = dict(state_dict.get("seconds", {}))

    # -- hooks -------------------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or self.probe is not None:
            return
        self.probe = self.datamodule.probe_set(self.probe_size, trainer.strategy.root_device)
        meta = {"dataset": self.datamodule.prepare().name, "split_seed": self.datamodule.split_seed,
                "n_fit": self.probe.n_fit}  # fmt: skip
        self.store.save_probe(self.probe.indices, self.probe.y, self.probe.z, meta)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._announce_cost()
        if trainer.global_step > 0 or self.done:  # resumed: epoch 0 was handled by the first start
            return
        if 0 in self.epochs:
            self._snapshot(trainer, pl_module, 0)
        elif self.drift:  # the reference of the first snapshot's drift: the initial network
            self.store.save_epoch(0, self._hidden(pl_module), self.storage_dtype)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = at_epoch_end(trainer)
        if epoch in self.epochs and epoch not in self.done:
            self._snapshot(trainer, pl_module, epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The last epoch trained, when training ended before ``max_epochs`` (early stopping)."""
        epoch = after_fit(trainer)
        if epoch > 0 and epoch not in self.done:
            self._snapshot(trainer, pl_module, epoch)

    def cost(self, widths=None, n: int | None = None):
        """The estimated cost of this callback's snapshot plan (:mod:`xmsem.snapshots.cost`);
        with the layers' ``widths`` and ``n`` probe examples, its flops too."""
        return estimate(self.layers, self.split, self.settings, len(self.epochs), self.pairs,
                        self.seed_pairs, self.layer_cka, self.cross_layer_cka,
                        widths=widths, n=n)  # fmt: skip

    def _announce_cost(self) -> None:
        cost = self.cost()
        if cost.too_large():
            self._warned = True
            log.warning("xmsem: %s", cost.line())

    # -- work --------------------------------------------------------------------------------
    def _hidden(self, pl_module) -> dict[str, dict[str, torch.Tensor]]:
        """{model: {layer: (n, d)}}; the copies of a member in one batched pass when the cohort
        offers it (``hidden_copies``: {layer: (K, n, d)})."""
        reps = {}
        batched = getattr(pl_module, "hidden_copies", None)
        for member, models in self.groups.items():
            raise_if_interrupted()  # 1000 copies take seconds here too: stop between members
            if batched is not None and len(models) > 1:
                hidden = batched(member, self.probe.x)
                for k, model in enumerate(models):
                    reps[model] = {layer: hidden[layer][k].float() for layer in self.layers[model]}
                continue
            for model in models:
                hidden = pl_module.hidden(model, self.probe.x)
                reps[model] = {layer: hidden[layer].float() for layer in self.layers[model]}
        return {model: reps[model] for model in self.layers}

    def _stitch_skips(self, pl_module) -> dict[str, str]:
        """Members that cannot be stitched into, with the reason."""
        from xmsem.models import stitch_support

        reasons = {m: stitch_support(_network(pl_module, m)) for m in self.layers}
        return {m: reason for m, reason in reasons.items() if reason}

    def _tails(self, pl_module):
        skip = self._stitch_skips(pl_module)

        def for_member(member: str):
            net = _network(pl_module, member)

            def at(layer: str):
                def tail(h: torch.Tensor) -> torch.Tensor:
                    was = net.training
                    net.eval()
                    try:
                        with torch.no_grad():
                            return net.forward_from(layer, h.to(self.probe.x.device, torch.float32))
                    finally:
                        net.train(was)

                return tail, float(net.tail_lipschitz(layer))

            return at

        return {member: for_member(member) for member in self.layers if member not in skip}

    def compute_rows(self, pl_module, reps, epoch: int) -> list[dict[str, Any]]:
        """Every alignment row of this snapshot (pairs of members, then each member)."""
        s, probe = self.settings, self.probe
        labels, n_fit = probe.y, probe.n_fit
        # float64 once (a no-op for stored_values); every metric computes in float64
        reps = {m: {layer: t.double() for layer, t in layers.items()} for m, layers in reps.items()}
        bad = _non_finite(reps, epoch)
        if bad:  # measured on stand-in values so every row exists; the values are then NaN
            reps = {m: _stand_in(layers) if m in bad else layers for m, layers in reps.items()}
        cache = RepCache(labels, n_fit, s)
        if s.controls:  # CKA(input, h): the inputs' centring and self-terms, once per run
            if self._inputs_prepared is None:
                self._inputs_prepared = prepare(probe.x.reshape(len(probe.x), -1).double())
            cache.add_prepared(INPUT_KEY, self._inputs_prepared)
        names = list(self.layers)
        progress, pieces = self._progress(reps, epoch)
        # the copies of each member centred together; the cache serves views into the stacks
        stacks = prepare_copies(reps, self.groups, cache)
        progress.step("representations prepared", pieces["prepare"])
        rows: list[dict[str, Any]] = []
        tails = self._tails(pl_module) if composite_specs(s, "stitch") else None
        for a, b in plan_pairs(names, self.split):  # different members of the same copy
            raise_if_interrupted()  # SIGTERM/SIGINT: a long snapshot stops between its pieces
            pairs = layer_pairs(self.layers[a], self.layers[b], self.pairs)
            stitch = [(self.primary[a], self.primary[b])]
            new = pair_rows(a, b, reps[a], reps[b], pairs, labels, n_fit, s, tails=tails,
                            stitch_layers=stitch, inputs=probe.x, cache=cache)  # fmt: skip
            if self.cross_layer_cka:
                new += cross_layer_rows(a, b, reps[a], reps[b], cache)
            rows += _nan_rows(new) if a in bad or b in bad else new
            progress.step(f"{a} x {b}", pieces[(a, b)])
        if self.seed_pairs:  # copies of the same member: cheap metrics, all pairs batched
            rows += [dict(r, value=float("nan")) if r["member_a"] in bad or r["member_b"] in bad
                     else r for r in seed_pair_rows(stacks, self.groups, s, reps)]  # fmt: skip
        reference = self._drift_reference(epoch) if self.drift else None
        for member in names:
            raise_if_interrupted()
            previous = None
            if self.drift:  # epoch 0 is its own reference: drift 0
                previous = reps[member] if epoch == 0 else (reference or {}).get(member)
                if member in bad and previous is not None:
                    previous = reps[member]
            new = member_rows(
                member, reps[member], labels, n_fit, s, layer_cka=self.layer_cka, previous=previous,
                latents=probe.z if self.latent_r2 else None, cache=cache,
                inputs=probe.x if s.controls else None,
            )  # fmt: skip
            rows += _nan_rows(new) if member in bad else new
            progress.step(member, pieces[member])
        if self.drift:  # this snapshot is the next one's reference: keep its prepared layers
            self._reference = (epoch, {m: {layer: cache.prepared((m, layer), reps[m][layer])
                                           for layer in reps[m]} for m in names
                                       if m not in bad})  # fmt: skip
        for row in rows:
            row["epoch"] = epoch
        return rows

    def _progress(self, reps, epoch: int) -> tuple[SnapshotProgress, dict[Any, float]]:
        """The snapshot's cost estimate, by piece (:func:`xmsem.snapshots.cost.snapshot_pieces`),
        logged before it starts when it is more than a few seconds (a warning, once, when the
        plan with its widths is above a threshold), and its progress lines."""
        n = len(self.probe.y)
        widths = {(m, layer): int(t.shape[1]) for m, layers in reps.items()
                  for layer, t in layers.items()}  # fmt: skip
        pieces = snapshot_pieces(self.layers, self.split, widths, n, self.settings, self.pairs,
                                 self.cross_layer_cka)  # fmt: skip
        cost = self.cost(widths, n)
        if cost.too_large() and not self._warned:
            self._warned = True
            log.warning("xmsem: %s", cost.line())
        elif cost.seconds > 3.0:
            log.info("snapshot epoch %d: %s", epoch, describe_cost(cost.flops, widths, n))
        return SnapshotProgress(epoch, sum(pieces.values())), pieces

    def _drift_reference(self, epoch: int) -> dict[str, dict[str, Any]] | None:
        """The previous stored snapshot, prepared: kept from the last snapshot when it is the
        latest one on disk, read from disk otherwise (after a resume, or the initial network
        when epoch 0 is not a snapshot epoch). Both hold exactly the stored values, so a resumed
        run measures drift exactly as an uninterrupted one."""
        earlier = [e for e in self.store.epochs() if e < epoch]
        if not earlier:
            return None
        if self._reference is not None and self._reference[0] == max(earlier):
            return self._reference[1]
        stored = self.store.load_epoch(max(earlier))
        return {
            m: {layer: prepare(t) for layer, t in layers.items()} for m, layers in stored.items()
        }

    def skipped(self, pl_module) -> list[dict[str, str]]:
        """What this run does not measure, and why: stitching into members without a runnable
        tail, and pairs of models with no layer to compare under ``pairs``."""
        out: list[dict[str, str]] = []
        names = list(self.layers)
        stitched = composite_specs(self.settings, "stitch")
        no_tail = self._stitch_skips(pl_module) if stitched else {}
        for a, b in plan_pairs(names, self.split):
            if not layer_pairs(self.layers[a], self.layers[b], self.pairs):
                out.append(skip_row(a, b, "", "", "pairs", f"pairs={self.pairs}: no layer "
                           "name in common (use pairs=last or pairs=all)"))  # fmt: skip
            for m1, m2 in ((a, b), (b, a)):
                out += [skip_row(m1, m2, self.primary[m1], self.primary[m2], spec.name,
                                 no_tail[m2]) for spec in stitched if m2 in no_tail]  # fmt: skip
        return out

    def _record_skips(self, pl_module) -> None:
        skipped = self.skipped(pl_module)
        write_skipped(self.run_dir, skipped)
        for row in skipped:
            log.warning("skipped %s %s -> %s: %s", row["what"], row["member_a"], row["member_b"],
                        row["reason"])  # fmt: skip

    def _snapshot(self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: int) -> None:
        start = time.perf_counter()
        if not self._skips_recorded:
            self._record_skips(pl_module)
            self._skips_recorded = True
        with torch.no_grad():
            # every number is measured on the snapshot exactly as stored, so that the live
            # metrics, a resumed run and a later analysis of the files all agree
            reps = stored_values(self._hidden(pl_module), self.storage_dtype)
            raise_if_interrupted()
            # written synchronously: a background writer was measured slower on 2 cores
            self.store.save_epoch(epoch, reps, self.storage_dtype)
            rows = self.compute_rows(pl_module, reps, epoch)
        write_rows(self.run_dir, rows)
        self.done = sorted(set(self.done) | {epoch})
        seconds = time.perf_counter() - start
        self.seconds[epoch] = seconds
        scalars = logged_scalars(rows, self.split)
        scalars["time/representations_seconds"] = seconds
        scalars[EPOCH_AXIS] = scalars["epoch"] = epoch  # the loggers' one epoch convention
        step = logger_step(trainer)
        for lg in trainer.loggers:
            if not is_wandb(lg):
                lg.log_metrics(scalars, step=step)
                continue
            # the logger's own record of the keys plotted against epochs_trained, when it has one
            log_snapshot(lg.experiment, rows, scalars, epoch, step,
                         getattr(lg, "defined", self._defined),
                         list(self.layers) if self.heatmaps else [], self.primary)  # fmt: skip
        log.info("snapshot epoch %d: %d rows in %.2fs", epoch, len(rows), seconds)


def logged_scalars(
    rows: Iterable[Mapping[str, Any]], split: Callable[[str], tuple[str, int | None]]
) -> dict[str, float]:
    """The scalars sent to the loggers: one per row (:func:`scalar_name`), except a layer compared
    with itself (1 by construction; it stays a row of ``metrics/alignment.csv`` and of the
    heatmaps) and the rows of two copies of one member (seed vs seed), which are averaged over the pairs into
    ``seed/<metric>/<member>/<layer>`` -- 190 pairs x layers x metrics per member would swamp the
    loggers; every pair is in ``metrics/alignment.csv``."""
    scalars: dict[str, float] = {}
    seeds: dict[str, list[float]] = {}
    for row in rows:
        if trivially_one(row):  # a layer's CKA with itself is 1: a row, not a metric
            continue
        a, b = row["member_a"], row["member_b"]
        member = split(a)[0]
        if a != b and member == split(b)[0]:
            layer = row["layer_a"]
            seeds.setdefault(f"seed/{row['metric']}/{member}/{layer}", []).append(row["value"])
        else:
            scalars[scalar_name(row)] = row["value"]
    for name, values in seeds.items():  # NaN (a degenerate copy) propagates: it is not hidden
        scalars[name] = sum(values) / len(values)
    return scalars


def _network(pl_module, model: str):
    """The plain network of ``model`` (a member, or one copy of an ensemble member)."""
    get = getattr(pl_module, "model", None)
    return get(model) if callable(get) else pl_module.members[model]


def scalar_name(row: Mapping[str, Any]) -> str:
    """Logger name of a row: ``align/<metric>/<a>~<b>/<layer>`` for pairs of members,
    ``member/<metric>/<member>/<layer>`` for one member (layers joined by ``~`` when they differ)."""
    la, lb = row["layer_a"], row["layer_b"]
    layer = la if la == lb else f"{la}~{lb}"
    if row["member_a"] == row["member_b"]:
        return f"member/{row['metric']}/{row['member_a']}/{layer}"
    return f"align/{row['metric']}/{row['member_a']}~{row['member_b']}/{layer}"


def _non_finite(reps: dict[str, dict[str, Tensor]], epoch: int) -> set[str]:
    """Members with a NaN or infinite value in any layer (a diverged run), with a warning each."""
    bad = set()
    for member, layers in reps.items():
        # one float64 sum per layer: NaN or inf if any element is (float16/32 values cannot
        # overflow a float64 sum)
        if not all(bool(torch.isfinite(t.sum())) for t in layers.values()):
            bad.add(member)
            warnings.warn(
                f"epoch {epoch}: representations of {member} are not finite (diverged?); "
                "its alignment values are NaN",
                stacklevel=2,
            )
    return bad


def _stand_in(layers: dict[str, Tensor]) -> dict[str, Tensor]:
    """Finite random values of the same shapes (seeded), measured only for the rows' layout."""
    gen = torch.Generator().manual_seed(0)
    return {
        k: torch.randn(v.shape, generator=gen, dtype=v.dtype).to(v.device)
        for k, v in layers.items()
    }


def _nan_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r, value=float("nan")) for r in rows]
