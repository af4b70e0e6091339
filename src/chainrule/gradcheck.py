r"""Gradient checking: backprop's ``dC/dw`` against central finite differences.

For each checked parameter ``w`` the numerical estimate is

    dC/dw ~ (C(w + h) - C(w - h)) / (2 h),     h = eps * max(1, |w|)

with the error ``O(h^2)``. The relative error of an entry is
``|analytic - numeric| / max(|analytic|, |numeric|, floor)``; the report gives its maximum per
parameter array. Both sides are computed on a float64 copy of the network, so a float32 network
is checked for its arithmetic, not for float32 rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _html
from ._validation import as_float, as_int, as_seed
from .backprop import _prepare, gradients
from .engine.paths import _cost, _gradients
from .errors import ChainruleError, shown
from .losses import Loss
from .network import Network

__all__ = ["GradcheckResult", "GradcheckRow", "central_difference", "gradcheck"]


@dataclass(frozen=True)
class GradcheckRow:
    """One parameter array's result: ``W[l]`` or ``b[l]``."""

    param: str
    layer: int
    checked: int
    total: int
    max_abs_error: float
    max_rel_error: float

    @property
    def name(self) -> str:
        return f"{self.param}[{self.layer}]"


@dataclass(frozen=True)
class GradcheckResult:
    """Per-layer maximum errors between backprop and central finite differences."""

    rows: tuple[GradcheckRow, ...]
    tol: float

    @property
    def max_rel_error(self) -> float:
        """The largest relative error over every checked entry."""
        return max((r.max_rel_error for r in self.rows), default=0.0)

    @property
    def ok(self) -> bool:
        """Whether every relative error is at most ``tol``."""
        return self.max_rel_error <= self.tol

    def __bool__(self) -> bool:
        return self.ok

    def by_layer(self) -> dict[int, float]:
        """The largest relative error of each layer ``l`` (weights and biases together)."""
        out: dict[int, float] = {}
        for r in self.rows:
            out[r.layer] = max(out.get(r.layer, 0.0), r.max_rel_error)
        return out

    def __repr__(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"GradcheckResult({verdict}: max relative error {self.max_rel_error:.3e}, tolerance {self.tol:.1e}, "
            f"{len(self.rows)} parameter arrays)"
        )

    def _repr_html_(self) -> str:
        """The table of :meth:`__str__` as HTML: per parameter array the entries checked, the largest
        absolute and relative errors and whether it passes; then the verdict."""
        rows = [
            (
                r.name,
                f"{r.checked}/{r.total}",
                r.max_abs_error,
                r.max_rel_error,
                "OK" if r.max_rel_error <= self.tol else "FAILED",
            )
            for r in self.rows
        ]
        verdict = "OK" if self.ok else "FAILED"
        return _html.block(
            _html.table(
                ("param", "checked", "max abs err", "max rel err", ""),
                rows,
                caption="gradcheck: backprop against central finite differences",
            ),
            _html.tag(
                "p",
                f"max relative error {_html.number(self.max_rel_error)} (tolerance {_html.number(self.tol)}): ",
                _html.tag("strong", verdict),
            ),
        )

    def __str__(self) -> str:
        lines = [f"{'param':<8}{'checked':>12}{'max abs err':>14}{'max rel err':>14}"]
        for r in self.rows:
            lines.append(f"{r.name:<8}{f'{r.checked}/{r.total}':>12}{r.max_abs_error:>14.3e}{r.max_rel_error:>14.3e}")
        verdict = "OK" if self.ok else "FAILED"
        lines.append(f"max relative error {self.max_rel_error:.3e} (tolerance {self.tol:.1e}): {verdict}")
        return "\n".join(lines)


def central_difference(
    net: Network,
    a_prev: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    w: np.ndarray | None,
    param: str,
    l: int,
    flat: int,
    eps: float = 6e-6,
) -> float:
    """``(C(p + h) - C(p - h)) / 2h`` for entry ``flat`` of ``W[l]`` or ``b[l]`` (``param`` "W" or "b").

    ``a_prev`` is the stored ``a^(l-1)``: only layers ``l..L`` are recomputed. The parameter is
    perturbed in place and restored, so ``net`` must be a private copy.
    """
    p = (net.W if param == "W" else net.b)[l]  # type: ignore[index]
    at = np.unravel_index(flat, p.shape)  # indexes p itself, whatever its memory order
    old = p[at]
    h = eps * max(1.0, abs(float(old)))
    p[at] = old + h
    c_plus = _cost(net, a_prev, Y, loss, w, start=l)
    p[at] = old - h
    c_minus = _cost(net, a_prev, Y, loss, w, start=l)
    p[at] = old
    return (c_plus - c_minus) / (2 * h)


def _other_library_gradients(net: Network, X: Any, Y: Any, loss: Any, sample_weight: Any) -> tuple:
    """For a network of another array library (:mod:`chainrule.arrays`): its own backprop's gradients
    in float64 (the article's, in that library, brought to NumPy), and the NumPy copies of the network
    and data whose central differences they are checked against."""
    from .arrays import _to_numpy

    net64 = net.copy(np.float64)
    X, Y, loss, w = _prepare(net64, X, Y, loss, sample_weight, arrays=True)
    g = gradients(net64, X, Y, loss, sample_weight=w)
    analytic = {("W", l): _to_numpy(g.dW[l]) for l in range(1, net.L + 1)}
    if g.db is not None:
        analytic.update({("b", l): _to_numpy(g.db[l]) for l in range(1, net.L + 1)})
    return analytic, net64.to(np), _to_numpy(X), _to_numpy(Y), None if w is None else _to_numpy(w)


def gradcheck(
    net: Network,
    X: Any,
    Y: Any,
    loss: str | Loss = "squared_error",
    *,
    sample_weight: Any = None,
    eps: float = 6e-6,
    tol: float = 1e-5,
    floor: float = 1e-6,
    max_checks: int | None = 2000,
    seed: int | np.random.Generator | None = 0,
) -> GradcheckResult:
    """Compare :func:`~chainrule.gradients` with central finite differences of the cost.

    For a network of another array library (PyTorch, ...), the gradients checked are that library's
    own (the article's algorithm on its arrays, in float64), against central differences of the cost.

    Parameters
    ----------
    net, X, Y, loss, sample_weight
        As for :func:`~chainrule.gradients`.
    eps : float
        Relative step: ``h = eps * max(1, |w|)``.
    tol : float
        The largest relative error that passes (``result.ok``).
    floor : float
        Smallest denominator of the relative error, so gradients near 0 are judged by their
        absolute error.
    max_checks : int or None
        At most this many entries of each parameter array, chosen at random (seeded by ``seed``)
        when the array is larger; None checks every entry.

    Returns
    -------
    GradcheckResult
        ``rows`` per ``W[l]`` and ``b[l]``, ``max_rel_error``, ``ok``; ``print(result)`` shows a table.

    >>> net = Network([3, 4, 2], activation="tanh", seed=1)
    >>> result = gradcheck(net, np.ones((5, 3)), np.zeros((5, 2)))
    >>> result.ok
    True
    """
    analytic_of = None
    if isinstance(net, Network) and net._flat is None:  # another array library: check its own backprop
        analytic_of, net, X, Y, sample_weight = _other_library_gradients(net, X, Y, loss, sample_weight)
    X, Y, loss, w = _prepare(net, X, Y, loss, sample_weight)
    if max_checks is not None:
        try:
            max_checks = as_int("max_checks", max_checks, low=1)
        except ChainruleError:
            raise ChainruleError(
                f"max_checks must be >= 1 or None, got {shown(max_checks)} ({type(max_checks).__name__})"
            ) from None
    eps = as_float("eps", eps, low=0, high=1, low_open=True)
    tol = as_float("tol", tol, low=0)
    floor = as_float("floor", floor, low=0, low_open=True)
    rng = as_seed("seed", seed)
    net64 = net.copy(np.float64)
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    w = None if w is None else w.astype(np.float64)
    grads = _gradients(net64, X, Y, loss, per_sample=False, w=w, check=True)
    trace = grads.trace

    rows = []
    for name, l, p in net64.parameters():
        analytic = (grads.dW if name == "W" else grads.db)[l] if analytic_of is None else analytic_of[name, l]  # type: ignore[index]
        flat_g = analytic.reshape(-1)
        idx = np.arange(p.size)
        if max_checks is not None and p.size > max_checks:
            idx = np.sort(rng.choice(p.size, size=max_checks, replace=False))
        abs_err = np.empty(idx.size)
        rel_err = np.empty(idx.size)
        for i, flat in enumerate(idx):
            numeric = central_difference(net64, trace.a[l - 1], Y, loss, w, name, l, int(flat), eps)
            a_val = flat_g[flat]
            abs_err[i] = abs(a_val - numeric)
            rel_err[i] = abs_err[i] / max(abs(a_val), abs(numeric), floor)
        rows.append(GradcheckRow(name, l, int(idx.size), int(p.size), float(abs_err.max()), float(rel_err.max())))
    return GradcheckResult(rows=tuple(rows), tol=tol)
