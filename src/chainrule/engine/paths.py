"""The fast NumPy paths of the gradient: the whole pass compiled (small networks), BLAS products
with compiled loops between them (large ones), NumPy alone, and per-sample gradients, writing into
workspaces that a training loop reuses.

They compute the article's equations (:mod:`chainrule.article`): per layer ``delta = dC0/da * g'(z)``
(terms 1 x 2), ``dC/dW = delta^T a_prev / n`` (x term 3, the mean over the samples done by the
matrix product) and ``dC0/da_prev = delta W`` (the recursion); :func:`_backward` is that recursion
on NumPy with reused buffers. The article's own algorithm, which keeps the three chain-rule factors
apart for explaining, is :mod:`chainrule.article`. Inputs are trusted: :mod:`chainrule.backprop`
validates them at the public edge.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._memory import buffer_length, carve, layer_views, pad_of
from .._memory import kept_workspaces as _spaces  # key -> [(workspace, what it holds, reference counts)]
from .._validation import check_finite
from ..layers import LayerList
from ..losses import Loss
from ..network import Network, Trace, n_parameters, parameter_views
from ..result import Gradients, _parts
from .backend import Plan, compiled_outer_products, compiled_plan, kernels

__all__ = ["Workspace", "workspace"]


def _backward(
    net: Network,
    trace: Trace,
    Y: np.ndarray,
    loss: Loss,
    out: tuple[list[np.ndarray], list[np.ndarray]],
    teach: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The backward recursion on validated input: ``dC0/da^(l)`` and ``delta^(l)`` for ``l = L..1``.

    Writes lists in layer order 1..L into ``out = (dC0_da, delta)``: ``delta`` in one step (the
    loss's shortcut at the output, the activation's in-place backward elsewhere), and
    ``teach=False`` skips ``dC0/da^(L)`` where the shortcut makes it unnecessary (a training step).
    The article's algorithm with the three chain-rule factors kept apart, for explaining, is
    :func:`chainrule.article.backward` with ``fused=False``.
    """
    L = net.L
    dC0_da, delta = out
    Ws, gs, zs, as_ = net.W._values, net.g._values, trace.z._values, trace.a._values
    shortcut = loss.fused_delta(gs[L - 1], as_[L], Y, out=delta[L - 1]) is not None
    da = loss.dC0_da(as_[L], Y, out=dC0_da[L - 1]) if teach or not shortcut else None
    for l in range(L, 0, -1):
        if not (l == L and shortcut):
            gs[l - 1].backward(zs[l - 1], as_[l], da, out=delta[l - 1])
        if l > 1:
            da = np.matmul(delta[l - 1], Ws[l - 1], out=dC0_da[l - 2])
    return dC0_da, delta


def _gradients(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    *,
    per_sample: bool,
    w: np.ndarray | None,
    check: bool = False,
    out: Workspace | None = None,
    teach: bool = True,
    check_Y: bool = False,
) -> Gradients:
    """:func:`gradients` on validated input (``check``: scan for NaN/inf in the forward pass;
    ``check_Y``: also in ``Y``, which the compiled path does by testing ``C``, since a non-finite
    target always makes the cost non-finite).

    The fused mean gradient goes to the compiled kernel when the backend has it for this network
    (:mod:`chainrule.engine.backend`), everything else to NumPy. All arrays of the result are carved
    from one block of memory: one allocation per call, which the C allocator keeps for the next
    call instead of returning it to the operating system and faulting it back in page by page.
    The mean gradients are views of one vector in the order of :meth:`Network.parameters`. A
    training loop passes ``out=workspace(...)`` to reuse one block for every step instead (and
    ``teach=False``: the arrays only explaining needs may be left unfilled).
    """
    if not per_sample:
        plan = compiled_plan(net, loss, X.shape[0])
        if plan is not None:
            if plan[2]:  # the whole pass compiled: a NaN or inf in Y shows in C, scanned only then
                result = _compiled_gradients(net, X, Y, loss, plan, w, check, out, teach)
                if result is not None and check_Y and not math.isfinite(result.C):
                    check_finite("Y", Y)
            else:  # large: the scan costs little beside the products
                if check_Y:
                    check_finite("Y", Y)
                    check_Y = False
                result = _hybrid_gradients(net, X, Y, loss, plan, w, check, out, teach)
            if result is not None:
                return result
    if check_Y:
        check_finite("Y", Y)
    if per_sample:
        outer, threads = compiled_outer_products()
        with threads:
            return _per_sample_gradients(net, X, Y, loss, check, out, outer)
    n, L = X.shape[0], net.L
    ws = _result_space(net, n) if out is None else out
    dW, db = ws.dW, ws.db
    trace = net._forward(X, check=check, out=ws.za)
    dC0_da, delta = _backward(net, trace, Y, loss, out=(ws.dC0_da, ws.delta), teach=teach)
    C0 = loss.C0(trace.a[L], Y, trace.z[L])
    # dC/dW = sum_i s_i delta_i a_prev_i^T with s_i = 1/n (the article's mean) or w_i / sum w;
    # s is applied to delta (n x n_l), the smallest array of the product
    s = None if w is None else (w / w.sum())[:, None]
    for l, (d, a_prev, gW, d_mean) in enumerate(zip(delta, trace.a._values, dW, ws.scratch)):
        if s is None:
            np.divide(d, n, out=d_mean)
        else:
            np.multiply(d, s, out=d_mean)
        np.matmul(d_mean.T, a_prev, out=gW)
        if net.b is not None:
            np.add.reduce(d_mean, axis=0, out=db[l])
    C = np.add.reduce(C0) / n if s is None else s[:, 0] @ C0
    return Gradients(**_parts(net, trace, C0, dC0_da, delta, dW, db), C=float(C), per_sample=False, loss=loss)


def _per_sample_gradients(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    check: bool,
    out: Workspace | None,
    outer: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None,
) -> Gradients:
    """Each sample's own gradient ``dC_i/dw_jk = delta_ij a_ik``, written straight into the result
    (by the compiled ``outer`` kernel, else by NumPy's broadcast multiply)."""
    n, L = X.shape[0], net.L
    ws = workspace(net, n, per_sample=True) if out is None else out
    dW, db = ws.dW, ws.db
    trace = net._forward(X, check=check, out=ws.za)
    dC0_da, delta = _backward(net, trace, Y, loss, out=(ws.dC0_da, ws.delta))
    C0 = loss.C0(trace.a[L], Y, trace.z[L])
    for l, (d, a_prev, gW) in enumerate(zip(delta, trace.a._values, dW)):
        if outer is None:
            np.multiply(d[:, :, None], a_prev[:, None, :], out=gW)
        else:
            outer(d, np.ascontiguousarray(a_prev), gW)
        if net.b is not None:
            np.copyto(db[l], d)
    C = np.add.reduce(C0) / n
    return Gradients(**_parts(net, trace, C0, dC0_da, delta, dW, db), C=float(C), per_sample=True, loss=loss)


def _compiled_gradients(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    plan: tuple[Plan, int, bool],
    w: np.ndarray | None,
    check: bool,
    out: Workspace | None,
    teach: bool,
) -> Gradients | None:
    """The fused mean gradient by the compiled kernel; None when ``check`` finds a non-finite
    ``z^(l)`` (NumPy then names the culprit, or carries on exactly as it would)."""
    p, loss_code, _ = plan
    n = X.shape[0]
    if out is None:
        buf, flat = carve(net.dtype, [(buffer_length(n, net.sizes, p.pad),), (net._flat.shape[0],)], reuse="mean")
    else:
        buf, flat = out.buf, out.flat
    X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
    s = None if w is None else w / w.sum()
    status, C = kernels().mean_gradient(
        X, Y, net._flat, p.sizes, p.codes, p.alphas, loss_code, net.bias, s, buf, flat, p.pad, p.logmax, check, teach
    )
    if status:
        return None

    def make() -> dict[str, Any]:
        (zs, as_, dC0_da, delta, _), C0 = layer_views(buf, n, net.sizes)
        trace = Trace(a=LayerList([X, *as_], first=0, name="a"), z=LayerList(zs, first=1, name="z"))
        return _parts(net, trace, C0, dC0_da, delta, *parameter_views(flat, net.sizes, net.bias))

    return Gradients._deferred(C, False, loss, make)


def _hybrid_gradients(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    plan: tuple[Plan, int, bool],
    w: np.ndarray | None,
    check: bool,
    out: Workspace | None,
    teach: bool,
) -> Gradients | None:
    """The fused mean gradient with NumPy's BLAS for the matrix products and compiled loops for
    all between them, one pass each: ``z += b``, the NaN test and ``a = g(z)``; the loss;
    ``delta``, ``s_i delta_i`` and ``db``. None as for :func:`_compiled_gradients`.

    The loops run on this thread alone. Split by samples among threads they were measured slower
    in place on two cores (1.03-1.17x with sleeping helper threads), not faster: OpenBLAS's worker
    keeps spinning on the other core for a while after each product, and numba's OpenMP threads,
    which spin in turn after each loop, made the next products ten times slower."""
    p, loss_code, _ = plan
    k = kernels()
    n, L = X.shape[0], net.L
    ws = _result_space(net, n) if out is None else out
    Ws = net.W._values
    bs = net.b._values if net.b is not None else [_NO_BIAS[net.dtype.char]] * L
    as_ = [X]
    for i, ((z, a), (code, alpha)) in enumerate(zip(ws.za, p.layers)):
        np.matmul(as_[i], Ws[i].T, out=z)
        if not k.layer_forward(z, bs[i], code, alpha, p.logmax, a, check):
            return None
        as_.append(a)
    s = None if w is None else w / w.sum()
    zs = [z for z, _ in ws.za]
    dbs = ws.db if net.b is not None else bs
    for i in range(L - 1, -1, -1):
        z, a, da, delta, scaled = zs[i], as_[i + 1], ws.dC0_da[i], ws.delta[i], ws.scratch[i]
        code, alpha = p.layers[i]
        if i == L - 1 and k.loss_layer(loss_code, z, a, Y, ws.C0, da, delta, teach):
            code, alpha, da = k.IDENTITY, 0.0, delta  # the loss's shortcut wrote delta^(L): take it as it is
        k.layer_backward(code, alpha, p.logmax, z, a, da, delta, s, scaled, dbs[i])
        if i > 0:
            np.matmul(delta, Ws[i], out=ws.dC0_da[i - 1])
        np.matmul(scaled.T, as_[i], out=ws.dW[i])
    trace = Trace(a=LayerList(as_, first=0, name="a"), z=LayerList(zs, first=1, name="z"))
    parts = _parts(net, trace, ws.C0, ws.dC0_da, ws.delta, ws.dW, ws.db)
    return Gradients(**parts, C=k.weighted_mean(ws.C0, s), per_sample=False, loss=loss)


_NO_BIAS = {np.dtype(t).char: np.empty(0, dtype=t) for t in (np.float32, np.float64)}


@dataclass(frozen=True)
class Workspace:
    """The arrays one gradient of ``n`` samples writes, carved from one block of memory.

    ``buf`` holds per layer ``z``, ``a``, ``dC0/da``, ``delta`` and scratch (``(n, n_l)`` each,
    laid out by :func:`chainrule._memory.block_offsets`; ``za``, ``dC0_da``, ``delta``, ``scratch``
    are its views), then the gradients: for the mean, one vector ``flat`` in the order of
    :meth:`Network.parameters` with ``dW``, ``db`` its views; per sample, arrays with a leading
    sample axis.
    """

    buf: np.ndarray
    C0: np.ndarray
    za: list[tuple[np.ndarray, np.ndarray]]
    dC0_da: list[np.ndarray]
    delta: list[np.ndarray]
    scratch: list[np.ndarray]
    dW: list[np.ndarray]
    db: list[np.ndarray]
    flat: np.ndarray | None


def workspace(net: Network, n: int, per_sample: bool = False) -> Workspace:
    """A :class:`Workspace` for ``net`` and batches of ``n`` samples (fresh memory on every call)."""
    sizes, L = net.sizes, net.L
    shapes = [(buffer_length(n, sizes, pad_of(net.dtype)),)]
    if per_sample:
        shapes += [(n, sizes[l], sizes[l - 1]) for l in range(1, L + 1)]
        shapes += [(n, m) for m in sizes[1:]] if net.bias else []
    else:
        shapes.append((n_parameters(sizes, net.bias),))
    # a per-sample result's block is reused through carve; mean results reuse whole workspaces
    # (views and all) through _result_space, which counts on nothing else holding their block
    bufs = carve(net.dtype, shapes, reuse="per_sample" if per_sample else None)
    (zs, as_, dC0_da, delta, scratch), C0 = layer_views(bufs[0], n, sizes)
    if per_sample:
        dW, db, flat = bufs[1 : L + 1], bufs[L + 1 :], None
    else:
        flat = bufs[1]
        dW, db = parameter_views(flat, sizes, net.bias)
    return Workspace(
        buf=bufs[0], C0=C0, za=list(zip(zs, as_)), dC0_da=dC0_da, delta=delta, scratch=scratch, dW=dW, db=db, flat=flat
    )


def _refcounts(objects: tuple[Any, ...]) -> list[int]:
    return [sys.getrefcount(x) for x in objects]


def _result_space(net: Network, n: int) -> Workspace:
    """A workspace for one mean-gradient result: one of the two that earlier results of this shape
    had, when nothing refers to it or to any of its arrays any more (its views ready-made, 15 us
    on a four-layer network), else a fresh one. Two, so that ``g = gradients(...)`` in a loop,
    which holds the previous result while computing the next, reuses the one before. Reference
    counts tell: each array of a result, and every view of one, holds a reference to its block."""
    key = (net.sizes, n, net.dtype.char, net.bias)
    entries = _spaces.get(key, [])
    for entry in entries:
        ws = entry[0]  # taken before the test: a second thread testing now sees it taken
        if _refcounts(entry[1]) == entry[2]:
            return ws
        del ws
    ws = workspace(net, n)
    held = (ws, ws.buf.base, ws.buf, ws.flat, ws.C0, *ws.za, *[x for z_a in ws.za for x in z_a])
    held += (*ws.dC0_da, *ws.delta, *ws.scratch, *ws.dW, *ws.db)
    _spaces.pop(key, None)  # the shapes used last stay, at most four of them
    if len(_spaces) >= 4:
        del _spaces[next(iter(_spaces))]
    entry = (ws, held, [])
    _spaces[key] = [*entries[-1:], entry]
    del held
    entry[2].extend(_refcounts(entry[1]))  # as the test above will see them when all is idle
    return ws


def _cost(
    net: Network, a: np.ndarray, Y: np.ndarray, loss: Loss, w: np.ndarray | None, start: int = 1, check: bool = False
) -> float:
    """The cost on validated input, with layers ``start..L`` computed from ``a = a^(start-1)``."""
    z, a = net._output(a, start, check=check)
    C0 = loss.C0(a, Y, z)
    return float(C0.mean() if w is None else (w @ C0) / w.sum())
