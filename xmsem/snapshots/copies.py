"""Snapshot work over the copies of a seed ensemble (``ensemble=K``: models ``<member>.<k>``).

Every copy is a model like any other, but the K copies of one member are prepared together: per
(member, layer) the K representations are stacked and centred at once
(:func:`xmsem.alignment.batched.prepare_stack`), and the :class:`~xmsem.snapshots.measure.RepCache`
serves each copy's prepared representation as a view into that stack, so the pairwise and
per-model rows (:func:`~xmsem.snapshots.measure.pair_rows`, ``member_rows``) pay nothing again.

Which pairs a snapshot compares (:func:`plan_pairs`):

* members of the SAME copy (``pgnn.k`` vs ``mlp.k``; with K = 1 the plain members): every
  configured metric, probe transfer, stitching and RBF CKA included -- the paired
  cross-architecture comparison, identical data order and copy index;
* copies of the SAME member (``pgnn.i`` vs ``pgnn.j``, i < j: K(K-1)/2 pairs), with
  ``seed_pairs`` on: only the cheap metrics, those with a prepared fast path in the registry
  (linear CKA biased and debiased, subspace overlap), all pairs from batched products
  (:func:`seed_pair_rows`);
* different members of different copies are not compared live; the sweep analysis computes
  them (different-seed baselines) from the saved snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from torch import Tensor

from xmsem.alignment import METRICS
from xmsem.alignment.batched import (
    PreparedStack,
    linear_cka_stack,
    prepare_stack,
    subspace_overlap_stack,
)
from xmsem.runs.signals import raise_if_interrupted
from xmsem.snapshots.measure import MeasureSettings, RepCache, Row, _row

BATCHED = ("linear_cka", "linear_cka_debiased", "subspace_overlap")  # all pairs at once here
Split = Callable[[str], tuple[str, "int | None"]]


def group_copies(models: Iterable[str], split: Split) -> dict[str, list[str]]:
    """member -> its models in copy order (``pgnn`` -> [pgnn.0, pgnn.1, ...]; [pgnn] alone)."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for model in models:
        member, copy = split(model)
        groups.setdefault(member, []).append((copy or 0, model))
    return {member: [m for _, m in sorted(items)] for member, items in groups.items()}


def plan_pairs(models: list[str], split: Split) -> list[tuple[str, str]]:
    """The (a, b) pairs of models that get every metric: different members, same copy, in the
    order of ``models``."""
    out = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            (ma, ka), (mb, kb) = split(a), split(b)
            if ma != mb and ka == kb:
                out.append((a, b))
    return out


def prepare_copies(
    reps: Mapping[str, Mapping[str, Tensor]], groups: Mapping[str, list[str]], cache: RepCache
) -> dict[tuple[str, str], PreparedStack]:
    """(member, layer) -> the prepared stack of its copies; registers every copy's prepared
    representation in ``cache`` under (model, layer), with its top-k subspace basis (one batched
    ``eigh`` per stack) when subspace overlap is measured."""
    stacks: dict[tuple[str, str], PreparedStack] = {}
    k = cache.s.subspace_k
    for member, models in groups.items():
        layers = [la for la in reps[models[0]] if all(la in reps[m] for m in models)]
        for layer in layers:
            raise_if_interrupted()  # SIGTERM/SIGINT: a long snapshot stops between its pieces
            stack = prepare_stack([reps[m][layer] for m in models])
            views = [stack.prepared(i) for i in range(len(models))]
            usable = 1 <= k <= min(stack.n - 1, stack.xc.shape[2])
            if "subspace_overlap" in cache.s.metrics and usable:
                for view, u, low in zip(views, *stack.bases(k), strict=True):
                    view._bases[k] = None if bool(low) else u
            for model, view in zip(models, views, strict=True):
                cache.add_prepared((model, layer), view)
            stacks[(member, layer)] = stack
    return stacks


def seed_pair_metrics(s: MeasureSettings) -> list[str]:
    """The metrics of ``s.metrics`` measured between copies: those with a prepared fast path."""
    return [m for m in s.metrics if m in METRICS and METRICS[m].prepared is not None]


def seed_pair_rows(
    stacks: Mapping[tuple[str, str], PreparedStack],
    groups: Mapping[str, list[str]],
    s: MeasureSettings,
) -> list[Row]:
    """Rows of every pair of copies i < j of each member at each layer, for the metrics of
    :func:`seed_pair_metrics` (member_a = ``pgnn.i``, member_b = ``pgnn.j``, layer_a = layer_b).
    Linear CKA and subspace overlap come from the batched all-pairs functions; another metric
    with a prepared fast path, pair by pair from the stack's views."""
    wanted = seed_pair_metrics(s)
    rows: list[Row] = []
    for (member, layer), stack in stacks.items():
        models = groups[member]
        if len(models) < 2 or not wanted:
            continue
        values: dict[str, Tensor | None] = {}
        if "linear_cka" in wanted or "linear_cka_debiased" in wanted:
            values["linear_cka"], values["linear_cka_debiased"] = linear_cka_stack(stack)
        if "subspace_overlap" in wanted:
            k = s.subspace_k
            usable = 1 <= k <= min(stack.n - 1, stack.xc.shape[2])
            values["subspace_overlap"] = subspace_overlap_stack(stack, k) if usable else None
        raise_if_interrupted()
        views = [stack.prepared(i) for i in range(len(models))]
        # python floats once per matrix: element-wise tensor indexing costs ~us per pair
        listed = {m: None if v is None else v.tolist() for m, v in values.items()}
        for i, a in enumerate(models):
            if i % 64 == 0:
                raise_if_interrupted()
            for j in range(i + 1, len(models)):
                for metric in wanted:
                    if metric in BATCHED:
                        matrix = listed[metric]
                        value = float("nan") if matrix is None else float(matrix[i][j])
                    else:
                        value = METRICS[metric].compute_prepared(views[i], views[j], s)
                    rows.append(_row(a, models[j], layer, layer, metric, value))
    return rows
