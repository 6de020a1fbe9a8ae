"""CKA over data that arrive in batches.

* :class:`StreamingLinearCKA` -- the *exact* full-data linear CKA (biased, or debiased with
  ``debiased=True``), from sufficient statistics accumulated in float64. Memory is
  O(p^2 + q^2 + pq), independent of n; the result equals :func:`linear_cka` on the concatenated
  data to rounding, at any batch size. Centring uses the final means: with the shifted data
  ``x' = x - s`` (``s`` = mean of the first batch, which keeps the uncentred sums well
  conditioned; CKA is translation invariant) we accumulate ``n``, ``sum x'``, ``X'^T X'``,
  ``X'^T Y'``, ``Y'^T Y'`` and get the centred co-moments ``S_xy = X'^T Y' - n m_x m_y^T``. For the
  debiased estimator we also need ``sum_i ||x_i - m||^2 ||y_i - m_y||^2``, which expands into
  accumulated ``sum r_i s_i``, ``sum r_i y'_i``, ``sum s_i x'_i``, ``sum r_i``
  (``r_i = ||x'_i||^2``, ``s_i = ||y'_i||^2``), see :func:`_sum_ab`.
* :class:`MinibatchCKA` -- Nguyen, Raghu & Kornblith (2021, "Do Wide and Deep Networks Learn
  the Same Things?", ICLR; arXiv 2010.15327, eq. 3): per batch the unbiased HSIC_1 terms of Song
  et al. (2012) are computed and *summed*; one division at the end::

      CKA_mb = sum_b HSIC_1(K_b, L_b) / sqrt(sum_b HSIC_1(K_b, K_b) * sum_b HSIC_1(L_b, L_b))

  Because each HSIC_1 is unbiased, the sums estimate the full-data quantities without the
  small-batch bias that an average of per-batch CKA values carries. Range [-1, 1] (Cauchy-
  Schwarz in the U-centred inner product); each batch needs >= 4 examples.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import (
    all_finite,
    check_pair,
    cosine_ratio,
    is_constant,
    nan_like,
    nonfinite,
    warn_degenerate,
)
from .cka import (
    _linear_terms_feature,
    _linear_terms_gram,
    centre,
    debias_terms,
    hsic_unbiased,
    rbf_gram,
)

__all__ = ["StreamingLinearCKA", "MinibatchCKA"]


def _sum_ab(
    rr: Tensor,
    r_v: Tensor,
    s_u: Tensor,
    sum_ru: Tensor,
    sum_rv: Tensor,
    c_uv: Tensor,
    m: Tensor,
    w: Tensor,
    n: int,
) -> Tensor:
    """``sum_i ||u_i - m||^2 ||v_i - w||^2`` from accumulated raw sums (m, w: the means of u, v).

    With ``r_i = ||u_i||^2``, ``t_i = ||v_i||^2``: ``rr = sum r_i t_i``, ``r_v = sum r_i v_i``,
    ``s_u = sum t_i u_i``, ``sum_ru = sum r_i``, ``sum_rv = sum t_i``, ``c_uv = U^T V``::

        sum r t - 2 r_v.w - 2 s_u.m + |w|^2 sum r + |m|^2 sum t + 4 m^T C_uv w - 3 n |m|^2 |w|^2
    """
    mm = m @ m
    ww = w @ w
    return (
        rr
        - 2.0 * (r_v @ w)
        - 2.0 * (s_u @ m)
        + ww * sum_ru
        + mm * sum_rv
        + 4.0 * (m @ (c_uv @ w))
        - 3.0 * n * mm * ww
    )


class StreamingLinearCKA:
    """Exact linear CKA accumulated over batches; memory independent of the number of examples.

    ``update(x, y)`` with x (b, p), y (b, q) for any batch size b >= 1 (widths fixed by the first
    batch); ``compute()`` returns the 0-d float64 CKA of all examples seen, equal to
    ``linear_cka(cat(xs), cat(ys), debiased)`` to rounding (see module doc for the statistics).
    NaN/inf in any batch -> ``compute()`` gives NaN with a warning.
    """

    def __init__(self, debiased: bool = False) -> None:
        self.debiased = debiased
        self.reset()

    def reset(self) -> None:
        """Forget all accumulated data."""
        self.n = 0
        self._bad = False
        self._shape: tuple[int, int, torch.device] | None = None
        self._s: dict[str, Tensor] = {}

    def update(self, x: Tensor, y: Tensor) -> None:
        """Add a batch of paired representations (rows are examples)."""
        x, y = check_pair(x, y, min_n=1)
        # Widths and device are fixed by the first batch even when it is discarded as
        # non-finite (the shift state then comes from the first finite batch).
        if self._shape is None:
            self._shape = (x.shape[1], y.shape[1], x.device)
        p, q, dev = self._shape
        if x.shape[1] != p or y.shape[1] != q:
            raise ValueError(
                f"batch widths must stay fixed: expected x (*, {p}) and y (*, {q}), got "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        if x.device != dev:
            raise ValueError(f"batches must stay on device {dev}, got {x.device}")
        if not all_finite(x, y):
            self._bad = True
            self.n += x.shape[0]
            return
        if self._bad:  # the result is NaN anyway: skip the work
            self.n += x.shape[0]
            return
        if "shift_x" not in self._s:
            self._init_state(x, y)
        s = self._s
        xs = x - s["shift_x"]
        ys = y - s["shift_y"]
        add_moments(s, xs, ys, x, y, self.debiased)
        self.n += x.shape[0]

    def _init_state(self, x: Tensor, y: Tensor) -> None:
        z = {"dtype": torch.float64, "device": x.device}
        shapes = moment_shapes(x.shape[1], y.shape[1], self.debiased)
        self._s = {"shift_x": x.mean(dim=0), "shift_y": y.mean(dim=0)}
        self._s.update({name: torch.zeros(shape, **z) for name, shape in shapes.items()})

    def compute(self) -> Tensor:
        """CKA of all examples seen so far (0-d float64 tensor)."""
        what = "StreamingLinearCKA" + ("(debiased)" if self.debiased else "")
        min_n = 4 if self.debiased else 2
        if self.n < min_n:
            raise ValueError(f"{what}.compute() needs n >= {min_n} examples, got n={self.n}")
        if self._bad or "shift_x" not in self._s:
            warn_degenerate(what, "input contained NaN or inf")
            dev = self._shape[2] if self._shape is not None else None
            return torch.full((), float("nan"), dtype=torch.float64, device=dev)
        return linear_cka_from_moments(self._s, self.n, self.debiased, what)


def linear_cka_from_moments(s: dict[str, Tensor], n: int, debiased: bool, what: str) -> Tensor:
    """Linear CKA (biased, or debiased) of n examples from their accumulated moments (module
    doc): ``sum_x``, ``sum_y``, ``cxx = X'^T X'``, ``cyy``, ``cxy`` of the shifted data and
    ``raw_norm2`` (the unshifted ``||X||_F^2, ||Y||_F^2``, for the constant check); with
    ``debiased`` also ``r_t``, ``r_x``, ``r_y``, ``t_x``, ``t_y``. A constant side gives NaN
    with a warning."""
    mx, my = s["sum_x"] / n, s["sum_y"] / n
    sxx = s["cxx"] - n * torch.outer(mx, mx)
    syy = s["cyy"] - n * torch.outer(my, my)
    sxy = s["cxy"] - n * torch.outer(mx, my)
    eps = torch.finfo(torch.float64).eps
    for tr, raw in ((sxx.trace(), s["raw_norm2"][0]), (syy.trace(), s["raw_norm2"][1])):
        if bool(tr <= (8 * n * eps) ** 2 * raw):
            warn_degenerate(what, "a representation is constant (all examples identical)")
            return nan_like(sxx)
    hxy, hxx, hyy = (sxy * sxy).sum(), (sxx * sxx).sum(), (syy * syy).sum()
    if not debiased:
        return cosine_ratio(hxy, hxx, hyy, what)
    rt, rr, tt, sum_r, sum_t = s["r_t"].unbind()
    ab_xy = _sum_ab(rt, s["r_y"], s["t_x"], sum_r, sum_t, s["cxy"], mx, my, n)
    ab_xx = _sum_ab(rr, s["r_x"], s["r_x"], sum_r, sum_r, s["cxx"], mx, mx, n)
    ab_yy = _sum_ab(tt, s["t_y"], s["t_y"], sum_t, sum_t, s["cyy"], my, my, n)
    tx, ty = sxx.trace(), syy.trace()
    return cosine_ratio(
        debias_terms(hxy, ab_xy, tx, ty, n),
        debias_terms(hxx, ab_xx, tx, tx, n),
        debias_terms(hyy, ab_yy, ty, ty, n),
        what,
        lo=-1.0,
    )


def add_moments(s: dict[str, Tensor], xs: Tensor, ys: Tensor, x: Tensor, y: Tensor,
                debiased: bool) -> None:  # fmt: skip
    """Add one batch to the moments ``s`` in place: ``xs``, ``ys`` the shifted batch (float64),
    ``x``, ``y`` the batch as given (for ``raw_norm2``)."""
    s["raw_norm2"] += torch.stack([(x * x).sum(), (y * y).sum()]).to(s["raw_norm2"].dtype)
    s["sum_x"] += xs.sum(dim=0)
    s["sum_y"] += ys.sum(dim=0)
    s["cxx"] += xs.T @ xs
    s["cyy"] += ys.T @ ys
    s["cxy"] += xs.T @ ys
    if debiased:
        r = (xs * xs).sum(dim=1)
        t = (ys * ys).sum(dim=1)
        s["r_t"] += torch.stack([r @ t, r @ r, t @ t, r.sum(), t.sum()])
        s["r_x"] += r @ xs
        s["r_y"] += r @ ys
        s["t_x"] += t @ xs
        s["t_y"] += t @ ys


def moment_shapes(p: int, q: int, debiased: bool) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every moment :func:`add_moments` accumulates (widths p, q)."""
    shapes = {"raw_norm2": (2,), "sum_x": (p,), "sum_y": (q,), "cxx": (p, p), "cyy": (q, q),
              "cxy": (p, q)}  # fmt: skip
    if debiased:
        shapes.update(r_t=(5,), r_x=(p,), r_y=(q,), t_x=(p,), t_y=(q,))
    return shapes


class MinibatchCKA:
    """Minibatch CKA of Nguyen, Raghu & Kornblith (2021): summed unbiased HSIC, one division.

    ``kernel`` is ``"linear"`` or ``"rbf"`` (bandwidth from each batch's median, see
    :func:`rbf_cka`, scaled by ``threshold``). Batches must hold >= 4 examples (ValueError
    otherwise). A batch in which a representation is constant contributes zero; if every batch
    is, or any batch held NaN/inf, ``compute()`` returns NaN with a warning.
    """

    def __init__(self, kernel: str = "linear", threshold: float = 1.0) -> None:
        if kernel not in ("linear", "rbf"):
            raise ValueError(f"kernel must be 'linear' or 'rbf', got {kernel!r}")
        if not (isinstance(threshold, (int, float)) and 0 < threshold < float("inf")):
            raise ValueError(f"threshold must be a positive finite number, got {threshold!r}")
        self.kernel = kernel
        self.threshold = float(threshold)
        self.reset()

    def reset(self) -> None:
        """Forget all accumulated batches."""
        self.n = 0
        self.n_batches = 0
        self._bad = False
        self._sums: Tensor | None = None
        self._device: torch.device | None = None

    def update(self, x: Tensor, y: Tensor) -> None:
        """Add one batch (>= 4 paired examples)."""
        x, y = check_pair(x, y, min_n=4)
        self.n += x.shape[0]
        self.n_batches += 1
        self._device = x.device
        if nonfinite(x, y, what="MinibatchCKA"):
            self._bad = True
            return
        h = minibatch_terms(x, y, self.kernel, self.threshold)
        if h is None:
            self._bad = True
            return
        self._sums = h if self._sums is None else self._sums + h

    def compute(self) -> Tensor:
        """The accumulated CKA estimate (0-d float64 tensor, in [-1, 1])."""
        if self.n_batches == 0:
            raise ValueError("MinibatchCKA.compute() called before any update()")
        if self._bad or self._sums is None:
            warn_degenerate("MinibatchCKA", "a batch contained NaN/inf or an undefined bandwidth")
            return torch.full((), float("nan"), dtype=torch.float64, device=self._device)
        return minibatch_cka_from_sums(self._sums)


def minibatch_terms(x: Tensor, y: Tensor, kernel: str, threshold: float) -> Tensor | None:
    """``(HSIC_1(K, L), HSIC_1(K, K), HSIC_1(L, L))`` of one batch (float64, (3,)); a constant
    side contributes zeros; None when the RBF bandwidth is undefined. ``x``, ``y``: finite,
    checked pairs (>= 4 rows)."""
    xc, yc = centre(x), centre(y)
    const_x, const_y = is_constant(x, xc), is_constant(y, yc)
    if kernel == "linear":
        n, p, q = xc.shape[0], xc.shape[1], yc.shape[1]
        terms = _linear_terms_feature if n > p + q else _linear_terms_gram
        hxy, hxx, hyy = terms(xc, yc, True)
    else:
        k = None if const_x else rbf_gram(x, threshold)
        l = None if const_y else rbf_gram(y, threshold)
        if (k is None and not const_x) or (l is None and not const_y):
            return None
        zero = torch.zeros((), dtype=torch.float64, device=x.device)
        hxx = zero if k is None else hsic_unbiased(k, k)
        hyy = zero if l is None else hsic_unbiased(l, l)
        hxy = zero if k is None or l is None else hsic_unbiased(k, l)
    h = torch.stack([hxy, hxx, hyy])
    if const_x:
        h[0] = h[1] = 0.0
    if const_y:
        h[0] = h[2] = 0.0
    return h


def minibatch_cka_from_sums(sums: Tensor) -> Tensor:
    """Minibatch CKA from the summed ``(HSIC_1(K, L), HSIC_1(K, K), HSIC_1(L, L))`` (module doc);
    NaN with a warning when a side was constant in every batch."""
    hxy, hxx, hyy = sums.unbind()
    if bool(hxx <= 0) or bool(hyy <= 0):
        warn_degenerate("MinibatchCKA", "a representation is constant in every batch")
        return nan_like(hxy)
    return cosine_ratio(hxy, hxx, hyy, "MinibatchCKA", lo=-1.0)


def checked_batch(x: Tensor, y: Tensor, min_n: int) -> tuple[Tensor, Tensor, bool]:
    """One batch of paired representations as float64 matrices (ValueError for bad shapes or
    fewer than ``min_n`` rows) and whether every value is finite."""
    x, y = check_pair(x, y, min_n=min_n)
    return x, y, all_finite(x, y)


def nan_result(what: str, reason: str, device: torch.device | None) -> Tensor:
    """A 0-d float64 NaN on ``device``, with a ``DegenerateInputWarning`` giving ``reason``."""
    warn_degenerate(what, reason)
    return torch.full((), float("nan"), dtype=torch.float64, device=device)
