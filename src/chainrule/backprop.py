r"""Backpropagation: the gradient of the cost with respect to every weight and bias.

For one sample the article's chain rule gives, for every weight of every layer,

    dC0/dw_jk^(l) = dC0/da_j^(l) * g'^(l)(z_j^(l)) * a_k^(l-1)          (three terms)

and the backward recursion gives the first term for the hidden layers:

    dC0/da_j^(L)   = the loss's derivative (squared_error: 2 (a_j^(L) - y_j))
    delta_j^(l)    = dC0/dz_j^(l) = dC0/da_j^(l) * g'^(l)(z_j^(l))       (terms 1 x 2)
    dC0/dw_jk^(l)  = delta_j^(l) * a_k^(l-1)                             (x term 3)
    dC0/db_j^(l)   = delta_j^(l)
    dC0/da_k^(l-1) = sum_j w_jk^(l) * delta_j^(l)

For a batch of ``n`` samples in rows this is, per layer, ``delta = dC0_da * g'(z)``,
``dW = delta.T @ a_prev / n`` (the article's mean over the samples, done by the matrix product)
and ``dC0_da_prev = delta @ W``: one matrix product forward and two backward per layer.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _html
from ._memory import TooLargeError, buffer_length, carve, layer_views, out_of_memory, pad_of
from ._memory import kept_workspaces as _spaces  # key -> [(workspace, what it holds, reference counts)]
from ._validation import as_bool, as_inputs, as_sample_weight, as_targets, check_finite
from .engine.backend import Plan, compiled_outer_products, compiled_plan, kernels
from .errors import ChainruleError, shown
from .layers import LayerList
from .losses import Loss, get_loss
from .network import Network, Trace, n_parameters, parameter_views, require_network

__all__ = ["Gradients", "MissingPartError", "Workspace", "cost", "gradients", "workspace"]


class MissingPartError(ChainruleError, AttributeError):
    """An attribute of :class:`Gradients` that the path which computed it does not keep
    (``g_prime`` on the fused path), or one set on the read-only result. Also an
    ``AttributeError``, so ``hasattr`` says False."""


class Gradients:
    """The result of :func:`gradients`: every layer's gradient and the quantities behind it.

    Attributes
    ----------
    dW : LayerList of arrays, layers 1..L
        ``dC/dW^(l)``, shape ``(n_l, n_{l-1})`` like ``W[l]``: entry ``[j, k]`` is ``dC/dw_jk^(l)``,
        the mean over the samples of ``dC0/dw_jk^(l)``. With ``per_sample=True``, shape
        ``(n_samples, n_l, n_{l-1})``: entry ``[i, j, k]`` is sample ``i``'s own ``dC_i/dw_jk^(l)``.
    db : LayerList of arrays, or None when the network has no biases
        ``dC/db^(l)``, shape ``(n_l,)`` (``(n_samples, n_l)`` per sample).
    C : float
        The cost, the mean over the samples of ``C0`` (weighted mean with ``sample_weight``).
    C0 : array, (n_samples,)
        Each sample's loss.
    dC0_da : LayerList, layers 1..L
        ``dC0/da^(l)`` for each sample, ``(n_samples, n_l)``: the first chain-rule term.
    delta : LayerList, layers 1..L
        ``delta^(l) = dC0/dz^(l)`` for each sample, ``(n_samples, n_l)``.
    g_prime : LayerList
        With ``fused=False``: the second chain-rule term ``da^(l)/dz^(l)`` for each sample,
        ``g'^(l)(z^(l))`` of shape ``(n_samples, n_l)``, or for a softmax layer its full Jacobian
        ``(n_samples, n_l, n_l)``. On the fused path reading it raises :class:`ChainruleError`
        (also an ``AttributeError``) that says to call ``gradients(..., fused=False)``.
    trace : Trace
        The forward pass: ``a[l]`` (``a[l-1]`` is the third chain-rule term) and ``z[l]``.
    per_sample : bool
        Whether ``dW`` and ``db`` carry a leading sample axis.
    loss : Loss
        The loss used.

    Notes
    -----
    The arrays of one result are fresh (no two calls share memory) and are carved from one block
    of memory, so keeping any one of them keeps the whole block: ``copy()`` the arrays you store
    for long when memory matters. The per-layer lists are made on first access. A result of
    128 KB or more reuses the memory of an earlier result of its kind once nothing refers to that
    one or to any of its arrays (:func:`chainrule.release_memory` lets the kept memory go).
    """

    __slots__ = ("C", "per_sample", "loss", "_parts", "_make")

    C: float
    per_sample: bool
    loss: Loss

    def __init__(
        self,
        dW: LayerList[np.ndarray],
        db: LayerList[np.ndarray] | None,
        C: float,
        C0: np.ndarray,
        dC0_da: LayerList[np.ndarray],
        delta: LayerList[np.ndarray],
        g_prime: LayerList[np.ndarray] | None,
        trace: Trace,
        per_sample: bool,
        loss: Loss,
    ) -> None:
        parts = {"dW": dW, "db": db, "C0": C0, "dC0_da": dC0_da, "delta": delta, "g_prime": g_prime, "trace": trace}
        self._init(C, per_sample, loss, parts, None)

    def _init(
        self, C: float, per_sample: bool, loss: Loss, parts: dict | None, make: Callable[[], dict] | None
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "C", C)
        setattr_(self, "per_sample", per_sample)
        setattr_(self, "loss", loss)
        setattr_(self, "_parts", parts)
        setattr_(self, "_make", make)

    @classmethod
    def _deferred(cls, C: float, per_sample: bool, loss: Loss, make: Callable[[], dict]) -> Gradients:
        """A result whose arrays already hold their values but whose lists ``make()`` builds on first access."""
        self = cls.__new__(cls)
        self._init(C, per_sample, loss, None, make)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise MissingPartError(f"Gradients is read-only; cannot set {shown(name)}")

    def _part(self, name: str) -> Any:
        if self._parts is None:
            object.__setattr__(self, "_parts", self._make())
            object.__setattr__(self, "_make", None)
        return self._parts[name]  # type: ignore[index]

    @property
    def dW(self) -> LayerList[np.ndarray]:
        return self._part("dW")

    @property
    def db(self) -> LayerList[np.ndarray] | None:
        return self._part("db")

    @property
    def C0(self) -> np.ndarray:
        return self._part("C0")

    @property
    def dC0_da(self) -> LayerList[np.ndarray]:
        return self._part("dC0_da")

    @property
    def delta(self) -> LayerList[np.ndarray]:
        return self._part("delta")

    @property
    def g_prime(self) -> LayerList[np.ndarray]:
        """``g'^(l)(z^(l))`` per layer (the second chain-rule term); kept only by ``fused=False``."""
        value = self._part("g_prime")
        if value is None:
            raise MissingPartError(
                "g_prime is only kept with fused=False: call gradients(..., fused=False) "
                "(the fused path computes delta = dC0/da * g' in one step)"
            )
        return value

    @property
    def trace(self) -> Trace:
        return self._part("trace")

    def __reduce__(self) -> tuple:  # pickle and copy the lists themselves, not how they are made
        parts = (self.dW, self.db, self.C, self.C0, self.dC0_da, self.delta, self._part("g_prime"), self.trace)
        return (Gradients, (*parts, self.per_sample, self.loss))

    def __repr__(self) -> str:
        kind = "per sample" if self.per_sample else "mean"
        return f"Gradients({kind}, C={self.C!r}, loss={self.loss}, dW={self.dW!r})"

    def _repr_html_(self) -> str:
        """A summary as HTML: per layer the shapes of ``dW[l]`` and ``db[l]`` and their Frobenius
        norms (with ``per_sample``, the norms of the mean over the samples, :meth:`mean`); then the
        cost ``C``, the loss, the number of samples and whether the arrays are per sample."""
        mean = self.mean()
        header: list[Any] = ["layer l", "dW[l] shape", _html.cat("‖dC/dW", _html.tag("sup", "(l)"), "‖")]
        if self.db is not None:
            header += ["db[l] shape", _html.cat("‖dC/db", _html.tag("sup", "(l)"), "‖")]
        rows = []
        for l in self.dW.layers():
            row: list[Any] = [l, str(self.dW[l].shape), float(np.linalg.norm(mean.dW[l]))]
            if self.db is not None:
                row += [str(self.db[l].shape), float(np.linalg.norm(mean.db[l]))]  # type: ignore[index]
            rows.append(row)
        n = self.C0.shape[0]
        kind = f"per sample, {n} samples (norms of their mean)" if self.per_sample else f"over {n} samples"
        return _html.block(
            _html.table(header, rows, caption=f"Gradients, {kind}"),
            _html.tag(
                "p",
                "cost C = ",
                _html.tag("strong", self.C),
                f", loss {self.loss.name}, per_sample={self.per_sample}, dtype {self.dW[1].dtype.name}",
            ),
        )

    def mean(self) -> Gradients:
        """Per-sample gradients reduced to their (unweighted) mean, the article's ``dC/dw``."""
        if not self.per_sample:
            return self
        return Gradients(
            dW=LayerList([d.mean(axis=0) for d in self.dW], first=1, name="dW"),
            db=None if self.db is None else LayerList([d.mean(axis=0) for d in self.db], first=1, name="db"),
            C=self.C,
            C0=self.C0,
            dC0_da=self.dC0_da,
            delta=self.delta,
            g_prime=self._part("g_prime"),
            trace=self.trace,
            per_sample=False,
            loss=self.loss,
        )

    def flat(self) -> np.ndarray:
        """All gradients in one vector, in :meth:`Network.parameters` order (per sample: one row each)."""
        parts = []
        for l in self.dW.layers():
            parts.append(self.dW[l])
            if self.db is not None:
                parts.append(self.db[l])
        if self.per_sample:
            n = parts[0].shape[0]
            return np.concatenate([p.reshape(n, -1) for p in parts], axis=1)
        return np.concatenate([p.ravel() for p in parts])


def _prepare(
    net: Network, X: Any, Y: Any, loss: str | Loss, sample_weight: Any = None, finite_targets: bool = True
) -> tuple[np.ndarray, np.ndarray, Loss, np.ndarray | None]:
    """Validate everything once at the public edge; what follows trusts it.

    NaN and inf in ``X`` and the parameters are left to the checked forward pass that follows;
    with ``finite_targets=False`` those in ``Y`` are left to the caller (see :func:`as_targets`).
    """
    require_network(net)
    loss = get_loss(loss)
    loss.check_output(net.g[net.L])
    X = as_inputs(X, net.sizes[0], net.dtype, finite=False)
    Y = as_targets(Y, X.shape[0], net.sizes[-1], net.dtype, loss.target_range, finite=finite_targets)
    w = None if sample_weight is None else as_sample_weight(sample_weight, X.shape[0], net.dtype)
    return X, Y, loss, w


def _backward(
    net: Network,
    trace: Trace,
    Y: np.ndarray,
    loss: Loss,
    fused: bool,
    out: tuple[list[np.ndarray], list[np.ndarray]],
    teach: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
    """The backward recursion on validated input: ``dC0/da^(l)``, ``delta^(l)`` (and ``g'``) for ``l = L..1``.

    Writes lists in layer order 1..L into ``out = (dC0_da, delta)``. With ``fused=False`` the
    three chain-rule factors stay separate arrays (``g'`` is returned); with ``fused=True``
    ``delta`` is computed in one step (the loss's shortcut at the output, the activation's
    in-place backward elsewhere), and ``teach=False`` skips ``dC0/da^(L)`` where the shortcut
    makes it unnecessary (a training step).
    """
    L = net.L
    dC0_da, delta = out
    g_prime: list[np.ndarray] | None = None if fused else [None] * L  # type: ignore[list-item]
    Ws, gs, zs, as_ = net.W._values, net.g._values, trace.z._values, trace.a._values
    shortcut = fused and loss.fused_delta(gs[L - 1], as_[L], Y, out=delta[L - 1]) is not None
    da = loss.dC0_da(as_[L], Y, out=dC0_da[L - 1]) if teach or not shortcut else None
    for l in range(L, 0, -1):
        g, z, a, d = gs[l - 1], zs[l - 1], as_[l], delta[l - 1]
        if fused:
            if not (l == L and shortcut):
                g.backward(z, a, da, out=d)
        elif g.elementwise:
            gp = g.g_prime(z, a)
            g_prime[l - 1] = gp  # type: ignore[index]
            np.multiply(da, gp, out=d)
        else:
            J = g.jacobian(z, a)
            g_prime[l - 1] = J  # type: ignore[index]
            np.einsum("nm,nmj->nj", da, J, out=d)
        if l > 1:
            da = np.matmul(d, Ws[l - 1], out=dC0_da[l - 2])
    return dC0_da, delta, g_prime


def gradients(
    net: Network,
    X: Any,
    Y: Any,
    loss: str | Loss = "squared_error",
    *,
    per_sample: bool = False,
    sample_weight: Any = None,
    fused: bool = True,
) -> Gradients:
    """The gradient of the cost ``C`` with respect to every weight and bias, by backpropagation.

    Parameters
    ----------
    net : Network
    X : array, (n_samples, n_0)
        Inputs, one sample per row.
    Y : array, (n_samples, n_L), or class labels (n_samples,)
        Targets ``y``. Integer labels ``0..n_L-1`` become one-hot rows when ``n_L > 1``.
    loss : str or Loss
        ``"squared_error"`` (the article's ``C0 = sum_j (a_j - y_j)^2``), ``"mse"``,
        ``"cross_entropy"`` (softmax outputs), ``"binary_cross_entropy"`` (sigmoid outputs),
        ``"poisson"`` (half the Poisson deviance, exp outputs).
    per_sample : bool
        Return each sample's own gradient, with a leading sample axis, instead of the mean.
        Computed by broadcasting ``delta_j a_k`` straight into the result: no loop over samples
        and no temporary larger than the result itself.
    sample_weight : array, (n_samples,), optional
        Turns the mean over samples into the weighted mean ``sum_i w_i dC_i / sum_i w_i``
        (also for ``C``). Not combined with ``per_sample`` (each sample's gradient is its own).
    fused : bool
        ``True`` (default): the fast path, with the stable softmax/cross-entropy,
        sigmoid/binary-cross-entropy and exp/poisson shortcut ``delta^(L) = a - y``; for a small network one
        compiled call when numba is installed (see :func:`chainrule.set_backend`). ``False``: the explaining
        path, which keeps the three chain-rule factors ``dC0_da``, ``g_prime`` and ``trace.a``
        as separate arrays; both give the same gradients.

    Returns
    -------
    Gradients
        ``dW[l]`` and ``db[l]`` for ``l = 1..L``, fresh arrays on every call.

    Examples
    --------
    The article's formula for the weight from node 2 of layer L-1 to node 1 of layer L:

    >>> import numpy as np
    >>> net = Network([2, 3, 2], activation="sigmoid", bias=False, seed=0)
    >>> x, y = np.array([[0.5, -1.0]]), np.array([[0.0, 1.0]])
    >>> grads = gradients(net, x, y, loss="squared_error")
    >>> t = grads.trace
    >>> a1, z1 = t.a[2][0, 1], t.z[2][0, 1]
    >>> three_terms = 2 * (a1 - y[0, 1]) * (a1 * (1 - a1)) * t.a[1][0, 2]
    >>> bool(np.isclose(grads.dW[2][1, 2], three_terms))
    True
    """
    if per_sample is not False and per_sample is not True:  # identity tests: the hot path stays as fast
        per_sample = as_bool("per_sample", per_sample)
    if fused is not True and fused is not False:
        fused = as_bool("fused", fused)
    if per_sample and sample_weight is not None:
        raise ChainruleError(
            "sample_weight weights the mean over samples; per_sample=True returns each sample's own "
            "gradient, so the two do not combine (multiply the per-sample gradients by your weights)"
        )
    require_network(net, arrays=True)
    if net._flat is None:  # parameters of another library: the article's algorithm, in it
        return _array_gradients(net, X, Y, loss, per_sample, sample_weight)
    X, Y, loss, w = _prepare(net, X, Y, loss, sample_weight, finite_targets=False)
    try:
        return _gradients(net, X, Y, loss, per_sample=per_sample, w=w, fused=fused, check=True, check_Y=True)
    except (MemoryError, TooLargeError):
        raise _out_of_memory(net, X.shape[0], per_sample) from None


def _array_gradients(net: Any, X: Any, Y: Any, loss: str | Loss, per_sample: bool, sample_weight: Any) -> Gradients:
    """:func:`gradients` of a network whose parameters are another library's arrays
    (:class:`chainrule.arrays.ArrayNetwork`): :func:`chainrule.article.gradients`, in that library."""
    from . import article

    loss = get_loss(loss)
    loss.check_output(net.g[net.L])
    X = net.inputs(X)
    Y = net.targets(Y, X.shape[0])
    w = None if sample_weight is None else net.inputs(sample_weight[:, None], "sample_weight", 1)[:, 0]
    bs = None if net.b is None else net.b.to_list()
    g = article.gradients(net.W.to_list(), bs, net.g.to_list(), X, Y, loss, w, per_sample=per_sample)
    trace = Trace(a=LayerList(g.a, first=0, name="a"), z=LayerList(g.z, first=1, name="z"))
    return Gradients(
        dW=LayerList(g.dW, first=1, name="dW"),
        db=None if g.db is None else LayerList(g.db, first=1, name="db"),
        C=float(g.C),
        C0=g.C0,
        dC0_da=None,  # type: ignore[arg-type]  (the article's path keeps delta, not dC0/da)
        delta=LayerList(g.delta, first=1, name="delta"),
        g_prime=None,
        trace=trace,
        per_sample=per_sample,
        loss=loss,
    )


def _out_of_memory(net: Network, n: int, per_sample: bool, what: str = "a gradient") -> ChainruleError:
    """The error for too little memory in a pass of ``n`` samples, with what the pass needs: ``n``
    activations of every layer, five arrays each (and each sample's gradient with ``per_sample``)."""
    count = 5 * n * sum(net.sizes[1:]) + (n if per_sample else 1) * net.n_params
    what = f"{what} of {n} samples{' per sample' if per_sample else ''} on Network({shown(list(net.sizes))})"
    return out_of_memory(count * net.dtype.itemsize, what, f" ({net.dtype.name})")


def _gradients(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    *,
    per_sample: bool,
    w: np.ndarray | None,
    fused: bool,
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
    if fused and not per_sample:
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
            return _per_sample_gradients(net, X, Y, loss, fused, check, out, outer)
    n, L = X.shape[0], net.L
    ws = _result_space(net, n) if out is None else out
    dW, db = ws.dW, ws.db
    trace = net._forward(X, check=check, out=ws.za)
    dC0_da, delta, g_prime = _backward(net, trace, Y, loss, fused, out=(ws.dC0_da, ws.delta), teach=teach)
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
    return Gradients(**_parts(net, trace, C0, dC0_da, delta, dW, db, g_prime), C=float(C), per_sample=False, loss=loss)


def _per_sample_gradients(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    fused: bool,
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
    dC0_da, delta, g_prime = _backward(net, trace, Y, loss, fused, out=(ws.dC0_da, ws.delta))
    C0 = loss.C0(trace.a[L], Y, trace.z[L])
    for l, (d, a_prev, gW) in enumerate(zip(delta, trace.a._values, dW)):
        if outer is None:
            np.multiply(d[:, :, None], a_prev[:, None, :], out=gW)
        else:
            outer(d, np.ascontiguousarray(a_prev), gW)
        if net.b is not None:
            np.copyto(db[l], d)
    C = np.add.reduce(C0) / n
    return Gradients(**_parts(net, trace, C0, dC0_da, delta, dW, db, g_prime), C=float(C), per_sample=True, loss=loss)


def _parts(
    net: Network,
    trace: Trace,
    C0: np.ndarray,
    dC0_da: list[np.ndarray],
    delta: list[np.ndarray],
    dW: list[np.ndarray],
    db: list[np.ndarray],
    g_prime: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """The per-layer lists of a :class:`Gradients`, indexed by the article's layer numbers."""
    return {
        "dW": LayerList(dW, first=1, name="dW"),
        "db": LayerList(db, first=1, name="db") if net.b is not None else None,
        "C0": C0,
        "dC0_da": LayerList(dC0_da, first=1, name="dC0_da"),
        "delta": LayerList(delta, first=1, name="delta"),
        "g_prime": None if g_prime is None else LayerList(g_prime, first=1, name="g_prime"),
        "trace": trace,
    }


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
    ``delta``, ``s_i delta_i`` and ``db``. None as for :func:`_compiled_gradients`."""
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


def cost(net: Network, X: Any, Y: Any, loss: str | Loss = "squared_error", *, sample_weight: Any = None) -> float:
    """The cost ``C``: the mean over the samples of the loss ``C0`` (weighted mean with ``sample_weight``).

    >>> net = Network.from_weights([[[1.0]]], activation="identity")
    >>> cost(net, [[1.0], [2.0]], [[0.0], [0.0]])   # ((1-0)^2 + (2-0)^2) / 2
    2.5
    """
    require_network(net, arrays=True)
    if net._flat is None:
        return _array_gradients(net, X, Y, loss, False, sample_weight).C
    X, Y, loss, w = _prepare(net, X, Y, loss, sample_weight)
    try:
        return _cost(net, X, Y, loss, w, check=True)
    except (MemoryError, TooLargeError):
        raise _out_of_memory(net, X.shape[0], False, "the cost") from None


def _cost(
    net: Network, a: np.ndarray, Y: np.ndarray, loss: Loss, w: np.ndarray | None, start: int = 1, check: bool = False
) -> float:
    """The cost on validated input, with layers ``start..L`` computed from ``a = a^(start-1)``."""
    z, a = net._output(a, start, check=check)
    C0 = loss.C0(a, Y, z)
    return float(C0.mean() if w is None else (w @ C0) / w.sum())
