"""Cross-run alignment from saved snapshots: seed vs seed within an architecture, and across
architectures with different seeds (seed i of A against seed i+1 mod S of B). A "seed" is a seed
unit, (run seed, copy): the K copies of an ``ensemble=K`` job are K seeds, exactly as K jobs.

Fast path for the linear metrics (the cost of a 20-seed sweep): each instance is loaded once per
(dataset, epoch, layer), centred in float64, and its ``||X^T X||_F^2``, row norms ``a_i =
||x_i||^2`` and top-k left singular vectors (from ``eigh(X^T X)``, re-orthonormalised) are
computed once. A pair then costs one ``X^T Y`` product:

* linear CKA = ``||X^T Y||_F^2 / (||X^T X||_F ||Y^T Y||_F)``,
* debiased linear CKA: HSIC_1 from ``||X^T Y||_F^2``, ``a.b``, ``sum a``, ``sum b``
  (:func:`xmsem.alignment.cka.debias_terms`, valid for centred inputs),
* subspace overlap = mean cos^2 of the singular values of ``U_x^T U_y`` (k x k).

These are the prepared fast paths of the registry (``MetricSpec.prepared``), the very operations
of :func:`xmsem.alignment.linear_cka` (feature-space form) and
:func:`xmsem.alignment.subspace_overlap`, so results agree to rounding; ``||X^T Y||_F^2`` comes
from one batched product per instance. Other registered "reps" metrics (rbf_cka, cca_r2,
procrustes, ...) are computed by the registry function on the first ``slow_max_n`` probe
examples.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from xmsem.alignment import METRICS, DegenerateInputWarning, Prepared, get_metric, prepare
from xmsem.alignment.registry import CROSS_PREFIX
from xmsem.analysis.cache import PairCache, snapshot_fingerprint
from xmsem.analysis.discovery import Run
from xmsem.snapshots.measure import MeasureSettings

log = logging.getLogger(__name__)

FAST_METRICS = tuple(name for name, spec in METRICS.items() if spec.prepared is not None)
DEFAULT_METRICS = ("linear_cka", "linear_cka_debiased", "subspace_overlap")


def stored_settings(runs: Iterable[Run]) -> MeasureSettings:
    """The measurement settings the runs stored (``callbacks.representations``: parameters of
    every metric, ``metric_params``, normalisation, ...), so the cross-run values use the
    choices the live ones did. Runs that stored different settings (other than which metrics
    they measured): the first run's, with a warning; none stored: the schema's defaults."""
    stored = [r.settings for r in runs if r.settings is not None]
    if not stored:
        return MeasureSettings()
    first = stored[0]
    differ = sorted({f.name for s in stored[1:] for f in dataclasses.fields(s)
                     if f.name != "metrics" and getattr(s, f.name) != getattr(first, f.name)})  # fmt: skip
    if differ:
        log.warning("runs stored different measurement settings (%s); the cross-run values use "
                    "the first run's", ", ".join(differ))  # fmt: skip
    return first


def cross_settings(
    k: int | None, slow_max_n: int = 2000, base: MeasureSettings | None = None
) -> MeasureSettings:
    """The measurement settings of the cross-run analysis: ``base`` (what the runs stored,
    :func:`stored_settings`; default the schema's defaults) with subspace ``k`` (None: base's)
    and every metric without a fast path on the first ``slow_max_n`` examples."""
    base = base or MeasureSettings()
    return dataclasses.replace(
        base,
        subspace_k=base.subspace_k if k is None else k,
        rbf_max_n=slow_max_n,
        spectral_max_n=slow_max_n,
        pairwise_max_n=slow_max_n,
    )


@dataclass(frozen=True)
class Instance:
    """A model instance: one model (a member, or copy ``copy`` of one) of one run."""

    run: Run
    member: str  # the model name: ``pgnn`` or ``pgnn.3``
    arch: str
    copy: int | None = None

    @property
    def seed(self) -> int | None:
        """The run's seed."""
        return self.run.seed

    @property
    def unit(self) -> tuple[int, int] | None:
        """The seed unit (run seed, copy); a plain member is copy 0 (initialised like copy 0 of
        an ensemble). None when the run's seed is unknown."""
        return None if self.run.seed is None else (self.run.seed, self.copy or 0)

    @property
    def label(self) -> str:
        return f"{self.run.name}:{self.member}"


def pair_values(
    sx: Prepared, sy: Prepared, metrics: Iterable[str], k: int | None, hxy: Tensor | None = None,
    settings: MeasureSettings | None = None,
) -> dict[str, float]:  # fmt: skip
    """The metrics with a prepared fast path between two prepared instances (NaN for degenerate
    input); ``hxy`` = ``||X^T Y||_F^2`` when already computed; ``settings``: those of
    :func:`cross_settings` (default: the schema's, with ``k``)."""
    settings = settings or cross_settings(k)
    shared = {} if hxy is None else {"frob2": hxy}
    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        for name in metrics:
            spec = get_metric(name)
            if spec.prepared is None:
                continue
            out[name] = spec.compute_prepared(sx, sy, settings, shared)
    return out


def slow_value(name: str, x: Tensor, y: Tensor, settings: MeasureSettings | None = None) -> float:
    """A registered "reps" metric that has no fast path, called directly."""
    spec = get_metric(name)
    if spec.inputs != "reps":
        raise ValueError(f"metric {name!r} needs more than two representations; not cross-run")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        return spec.compute(x, y, settings or MeasureSettings())


def check_metrics(metrics: Iterable[str]) -> tuple[str, ...]:
    """Validated cross-run metric names (registered metrics taking two representations)."""
    names = []
    for name in metrics:
        name = name.removeprefix(CROSS_PREFIX)
        try:
            spec = get_metric(name)
        except ValueError as err:
            raise ValueError(str(err)) from None
        if spec.inputs != "reps":
            raise ValueError(
                f"metric {name!r} cannot be computed across runs (needs {spec.inputs})"
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


# --------------------------------------------------------------------------- pair planning
def _unit_order(inst: Instance) -> tuple:
    return (inst.unit or (-1, -1), inst.label)


def seed_pairs(instances: list[Instance]) -> list[tuple[Instance, Instance]]:
    """Every pair of different seed units of one architecture (upper triangle): S(S-1)/2 for S
    units, e.g. 190 for 20 seeds or for the 20 copies of one ensemble job."""
    ordered = sorted(instances, key=_unit_order)
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :] if a.unit != b.unit]


def shifted_pairs(
    group_a: list[Instance], group_b: list[Instance]
) -> list[tuple[Instance, Instance]]:
    """Seed unit ``s_i`` of A with ``s_{(i+1) mod S}`` of B over their S common seed units (a
    different-seed baseline for cross-architecture alignment); empty when S < 2."""
    by_a = {i.unit: i for i in group_a}
    by_b = {i.unit: i for i in group_b}
    common = sorted(s for s in by_a if s in by_b and s is not None)
    if len(common) < 2:
        return []
    return [(by_a[s], by_b[common[(i + 1) % len(common)]]) for i, s in enumerate(common)]


def plan_pairs(
    groups: dict[str, list[Instance]],
) -> list[tuple[str, Instance, Instance]]:
    """(arch key, a, b) for the within-architecture and the shifted cross-architecture pairs.
    ``groups`` maps architecture -> instances, in the order the architectures first appear."""
    plan = []
    archs = list(groups)
    for arch in archs:
        plan += [(arch, a, b) for a, b in seed_pairs(groups[arch])]
    for i, arch_a in enumerate(archs):
        for arch_b in archs[i + 1 :]:
            key = f"{arch_a}~{arch_b}"
            plan += [(key, a, b) for a, b in shifted_pairs(groups[arch_a], groups[arch_b])]
    return plan


# --------------------------------------------------------------------------- computation
@dataclass
class CrossRunResult:
    rows: list[dict] = field(default_factory=list)
    pairs_computed: int = 0
    pairs_reused: int = 0


def _available(inst: Instance, cache_epochs: dict) -> dict[int, set[str]]:
    key = (inst.run.path, inst.member)
    if key not in cache_epochs:
        store = inst.run.store
        found = {}
        for epoch in store.epochs():
            manifest = store.manifest(epoch) or {}
            layers = (manifest.get("members") or {}).get(inst.member)
            folder = store.epoch_dir(epoch) / inst.member
            # a listed layer whose file is gone is left out here (and named by analysis.integrity)
            present = {layer for layer in layers or () if (folder / f"{layer}.pt").is_file()}
            if present:
                found[epoch] = present
        cache_epochs[key] = found
    return cache_epochs[key]


def cross_run_alignment(
    dataset: str,
    groups: dict[str, list[Instance]],
    metrics: tuple[str, ...],
    k: int | None,
    cache: PairCache,
    slow_max_n: int = 2000,
    progress: Callable[[str], None] | None = None,
) -> CrossRunResult:
    """Cross-run rows of one dataset, one (epoch, layer) at a time (bounded memory), with the
    measurement settings its runs stored (:func:`stored_settings`); ``k`` (subspace overlap)
    None: the stored one."""
    result = CrossRunResult()
    plan = plan_pairs(groups)
    if not plan:
        return result
    layouts: dict = {}
    units: dict[tuple[int, str], list[tuple[str, Instance, Instance]]] = {}
    for arch, a, b in plan:
        av, bv = _available(a, layouts), _available(b, layouts)
        for epoch in sorted(set(av) & set(bv)):
            for layer in sorted(av[epoch] & bv[epoch]):
                units.setdefault((epoch, layer), []).append((arch, a, b))
    settings = cross_settings(
        k, slow_max_n, stored_settings(i.run for g in groups.values() for i in g)
    )
    params = {
        m: get_metric(m).setting_key(settings)
        + ("" if get_metric(m).prepared else f";n={slow_max_n}")
        for m in metrics
    }
    for (epoch, layer), pairs in sorted(units.items()):
        involved = dict.fromkeys(inst for _, a, b in pairs for inst in (a, b))
        prints = {
            inst: snapshot_fingerprint(inst.run.store, epoch, inst.member, layer)
            for inst in involved
        }

        todo: list[tuple[str, Instance, Instance, dict[str, str]]] = []
        for arch, a, b in pairs:
            keys = {
                m: cache.key(
                    a.run.name,
                    a.member,
                    prints[a],
                    b.run.name,
                    b.member,
                    prints[b],
                    epoch,
                    layer,
                    m,
                    params[m],
                )
                for m in metrics
            }
            values = {m: cache.get(key) for m, key in keys.items()}
            if all(v is not None for v in values.values()):
                result.pairs_reused += 1
                result.rows += _rows(dataset, arch, epoch, layer, a, b, values)
            else:
                todo.append((arch, a, b, keys))
        if not todo:
            continue
        if progress:
            progress(f"{dataset} epoch {epoch} {layer}: {len(todo)} pairs")
        needed = list(dict.fromkeys(inst for _, a, b, _ in todo for inst in (a, b)))
        block = _Block.load(needed, epoch, layer, metrics, settings.subspace_k)
        values = block.pair_values([(a, b) for _, a, b, _ in todo], metrics, settings, slow_max_n)
        for (arch, a, b, keys), vals in zip(todo, values, strict=True):
            for m, key in keys.items():
                cache.put(key, vals[m])
            result.pairs_computed += 1
            result.rows += _rows(dataset, arch, epoch, layer, a, b, vals)
    return result


def _load_native(inst: Instance, epoch: int, layer: str) -> Tensor:
    """A snapshot in its stored dtype (SnapshotStore.load would convert it first)."""
    path = inst.run.store.epoch_dir(epoch) / inst.member / f"{layer}.pt"
    return torch.load(path, map_location="cpu", weights_only=True)


class _Block:
    """The centred snapshots of several instances side by side in one float64 matrix
    ``Z = [X_1 ... X_m]`` (n, sum of widths), so that one instance against many later ones is a
    single large ``X_i^T Z[:, later]`` product (far faster than many small ones)."""

    def __init__(
        self, z: Tensor, spans: dict[Instance, tuple[int, int]], stats: dict[Instance, Prepared]
    ) -> None:
        self.z, self.spans, self.stats = z, spans, stats

    @classmethod
    def load(
        cls, needed: list[Instance], epoch: int, layer: str, metrics: tuple[str, ...], k: int
    ) -> _Block:
        raw = {i: _load_native(i, epoch, layer) for i in needed}
        sizes = {x.shape[0] for x in raw.values()}
        if len(sizes) != 1:
            raise ValueError(
                f"epoch {epoch} {layer}: snapshots hold different numbers of "
                f"examples {sorted(sizes)}"
            )
        n = sizes.pop()
        z = torch.empty(n, sum(x.shape[1] for x in raw.values()), dtype=torch.float64)
        spans, stats, start = {}, {}, 0
        kk = k if "subspace_overlap" in metrics else None
        if kk is not None and any(kk > min(n - 1, x.shape[1]) for x in raw.values()):
            log.warning(
                "epoch %d %s: subspace k=%d exceeds a layer width or n-1; "
                "subspace overlap is NaN there",
                epoch,
                layer,
                kk,
            )
        for inst in needed:
            x = raw.pop(inst)
            stop = start + x.shape[1]
            view = z[:, start:stop]
            view.copy_(x)
            st = prepare(view)
            view.copy_(st.xc)  # keep one centred copy, inside the block
            st.xc = view
            spans[inst], stats[inst] = (start, stop), st
            start = stop
        return cls(z, spans, stats)

    def frob2(self, pairs: list[tuple[Instance, Instance]]) -> list[Tensor | None]:
        """``||X_a^T X_b||_F^2`` per pair, grouped by ``a`` into large products."""
        out: list[Tensor | None] = [None] * len(pairs)
        by_left: dict[Instance, list[int]] = {}
        for idx, (a, b) in enumerate(pairs):
            if not self.stats[a].degenerate and not self.stats[b].degenerate:
                by_left.setdefault(a, []).append(idx)
        for a, idxs in by_left.items():
            xa = self.stats[a].xc
            idxs.sort(key=lambda i: self.spans[pairs[i][1]][0])
            spans = [self.spans[pairs[i][1]] for i in idxs]
            contiguous = all(s[1] == t[0] for s, t in zip(spans, spans[1:], strict=False))
            if contiguous:
                prod = xa.T @ self.z[:, spans[0][0] : spans[-1][1]]
                for i, (lo, hi) in zip(idxs, spans, strict=True):
                    c = prod[:, lo - spans[0][0] : hi - spans[0][0]]
                    out[i] = (c * c).sum()
            else:
                for i, (lo, hi) in zip(idxs, spans, strict=True):
                    c = xa.T @ self.z[:, lo:hi]
                    out[i] = (c * c).sum()
        return out

    def pair_values(
        self,
        pairs: list[tuple[Instance, Instance]],
        metrics: tuple[str, ...],
        settings: MeasureSettings,
        slow_max_n: int,
    ) -> list[dict[str, float]]:
        """Every metric between each pair (settings of :func:`cross_settings`)."""
        fast = [m for m in metrics if get_metric(m).prepared is not None]
        k = settings.subspace_k
        need = any(get_metric(m).shares_frob2 for m in fast)
        frobs = self.frob2(pairs) if need else [None] * len(pairs)
        out = []
        for (a, b), hxy in zip(pairs, frobs, strict=True):
            sa, sb = self.stats[a], self.stats[b]
            values = pair_values(sa, sb, fast, k, hxy=hxy, settings=settings)
            for m in metrics:
                if m not in fast:
                    values[m] = (
                        float("nan")
                        if sa.degenerate or sb.degenerate
                        else slow_value(m, sa.xc[:slow_max_n], sb.xc[:slow_max_n], settings)
                    )
            out.append(values)
        return out


def _rows(
    dataset: str,
    arch: str,
    epoch: int,
    layer: str,
    a: Instance,
    b: Instance,
    values: dict[str, float],
) -> list[dict]:
    return [
        {
            "dataset": dataset,
            "arch": arch,
            "epoch": epoch,
            "layer": layer,
            "metric": CROSS_PREFIX + m,
            "value": v,
            "run_a": a.run.name,
            "member_a": a.member,
            "seed_a": a.seed,
            "copy_a": a.copy,
            "run_b": b.run.name,
            "member_b": b.member,
            "seed_b": b.seed,
            "copy_b": b.copy,
        }
        for m, v in values.items()
    ]
