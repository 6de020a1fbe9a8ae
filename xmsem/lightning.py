"""AlignmentCallback: xmsem's snapshots and alignment measurements inside ANY LightningModule.

The user names the submodules to compare (attribute paths of their LightningModule, e.g.
``"encoder"`` or ``"teacher.backbone"``) and, per submodule, the layers (module names inside it,
as ``dict(submodule.named_modules())`` lists them). At the chosen epochs the callback reads those
layers on a fixed probe set (eval mode, ``no_grad``, train mode restored) and computes the rows of
``xmsem.train``'s snapshot callback with the same code (:mod:`xmsem.snapshots.measure`): the
requested registry metrics for every pair of submodules and layer pairing, and per submodule the
layer x layer CKA matrix and the drift since the previous snapshot.

Epochs are "epochs trained": 0 is the network before its first step, e after e training
epochs; the last epoch trained is always measured (also when training stops early). Rows go to
``callback.rows``, every logger of the trainer (scalars named as in ``xmsem.train``:
``align/<metric>/<a>~<b>/<layer>``, ``member/<metric>/<module>/<layer>``, with ``epochs_trained``;
wandb plots them against ``epochs_trained``) and, with ``dirpath``, ``metrics/alignment.csv``
plus the snapshot files under ``reps/`` of that folder. Only global rank 0 measures.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor

from xmsem.lit.epochs import at_epoch_end, logger_step
from xmsem.snapshots.hidden import LayerReader, batch_inputs

__all__ = ["AlignmentCallback"]

log = logging.getLogger(__name__)


def _probe_tensors(probe: Any, size: int | None) -> tuple[Tensor, Tensor | None]:
    """``(inputs, labels or None)`` of the probe: a tensor, an ``(inputs, labels)`` pair, or an
    iterable of batches (the first ``size`` examples)."""
    if isinstance(probe, Tensor) or (
        isinstance(probe, (tuple, list)) and probe and isinstance(probe[0], Tensor)
    ):
        x, y = batch_inputs(probe)
        return (x[:size], None if y is None else y[:size]) if size else (x, y)
    xs, ys, n = [], [], 0
    for batch in probe:
        x, y = batch_inputs(batch)
        xs.append(x)
        ys.append(y)
        n += len(x)
        if size is not None and n >= size:
            break
    if not xs:
        raise ValueError("AlignmentCallback probe: the loader yielded no examples")
    labels = None if any(y is None for y in ys) else torch.cat(ys)
    x = torch.cat(xs)
    return (x[:size], None if labels is None else labels[:size]) if size else (x, labels)


class AlignmentCallback(L.Callback):
    """Snapshots and alignment of named submodules of any LightningModule (module doc).

    ``modules``: attribute paths of the submodules (a list), or ``{name: path}`` (``""`` = the
    LightningModule itself). ``layers``: ``{name: [layer, ...]}`` per submodule. ``probe``: the
    fixed examples every snapshot is taken on: a tensor, an ``(inputs, labels)`` pair or a loader
    (its first ``probe_size`` examples). ``epochs``: epochs trained to measure (default: every
    epoch, 0 included). ``metrics``: registry names (``linear_cka``, ``linear_cka_debiased``,
    ``rbf_cka``, ``subspace_overlap``, ``cca_r2``, ``procrustes``; ``probe_transfer`` when the
    probe has labels). ``pairs``: which layers of two submodules are compared (``all``,
    ``last``, ``same_name``). ``settings``: further measurement settings (``subspace_k``, ...).
    """

    def __init__(
        self,
        modules: Sequence[str] | Mapping[str, str],
        layers: Mapping[str, Sequence[str]],
        probe: Any,
        probe_size: int | None = 1000,
        epochs: Iterable[int] | None = None,
        metrics: Sequence[str] = ("linear_cka",),
        pairs: str = "all",
        layer_cka: bool = True,
        drift: bool = True,
        dirpath: str | Path | None = None,
        batch_size: int = 256,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        from xmsem.inmemory import COMPARE_METRICS
        from xmsem.snapshots.measure import PAIRINGS, MeasureSettings

        paths = dict(modules) if isinstance(modules, Mapping) else {m: m for m in modules}
        if not paths:
            raise ValueError("AlignmentCallback modules: name at least one submodule")
        missing = [name for name in paths if name not in layers]
        if missing:
            raise ValueError(
                f"AlignmentCallback layers: no layers for module {missing[0]!r}; give "
                f"layers={{{missing[0]!r}: [...]}} (module names inside it)"
            )
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        bad = [m for m in metrics if m not in COMPARE_METRICS]
        if bad:
            raise ValueError(
                f"AlignmentCallback metrics: {bad[0]!r} is not available; valid: "
                f"{', '.join(COMPARE_METRICS)}"
            )
        if pairs not in PAIRINGS:
            raise ValueError(f"AlignmentCallback pairs={pairs!r}; valid: {', '.join(PAIRINGS)}")
        self.paths = paths
        self.layers = {name: list(layers[name]) for name in paths}
        self.x, self.y = _probe_tensors(probe, probe_size)
        if "probe_transfer" in metrics and self.y is None:
            raise ValueError(
                "AlignmentCallback metrics: 'probe_transfer' needs a probe with labels "
                "(an (inputs, labels) pair or a loader of such batches)"
            )
        self.settings = MeasureSettings(**dict(settings or {}))
        self.settings.metrics, self.settings.controls = metrics, False
        self.epochs = None if epochs is None else sorted({int(e) for e in epochs})
        self.pairs, self.layer_cka, self.drift = pairs, layer_cka, drift
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.batch_size = int(batch_size)
        self.rows: list[dict[str, Any]] = []
        self.done: list[int] = []
        self.seconds: dict[int, float] = {}
        self._readers: dict[str, LayerReader] = {}
        self._previous: dict[str, dict[str, Any]] = {}
        self._last_trained: int | None = None
        self._defined: set[str] = set()

    # -- state (resume) ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"done": list(self.done)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.done = list(state_dict.get("done", []))

    # -- hooks -------------------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for name, path in self.paths.items():
            try:
                module = pl_module.get_submodule(path) if path else pl_module
            except AttributeError:
                children = [n for n, _ in pl_module.named_children()]
                raise ValueError(
                    f"AlignmentCallback modules: {type(pl_module).__name__} has no submodule "
                    f"{path!r}; its children: {', '.join(children)}"
                ) from None
            self._readers[name] = LayerReader(module, self.layers[name], f"layers[{name!r}]")

    def _wanted(self, epoch: int) -> bool:
        return (self.epochs is None or epoch in self.epochs) and epoch not in self.done

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step == 0 and self._wanted(0):
            self.snapshot(trainer, 0)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_trained = at_epoch_end(trainer)  # epochs trained so far
        if self._wanted(self._last_trained):
            self.snapshot(trainer, self._last_trained)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        last = self._last_trained
        if last is not None and last not in self.done:  # the last epoch is always measured
            self.snapshot(trainer, last)

    # -- work --------------------------------------------------------------------------------
    def read(self) -> dict[str, dict[str, Tensor]]:
        """``{module name: {layer: (n, d) float64}}`` on the probe inputs, now."""
        out: dict[str, dict[str, Tensor]] = {}
        for name, reader in self._readers.items():
            parts: dict[str, list[Tensor]] = {layer: [] for layer in reader.layers}
            for i in range(0, len(self.x), self.batch_size):
                for layer, h in reader(self.x[i : i + self.batch_size]).items():
                    parts[layer].append(h.double())
            out[name] = {layer: torch.cat(chunks) for layer, chunks in parts.items()}
        return out

    def measure(self, reps: Mapping[str, Mapping[str, Tensor]], epoch: int) -> list[dict]:
        """Every row of one snapshot: pairs of submodules, then each submodule."""
        from xmsem.snapshots.measure import RepCache, layer_pairs, member_rows, pair_rows

        s, n = self.settings, len(self.x)
        device = next(iter(next(iter(reps.values())).values())).device
        labels = self.y.to(device) if self.y is not None else torch.zeros(n, dtype=torch.long,
                                                                           device=device)  # fmt: skip
        n_fit = n // 2
        cache = RepCache(labels, n_fit, s)
        rows: list[dict[str, Any]] = []
        for a, b in itertools.combinations(reps, 2):
            pairs = layer_pairs(self.layers[a], self.layers[b], self.pairs)
            rows += pair_rows(a, b, reps[a], reps[b], pairs, labels, n_fit, s, cache=cache)
        for name, layers in reps.items():
            previous = self._previous.get(name) if self.drift else None
            rows += member_rows(name, layers, labels, n_fit, s, layer_cka=self.layer_cka,
                                previous=previous, cache=cache)  # fmt: skip
        if self.drift:  # kept prepared for the next snapshot's drift
            self._previous = {m: {layer: cache.prepared((m, layer), t) for layer, t in ls.items()}
                              for m, ls in reps.items()}  # fmt: skip
        for row in rows:
            row["epoch"] = epoch
        return rows

    def snapshot(self, trainer: L.Trainer, epoch: int) -> list[dict[str, Any]]:
        """Measure now, as epoch ``epoch`` (epochs trained); log and store the rows."""
        if not trainer.is_global_zero:
            return []
        start = time.perf_counter()
        reps = self.read()
        rows = self.measure(reps, epoch)
        if self.dirpath is not None:
            from xmsem.snapshots import SnapshotStore
            from xmsem.snapshots.table import write_rows

            SnapshotStore(self.dirpath).save_epoch(epoch, reps, "float32")
            write_rows(self.dirpath, rows)
        self.rows += rows
        self.done = sorted(set(self.done) | {epoch})
        self.seconds[epoch] = time.perf_counter() - start
        self._log(trainer, rows, epoch)
        log.info("alignment snapshot epoch %d: %d rows in %.2fs", epoch, len(rows),
                 self.seconds[epoch])  # fmt: skip
        return rows

    def _log(self, trainer: L.Trainer, rows: list[dict[str, Any]], epoch: int) -> None:
        from xmsem.alignment.registry import trivially_one
        from xmsem.lit.epochs import EPOCH_AXIS
        from xmsem.lit.loggers import define_epoch_axis, is_wandb
        from xmsem.lit.representations import scalar_name

        # a layer against itself (always 1) is not a measurement
        scalars = {scalar_name(r): r["value"] for r in rows if not trivially_one(r)}
        for lg in trainer.loggers:
            if not is_wandb(lg):
                lg.log_metrics({**scalars, EPOCH_AXIS: epoch}, step=logger_step(trainer))
        for run in (lg.experiment for lg in trainer.loggers if is_wandb(lg)):
            define_epoch_axis(run, scalars, self._defined)
            run.log({**scalars, EPOCH_AXIS: epoch})
