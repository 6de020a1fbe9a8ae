"""Graph-Laplacian and PCA band decomposition of alignment."""

from __future__ import annotations

import pytest
import torch

from xmsem.alignment import knn_graph_laplacian_eigs, spectral_alignment
from xmsem.alignment import spectral as spectral_mod

from ._data import randn


def _circle(n: int, seed: int = 0):
    t = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    t = 2 * torch.pi * t
    return t, torch.stack([torch.cos(t), torch.sin(t)], dim=1)


def test_iterative_solver_matches_dense_eigh():
    z = randn(400, 5, seed=1)
    m_op = spectral_mod._normalised_adjacency(z, 8)
    lap = torch.eye(400, dtype=torch.float64) - m_op.to_dense()
    ev, u = torch.linalg.eigh(lap)
    ev_it, u_it = spectral_mod._cheb_lowest(m_op.to_sparse_csr(), 24)
    assert torch.allclose(ev_it, ev[:24], atol=1e-10)
    assert float(ev[0]) == pytest.approx(0.0, abs=1e-12)
    gap_ok = float(ev[24] - ev[23]) > 1e-6
    if gap_ok:  # same invariant subspace: projectors agree
        p1, p2 = u[:, :24] @ u[:, :24].T, u_it @ u_it.T
        assert float((p1 - p2).abs().max()) < 1e-6


def test_graph_laplacian_of_a_circle_is_smooth_at_low_frequency():
    _, pts = _circle(300)
    ev, u = knn_graph_laplacian_eigs(pts, 6, 8)
    assert bool((ev[1:] >= ev[:-1] - 1e-12).all()) and float(ev[0]) == pytest.approx(0, abs=1e-10)
    # eigenvectors orthonormal; the lowest ones vary slowly along the circle
    assert torch.allclose(u.T @ u, torch.eye(8, dtype=torch.float64), atol=1e-10)
    assert float(ev[1]) < 0.01


def test_bands_separate_smooth_from_rough_signal():
    t, pts = _circle(400)
    smooth = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    rough = randn(400, 2, seed=3)
    x = torch.cat([smooth, rough], dim=1)
    y = torch.cat(
        [
            smooth @ torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64),
            randn(400, 2, seed=4),
        ],
        dim=1,
    )
    rows = spectral_alignment(pts, x, y, n_bands=4, k_neighbors=8, n_eigs=32)
    graph = [r for r in rows if r["basis"] == "graph"]
    pca = [r for r in rows if r["basis"] == "pca"]
    assert [r["band"] for r in graph] == [0, 1, 2, 3] and len(pca) == 4
    assert graph[0]["var_frac_x"] > 0.3  # smooth third of the variance (1 of 3) in band 0
    assert graph[0]["value"] > graph[-1]["value"]
    assert graph[0]["value"] > 0.9
    for r in rows:
        assert 0.0 <= r["var_frac_x"] <= 1.0 + 1e-12 and r["metric"] == "linear_cka"
    fx = sum(r["var_frac_x"] for r in pca)
    assert fx == pytest.approx(1.0, abs=1e-12)  # full rank 4 < n_eigs: all variance covered


def test_spectral_errors():
    x = randn(50, 3)
    with pytest.raises(ValueError, match="disagree"):
        spectral_alignment(x, x, x, fn="cka")
    with pytest.raises(ValueError, match="same n=50"):
        spectral_alignment(x[:40], x, x)
    with pytest.raises(ValueError, match="k_neighbors"):
        spectral_alignment(x, x, x, k_neighbors=50)


def test_spectral_rows_are_named_by_the_metric_that_made_them():
    """The label of a row and its number come from one registry entry: a name, or the
    registered function, give the same rows; a disagreeing pair or an unknown name is refused."""
    from xmsem.alignment import METRICS, linear_cka
    from xmsem.alignment.subspace import procrustes_distance

    gen = torch.Generator().manual_seed(2)
    inputs, x = torch.randn(60, 3, generator=gen), torch.randn(60, 5, generator=gen)
    y = x @ torch.randn(5, 4, generator=gen) + 0.5 * torch.randn(60, 4, generator=gen)
    kw = {"n_bands": 2, "k_neighbors": 5}
    by_name = spectral_alignment(inputs, x, y, metric="procrustes", **kw)
    by_fn = spectral_alignment(inputs, x, y, metric=procrustes_distance, **kw)
    cka = spectral_alignment(inputs, x, y, **kw)
    assert [r["metric"] for r in by_fn] == [r["metric"] for r in by_name] == ["procrustes"] * 4
    assert [r["value"] for r in by_fn] == [r["value"] for r in by_name]
    for p_row, c_row in zip(by_name, cka, strict=True):  # really Procrustes, not CKA relabelled
        assert c_row["metric"] == "linear_cka"
        assert p_row["value"] != pytest.approx(c_row["value"], abs=1e-6)
    assert METRICS["procrustes"].fn is procrustes_distance
    assert all(r["value"] >= 0.0 for r in by_name)  # a distance
    with pytest.raises(ValueError, match="disagree"):
        spectral_alignment(inputs, x, y, metric="procrustes", fn=linear_cka)
    with pytest.raises(ValueError, match="unknown metric 'cka'"):
        spectral_alignment(inputs, x, y, metric="cka")
    with pytest.raises(ValueError, match="not registered"):
        spectral_alignment(inputs, x, y, metric=lambda a, b: a.sum())
    with pytest.raises(ValueError, match="not two representations"):
        spectral_alignment(inputs, x, y, metric="stitching")


@pytest.mark.slow
def test_spectral_alignment_lowest_eigenvectors_at_n5000():
    """Above DENSE_MAX the lowest eigenvectors come from the sparse solver; the whole spectrum
    there is refused with a one-line error naming the way out."""
    inputs, x = randn(5000, 30, seed=5), randn(5000, 64, seed=6)
    y = x @ randn(64, 64, seed=7)
    rows = spectral_alignment(inputs, x, y, n_eigs=64)
    graph = [r for r in rows if r["basis"] == "graph"]
    assert len(graph) == 3 and graph[0]["eigval_lo"] == pytest.approx(0.0, abs=1e-6)
    assert all(0.0 <= r["value"] <= 1.0 for r in graph)
    with pytest.raises(ValueError, match="spectral_max_n"):
        spectral_alignment(inputs, x, y)


def test_whole_spectrum_bands_with_permutation_null():
    """Two representations that agree only in their smooth part (functions of the position on a
    circle that vary slowly along the kNN graph) and carry independent noise otherwise: the low
    band is aligned far above its permutation null, the high band is not."""
    t, pts = _circle(300)
    smooth = torch.stack([torch.cos(t), torch.sin(t), torch.cos(2 * t), torch.sin(2 * t)], 1)
    q = torch.linalg.qr(randn(4, 4, seed=5)).Q
    x = torch.cat([smooth, randn(300, 4, seed=6)], dim=1)
    y = torch.cat([smooth @ q, randn(300, 4, seed=7)], dim=1)
    rows = spectral_alignment(pts, x, y, n_bands=3, k_neighbors=8, n_perm=30, seed=1)
    graph = [r for r in rows if r["basis"] == "graph"]
    low, high = graph[0], graph[-1]
    assert len(graph) == 3 and high["eigval_hi"] > 1.0  # the whole spectrum, up to lambda_max
    assert low["eigval_lo"] == pytest.approx(0.0, abs=1e-10)
    assert low["value"] > low["null"] + 5 * low["null_sd"] and low["p_value"] == pytest.approx(
        1 / 31
    )
    assert high["value"] < low["value"] and high["p_value"] > 0.05
    assert abs(high["value"] - high["null"]) < 3 * high["null_sd"]
    with pytest.raises(ValueError, match="whole spectrum"):
        spectral_alignment(randn(1600, 2), randn(1600, 3), randn(1600, 3))


def _numpy_band_cka(u, x, y):
    """Linear CKA (Kornblith et al. 2019) of the explicit n x n projections U_b U_b^T X_c."""
    import numpy as np

    def cka(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        return np.linalg.norm(a.T @ b) ** 2 / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b))

    proj = u @ u.T
    return cka(proj @ (x - x.mean(0)), proj @ (y - y.mean(0)))


@pytest.mark.parametrize(("n_bands", "n_eigs"), [(3, None), (4, 90), (1, None)])
def test_band_cka_and_its_null_equal_the_explicit_projections(n_bands, n_eigs):
    """The band-coordinate route of linear CKA (exact, m_b x p work per band) gives the value,
    the permutation null and the p-value of CKA on the explicit n x n projections of each band
    with the rows of y permuted (numpy, the same permutations), to 1e-12; a precomputed
    ``graph`` gives the same rows."""
    import numpy as np

    from xmsem.alignment._permutation import permutations

    inputs = randn(240, 12, seed=1)
    x = torch.relu(inputs @ randn(12, 40, seed=2) + 0.3)
    y = torch.tanh(inputs @ randn(12, 30, seed=3)) + 0.1 * randn(240, 30, seed=4)
    rows = spectral_alignment(inputs, x, y, n_bands=n_bands, n_eigs=n_eigs, n_perm=6, seed=3)
    graph = spectral_mod.band_graph(inputs, 10, n_eigs)
    assert rows == spectral_alignment(
        inputs, x, y, n_bands=n_bands, n_eigs=n_eigs, n_perm=6, seed=3, graph=graph
    )
    u = graph[1].numpy()
    xn, yn = x.numpy(), y.numpy()
    perms = [p.numpy() for p in permutations(240, 6, 3, torch.device("cpu"))]
    bands = np.array_split(np.arange(u.shape[1]), n_bands)
    for row, idx in zip([r for r in rows if r["basis"] == "graph"], bands, strict=True):
        null = np.array([_numpy_band_cka(u[:, idx], xn, yn[p]) for p in perms])
        assert row["value"] == pytest.approx(_numpy_band_cka(u[:, idx], xn, yn), abs=1e-12)
        assert row["null"] == pytest.approx(null.mean(), abs=1e-12)
        assert row["null_sd"] == pytest.approx(null.std(ddof=1), abs=1e-12)
        assert row["p_value"] == pytest.approx((1 + (null >= row["value"]).sum()) / 7)
    with pytest.raises(ValueError, match="band_graph"):
        spectral_alignment(inputs, x, y, n_bands=n_bands, graph=(graph[0], graph[1][:, :5]))
