"""Live snapshots of a seed ensemble (issue 9): every copy is a model; members of the same copy get
every metric, copies of one member the cheap ones (all pairs, batched); a copy's rows equal those
of a plain run of the same networks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from xmsem.alignment import linear_cka, subspace_overlap
from xmsem.data.datamodule import ProbeSet
from xmsem.lit.representations import RepresentationCallback, logged_scalars
from xmsem.models.factory import build_model
from xmsem.snapshots import MeasureSettings
from xmsem.snapshots.store import stored_values

K, N, D_IN, CLASSES = 3, 96, 12, 4
LAYERS = ["h1", "h2"]
SETTINGS = MeasureSettings(subspace_k=3, rbf_max_n=64, probe_max_iter=30)


def split(name: str) -> tuple[str, int | None]:
    member, _, copy = name.rpartition(".")
    return (member, int(copy)) if copy.isdigit() and member else (name, None)


class StandInCohort:
    """The cohort contract: ``model_names``, ``hidden(model, x)``, ``model(name)``."""

    def __init__(self, nets: dict[str, torch.nn.Module]) -> None:
        self.members = nets  # the pre-ensemble tails lookup reads members[model]
        self.model_names = list(nets)

    def model(self, name: str) -> torch.nn.Module:
        return self.members[name]

    @torch.no_grad()
    def hidden(self, name: str, x: torch.Tensor) -> dict[str, torch.Tensor]:
        net = self.members[name].eval()
        return net(x, return_hidden=True)[1]


def nets(copies: int | None) -> dict[str, torch.nn.Module]:
    out = {}
    for member, arch in (("pgnn", "pgnn"), ("mlp", "mlp")):
        for k in range(copies or 1):
            torch.manual_seed(100 * k + len(member))
            spec = {"arch": arch, "hidden": [10, 10]}
            if arch == "pgnn":
                spec["corr_rank"] = 2
            out[member if copies is None else f"{member}.{k}"] = build_model(spec, D_IN, CLASSES)
    return out


def probe() -> ProbeSet:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D_IN, generator=g)
    return ProbeSet(torch.arange(N), x, (x[:, :2].sum(1) > 0).long() + 2 * (x[:, 2] > 0), None)


def rows_of(tmp_path: Path, models: dict[str, torch.nn.Module], seed_pairs: bool = True):
    cb = RepresentationCallback(
        tmp_path, datamodule=None, epochs=[0], layers={m: LAYERS for m in models},
        primary={m: "h2" for m in models}, settings=SETTINGS, storage_dtype="float64",
        latent_r2=False, heatmaps=False, seed_pairs=seed_pairs, split=split,
    )  # fmt: skip
    cb.probe = probe()
    cohort = StandInCohort(models)
    reps = stored_values(cb._hidden(cohort), "float64")
    return cb.compute_rows(cohort, reps, 0), reps


def by_pair(rows):
    out: dict[tuple, float] = {}
    for r in rows:
        out[(r["member_a"], r["member_b"], r["layer_a"], r["layer_b"], r["metric"])] = r["value"]
    return out


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    return rows_of(tmp_path_factory.mktemp("ens"), nets(K))


def test_seed_pairs_are_every_pair_of_copies_and_equal_the_pairwise_functions(ensemble):
    rows, reps = ensemble
    got = by_pair(rows)
    for member in ("pgnn", "mlp"):
        pairs = {(r["member_a"], r["member_b"]) for r in rows if r["metric"] == "linear_cka"
                 and split(r["member_a"])[0] == split(r["member_b"])[0] == member}  # fmt: skip
        assert pairs == {
            (f"{member}.{i}", f"{member}.{j}") for i in range(K) for j in range(i + 1, K)
        }
        for i in range(K):
            for j in range(i + 1, K):
                a, b = f"{member}.{i}", f"{member}.{j}"
                for layer in LAYERS:
                    x, y = reps[a][layer], reps[b][layer]
                    key = (a, b, layer, layer)
                    assert got[(*key, "linear_cka")] == pytest.approx(
                        float(linear_cka(x, y)), abs=1e-10
                    )
                    assert got[(*key, "linear_cka_debiased")] == pytest.approx(
                        float(linear_cka(x, y, debiased=True)), abs=1e-10
                    )
                    assert got[(*key, "subspace_overlap")] == pytest.approx(
                        float(subspace_overlap(x, y, 3).mean_cos2), abs=1e-10
                    )
                    # the costly metrics are only for members of the same copy
                    assert (*key, "rbf_cka") not in got
                    assert (a, b, "h2", "h2", "transfer_ratio") not in got


def test_costly_metrics_only_between_members_of_the_same_copy(ensemble):
    rows, _ = ensemble
    costly = {(r["member_a"], r["member_b"]) for r in rows if r["metric"] == "stitch_acc"}
    assert costly == {(f"pgnn.{k}", f"mlp.{k}") for k in range(K)} | {
        (f"mlp.{k}", f"pgnn.{k}") for k in range(K)
    }
    assert {(r["member_a"], r["member_b"]) for r in rows if r["metric"] == "rbf_cka"} == {
        (f"pgnn.{k}", f"mlp.{k}") for k in range(K)
    }


def test_a_copy_measures_exactly_like_a_plain_run_of_the_same_networks(ensemble, tmp_path):
    rows, _ = ensemble
    got = by_pair(rows)
    copies = nets(K)
    for k in range(K):
        plain, _ = rows_of(
            tmp_path / str(k), {"pgnn": copies[f"pgnn.{k}"], "mlp": copies[f"mlp.{k}"]}
        )
        rename = {"pgnn": f"pgnn.{k}", "mlp": f"mlp.{k}"}
        for (a, b, la, lb, metric), value in by_pair(plain).items():
            mine = got[(rename[a], rename[b], la, lb, metric)]
            assert mine == pytest.approx(value, abs=1e-10, nan_ok=True), (k, a, b, la, metric)


def test_member_rows_for_every_copy(ensemble):
    rows, reps = ensemble
    got = by_pair(rows)
    for model in reps:
        assert 0.0 <= got[(model, model, "h1", "h1", "probe_acc")] <= 1.0
        assert got[(model, model, "h2", "h2", "drift")] == pytest.approx(0.0, abs=1e-12)
        ref = float(linear_cka(reps[model]["h1"], reps[model]["h2"]))
        assert got[(model, model, "h1", "h2", "layer_cka")] == pytest.approx(ref, abs=1e-10)


def test_seed_pairs_off_and_plain_runs_have_none(tmp_path):
    rows, _ = rows_of(tmp_path / "off", nets(2), seed_pairs=False)
    assert not [r for r in rows if split(r["member_a"])[0] == split(r["member_b"])[0]
                and r["member_a"] != r["member_b"]]  # fmt: skip
    assert {r["member_a"] for r in rows if r["metric"] == "rbf_cka"} == {"pgnn.0", "pgnn.1"}


def test_loggers_get_the_mean_over_seed_pairs(ensemble):
    rows, _ = ensemble
    scalars = logged_scalars(rows, split)
    pgnn = [r["value"] for r in rows if r["metric"] == "linear_cka" and r["layer_a"] == "h1"
            and r["member_a"].startswith("pgnn.") and r["member_b"].startswith("pgnn.")]  # fmt: skip
    assert len(pgnn) == K * (K - 1) // 2
    assert scalars["seed/linear_cka/pgnn/h1"] == pytest.approx(sum(pgnn) / len(pgnn), abs=1e-15)
    assert "align/linear_cka/pgnn.0~mlp.0/h1" in scalars
    assert not any(name.startswith("align/") and "pgnn.0~pgnn.1" in name for name in scalars)
    assert all(math.isfinite(v) for v in scalars.values())
