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
  ``seed_pairs`` on: only the metrics with a fast path in the registry (``batched``: all pairs
  from batched products, e.g. linear CKA biased and debiased, subspace overlap; ``prepared``;
  or ``prepare`` / ``finish``: each copy's part once, then every pair) (:func:`seed_pair_rows`);
* different members of different copies are not compared live; the sweep analysis computes
  them (different-seed baselines) from the saved snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch
from torch import Tensor

from xmsem.alignment import METRICS, configured
from xmsem.alignment.batched import PreparedStack, prepare_stack
from xmsem.runs.signals import raise_if_interrupted
from xmsem.snapshots.measure import MeasureSettings, RepCache, Row, row

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
    representation in ``cache`` under (model, layer), after the per-stack work of the configured
    metrics (``MetricSpec.prepare_stack``: e.g. the top-k subspace bases of all copies from one
    batched ``eigh``)."""
    stacks: dict[tuple[str, str], PreparedStack] = {}
    per_stack = [spec for spec in configured(cache.s.metrics) if spec.prepare_stack is not None]
    for member, models in groups.items():
        layers = [la for la in reps[models[0]] if all(la in reps[m] for m in models)]
        for layer in layers:
            raise_if_interrupted()  # SIGTERM/SIGINT: a long snapshot stops between its pieces
            stack = prepare_stack([reps[m][layer] for m in models])
            views = [stack.prepared(i) for i in range(len(models))]
            for spec in per_stack:  # e.g. the subspace bases of all copies in one eigh
                spec.prepare_stack(stack, views, spec.kwargs(cache.s))
            for model, view in zip(models, views, strict=True):
                cache.add_prepared((model, layer), view)
            stacks[(member, layer)] = stack
    return stacks


def seed_pair_metrics(s: MeasureSettings) -> list[str]:
    """The metrics of ``s.metrics`` measured between copies: those with a fast path, unless
    their spec says otherwise (``between_copies``)."""
    out = []
    for m in s.metrics:
        spec = METRICS.get(m)
        fast = (spec.batched or spec.prepared or spec.prepare) is not None if spec else False
        if fast and spec.between_copies:
            out.append(m)
    return out


def _pair_matrix(name: str, stack: PreparedStack, raw: list[Tensor] | None, s: MeasureSettings,
                 shared: dict) -> Tensor | None:  # fmt: skip
    """The (K, K) values of metric ``name`` between the copies of one stack, or None when it is
    computed pair by pair from the stack's prepared views."""
    spec = METRICS[name]
    if spec.batched is not None:
        return spec.batched(stack, spec.kwargs(s), shared)
    if spec.prepare is None or raw is None:
        return None
    parts = [spec.prepare_one(x, s) for x in raw]  # each copy's own work once
    k = len(parts)
    out = torch.full((k, k), float("nan"), dtype=torch.float64, device=stack.xc.device)
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = spec.compute_finish(parts[i], parts[j], s)
    return out


def seed_pair_rows(
    stacks: Mapping[tuple[str, str], PreparedStack],
    groups: Mapping[str, list[str]],
    s: MeasureSettings,
    reps: Mapping[str, Mapping[str, Tensor]] | None = None,
) -> list[Row]:
    """Rows of every pair of copies i < j of each member at each layer, for the metrics of
    :func:`seed_pair_metrics` (member_a = ``pgnn.i``, member_b = ``pgnn.j``, layer_a = layer_b).
    A metric's ``batched`` path gives all pairs at once; ``prepare`` / ``finish`` (needs the raw
    ``reps``: model -> layer -> tensor) prepares each copy once; otherwise the ``prepared`` fast
    path runs pair by pair on the stack's views."""
    wanted = seed_pair_metrics(s)
    rows: list[Row] = []
    for (member, layer), stack in stacks.items():
        models = groups[member]
        if len(models) < 2 or not wanted:
            continue
        raise_if_interrupted()
        raw = None if reps is None else [reps[m][layer] for m in models]
        shared: dict = {}  # per-stack work shared between metrics (e.g. the cross products)
        values = {m: _pair_matrix(m, stack, raw, s, shared) for m in wanted}
        views = [stack.prepared(i) for i in range(len(models))]
        # python floats once per matrix: element-wise tensor indexing costs ~us per pair
        listed = {m: None if v is None else v.tolist() for m, v in values.items()}
        for i, a in enumerate(models):
            if i % 64 == 0:
                raise_if_interrupted()
            for j in range(i + 1, len(models)):
                for metric in wanted:
                    matrix, spec = listed[metric], METRICS[metric]
                    if matrix is not None:
                        value = float(matrix[i][j])
                    elif spec.prepared is not None:
                        value = spec.compute_prepared(views[i], views[j], s)
                    else:
                        continue  # prepare/finish without the raw representations
                    rows.append(row(a, models[j], layer, layer, metric, value))
    return rows
