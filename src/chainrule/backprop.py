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

The public :func:`gradients` and :func:`cost` live here: they validate their input once, at the
edge, and pick the path. A network of another array library (PyTorch, CuPy, ...) goes to the
article's algorithm, :mod:`chainrule.article`, in that library; a NumPy network to the engine's
fast paths (:mod:`chainrule.engine.paths`), which compute the same equations with reused memory.
"""

from __future__ import annotations

from typing import Any

from ._memory import TooLargeError, out_of_memory
from ._validation import as_bool, as_inputs, as_sample_weight, as_targets
from .engine.paths import Workspace, _cost, _gradients, workspace
from .errors import ChainruleError, shown
from .layers import LayerList
from .losses import Loss, get_loss
from .network import Network, Trace, require_network
from .result import Gradients, MissingPartError

__all__ = ["Gradients", "MissingPartError", "Workspace", "cost", "gradients", "workspace"]


def _prepare(
    net: Network,
    X: Any,
    Y: Any,
    loss: str | Loss,
    sample_weight: Any = None,
    finite_targets: bool = True,
    arrays: bool = False,
) -> tuple[Any, Any, Loss, Any]:
    """Validate everything once at the public edge; what follows trusts it.

    NaN and inf in ``X`` and the parameters are left to the checked forward pass that follows;
    with ``finite_targets=False`` those in ``Y`` are left to the caller (see :func:`as_targets`).
    With ``arrays`` (an entry point that also takes networks of another array library,
    :mod:`chainrule.arrays`), such a network's inputs are checked to be arrays of its library and
    device, and stay there.
    """
    require_network(net, arrays=arrays)
    loss = get_loss(loss)
    loss.check_output(net.g[net.L])
    if net._flat is None:  # an ArrayNetwork: arrays of its library, on its device
        inputs, targets = net.inputs, net.targets  # type: ignore[attr-defined]
        X = inputs(X)
        Y = targets(Y, X.shape[0])
        w = None if sample_weight is None else inputs(sample_weight[:, None], "sample_weight", 1)[:, 0]
        return X, Y, loss, w
    X = as_inputs(X, net.sizes[0], net.dtype, finite=False)
    Y = as_targets(Y, X.shape[0], net.sizes[-1], net.dtype, loss.target_range, finite=finite_targets)
    w = None if sample_weight is None else as_sample_weight(sample_weight, X.shape[0], net.dtype)
    return X, Y, loss, w


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
        path, the article's algorithm as written (:mod:`chainrule.article`), which keeps the three
        chain-rule factors ``dC0_da``, ``g_prime`` and ``trace.a`` as separate arrays; both give the
        same gradients.

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
    X, Y, loss, w = _prepare(net, X, Y, loss, sample_weight, finite_targets=not fused, arrays=True)
    try:
        if net._flat is None:  # parameters of another library: the article's algorithm, in it
            return _article_gradients(net, X, Y, loss, per_sample, w, fused)
        if not fused:  # the explaining path: the article's algorithm, which keeps every chain-rule term
            net._forward(X, check=True)  # NaN or inf met on the way is named, as the engine's passes name it
            return _article_gradients(net, X, Y, loss, per_sample, w, fused)
        return _gradients(net, X, Y, loss, per_sample=per_sample, w=w, check=True, check_Y=True)
    except (MemoryError, TooLargeError):
        raise _out_of_memory(net, X.shape[0], per_sample) from None


def _article_gradients(net: Any, X: Any, Y: Any, loss: Loss, per_sample: bool, w: Any, fused: bool) -> Gradients:
    """:func:`chainrule.article.gradients` on checked inputs of the network's library, as a
    :class:`Gradients`; ``fused=False`` adds every layer's ``g'`` (the explaining path)."""
    from . import article

    bs = None if net.b is None else net.b.to_list()
    gs = net.g.to_list()
    g = article.gradients(net.W.to_list(), bs, gs, X, Y, loss, w, per_sample=per_sample, fused=fused)
    trace = Trace(a=LayerList(g.a, first=0, name="a"), z=LayerList(g.z, first=1, name="z"))
    g_prime = None if fused else [article.g_prime(g_l, z, a) for g_l, z, a in zip(gs, g.z, g.a[1:])]
    return Gradients(
        dW=LayerList(g.dW, first=1, name="dW"),
        db=None if g.db is None else LayerList(g.db, first=1, name="db"),
        C=g.C if net._flat is None else float(g.C),  # another library's 0-d array: read from the device when asked
        C0=g.C0,
        dC0_da=LayerList(g.dC0_da, first=1, name="dC0_da"),
        delta=LayerList(g.delta, first=1, name="delta"),
        g_prime=None if g_prime is None else LayerList(g_prime, first=1, name="g_prime"),
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


def cost(net: Network, X: Any, Y: Any, loss: str | Loss = "squared_error", *, sample_weight: Any = None) -> float:
    """The cost ``C``: the mean over the samples of the loss ``C0`` (weighted mean with ``sample_weight``).

    >>> net = Network.from_weights([[[1.0]]], activation="identity")
    >>> cost(net, [[1.0], [2.0]], [[0.0], [0.0]])   # ((1-0)^2 + (2-0)^2) / 2
    2.5
    """
    X, Y, loss, w = _prepare(net, X, Y, loss, sample_weight, arrays=True)
    try:
        if net._flat is None:  # another library: the article's cost, in it
            return _article_gradients(net, X, Y, loss, False, w, True).C
        return _cost(net, X, Y, loss, w, check=True)
    except (MemoryError, TooLargeError):
        raise _out_of_memory(net, X.shape[0], False, "the cost") from None
