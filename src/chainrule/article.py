r"""The article's algorithm, once, readable, on any array library.

"Backpropagation explained, Part 4: Calculating the gradient", in the notation of
``shared/notation.md``: layers ``0..L``, ``W^(l)`` of shape ``(n_l, n_{l-1})`` whose entry ``[j, k]``
is ``w_jk^(l)``, samples in rows. For one sample the gradient of its loss ``C0`` with respect to
any weight is three chain-rule terms,

    dC0/dw_jk^(l) = dC0/da_j^(l) * g'^(l)(z_j^(l)) * a_k^(l-1),                      (1)

the forward pass gives the last two,

    z^(l) = a^(l-1) W^(l)T + b^(l),    a^(l) = g^(l)(z^(l)),    a^(0) = x,          (2)

the loss gives the first at the output layer, and the backward recursion gives it below:

    dC0/da_k^(l-1) = sum_j w_jk^(l) * g'^(l)(z_j^(l)) * dC0/da_j^(l).                (3)

With ``delta^(l) = dC0/dz^(l)`` (terms 1 x 2 of (1)) that is ``dC0/da^(l-1) = delta^(l) W^(l)``.
The cost ``C`` of ``n`` samples is the mean of their losses, and its gradient the mean of theirs:

    dC/dW^(l) = (1/n) sum_i delta_i^(l)T a_i^(l-1),    dC/db^(l) = (1/n) sum_i delta_i^(l).   (4)

This module is that and nothing else, written against the array API standard (the namespace
``xp`` of the arrays, by ``array_api_compat.array_namespace``): NumPy, PyTorch (on its device),
CuPy, JAX, array-api-strict. It is the reference every faster path is tested against; the
compiled and hybrid NumPy paths (:mod:`chainrule.engine`: ``paths``, ``kernels``) compute
the same equations with workspaces and memory reuse, and this module imports none of them.
Activations and losses bring their own namespace-generic steps (``g_xp``, ``backward_xp``,
``C0_xp``, ``dC0_da_xp``, ``fused_delta_xp``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from array_api_compat import array_namespace, device

from .activations import Activation
from .errors import ChainruleError
from .losses import Loss, get_loss

__all__ = ["ArticleGradients", "backward", "forward", "g_prime", "gradients"]


def forward(
    Ws: Sequence[Any], bs: Sequence[Any] | None, gs: Sequence[Activation], X: Any, xp: Any = None
) -> tuple[list, list]:
    """Equation (2) for every layer: ``(z, a)`` with ``z[l-1] = z^(l)`` and ``a[l] = a^(l)``, ``a[0] = X``.
    (``xp``: the arrays' namespace, when the caller has it already.)"""
    xp = array_namespace(X, *Ws) if xp is None else xp
    zs, as_ = [], [X]
    for l, (W, g) in enumerate(zip(Ws, gs), start=1):
        z = as_[-1] @ xp.matrix_transpose(W)
        if bs is not None:
            z = z + bs[l - 1]
        zs.append(z)
        as_.append(g.g_xp(z, xp))
    return zs, as_


def backward(
    Ws: Sequence[Any],
    gs: Sequence[Activation],
    zs: Sequence[Any],
    as_: Sequence[Any],
    Y: Any,
    loss: Loss,
    fused: bool = True,
    xp: Any = None,
) -> tuple[list, list]:
    """``(dC0_da, delta)``: ``dC0/da^(l)`` and ``delta^(l) = dC0/dz^(l)`` for ``l = L..1`` (returned in
    layer order 1..L). At the output the loss gives ``dC0/da^(L)``, times ``g'`` (terms 1 x 2 of (1));
    with ``fused`` its stable shortcut gives ``delta^(L)`` at once where there is one (``a - y`` for
    softmax with cross-entropy) and ``dC0_da[L-1]`` is None. Then the recursion (3),
    ``dC0/da^(l-1) = delta^(l) W^(l)``, layer by layer towards the input."""
    xp = array_namespace(Y, *Ws) if xp is None else xp
    L = len(Ws)
    dC0_da: list[Any] = [None] * L
    deltas: list[Any] = [None] * L
    delta = loss.fused_delta_xp(gs[-1], as_[L], Y, xp) if fused else None
    if delta is None:
        dC0_da[L - 1] = loss.dC0_da_xp(as_[L], Y, xp)
        delta = gs[-1].backward_xp(zs[-1], as_[L], dC0_da[L - 1], xp)
    deltas[L - 1] = delta
    for l in range(L - 1, 0, -1):  # l: the layer whose delta is computed next
        dC0_da[l - 1] = deltas[l] @ Ws[l]  # (3): sum_j w_jk^(l+1) delta_j^(l+1)
        deltas[l - 1] = gs[l - 1].backward_xp(zs[l - 1], as_[l], dC0_da[l - 1], xp)
    return dC0_da, deltas


def g_prime(g: Activation, z: Any, a: Any) -> Any:
    """Term 2 of (1), ``da^(l)/dz^(l) = g'^(l)(z^(l))``, for explaining: of an elementwise activation
    ``g'(z_j)`` per node, shape ``(n, n_l)`` (its backward step of ``dC0/da = 1``); of one that is not
    (softmax) the Jacobian ``J[i, m, j] = da_m/dz_j`` of each sample, ``(n, n_l, n_l)``, whose row ``m``
    is the backward step of the unit vector ``e_m``."""
    xp = array_namespace(z, a)
    if g.elementwise:
        return g.backward_xp(z, a, xp.ones_like(z), xp)
    eye = xp.eye(z.shape[1], dtype=z.dtype, device=device(z))
    return xp.stack([g.backward_xp(z, a, xp.broadcast_to(eye[m, :], z.shape), xp) for m in range(z.shape[1])], axis=1)


@dataclass(frozen=True)
class ArticleGradients:
    """``dW[l-1] = dC/dW^(l)`` and ``db[l-1] = dC/db^(l)`` (None without biases), the cost ``C``,
    each sample's ``C0``, the forward pass's ``z`` and ``a``, and every layer's ``dC0_da`` and ``delta``,
    all arrays of the input's namespace and device. Lists are 0-based: position ``l - 1`` holds layer ``l``."""

    dW: list
    db: list | None
    C: Any
    C0: Any
    z: list
    a: list
    dC0_da: list
    delta: list


def gradients(
    Ws: Sequence[Any],
    bs: Sequence[Any] | None,
    gs: Sequence[Activation],
    X: Any,
    Y: Any,
    loss: str | Loss = "squared_error",
    sample_weight: Any = None,
    per_sample: bool = False,
    fused: bool = True,
) -> ArticleGradients:
    """The gradient of the cost over the samples (rows of ``X``, targets ``Y`` of shape
    ``(n, n_L)``) with respect to every weight and bias, by equations (2), (3) and (4).

    ``Ws``, ``bs``, ``X``, ``Y`` (and ``sample_weight``) must be arrays of one namespace and
    device; the results are too. ``sample_weight`` turns the mean (4) into the weighted mean
    ``sum_i w_i (...) / sum_i w_i``. ``per_sample=True`` keeps each sample's own gradient (1),
    ``delta_i a_i^T``, with a leading sample axis, instead of the mean. ``fused=False`` computes
    ``delta^(L)`` as terms 1 x 2 even where the loss has a shortcut, so that every ``dC0_da`` is kept.

    >>> import numpy as np, chainrule as cr
    >>> from chainrule.data import article_example
    >>> net, x, y = article_example()
    >>> g = gradients(list(net.W), None, list(net.g), x, y)       # the article's w_12^(L) is g.dW[1][1, 2]
    >>> bool(np.allclose(g.dW[1], cr.gradients(net, x, y).dW[2]))
    True
    """
    try:
        xp = array_namespace(X, Y, *Ws, *(bs or []), *([] if sample_weight is None else [sample_weight]))
    except TypeError as exc:
        raise ChainruleError(f"the network's parameters, X and Y must be arrays of one array library: {exc}") from None
    loss = get_loss(loss)
    if len(Ws) != len(gs) or (bs is not None and len(bs) != len(Ws)):
        raise ChainruleError(f"{len(Ws)} weight matrices need as many activations and biases; got {len(gs)}")
    zs, as_ = forward(Ws, bs, gs, X, xp)
    dC0_da, deltas = backward(Ws, gs, zs, as_, Y, loss, fused, xp)
    C0 = loss.C0_xp(as_[-1], Y, zs[-1], xp)
    if per_sample:
        dW = [d[:, :, None] * a[:, None, :] for d, a in zip(deltas, as_[:-1])]  # (1) for each sample
        db = None if bs is None else list(deltas)
        return ArticleGradients(dW=dW, db=db, C=xp.mean(C0), C0=C0, z=zs, a=as_, dC0_da=dC0_da, delta=deltas)
    # (4): each sample's share s_i of the mean, 1/n, or w_i / sum_i w_i for the weighted mean, applied
    # to delta (n x n_l, the smallest array of the product), then summed over the samples
    if sample_weight is None:
        s = 1 / X.shape[0]
        C = xp.mean(C0)
    else:
        s = sample_weight[:, None] / xp.sum(sample_weight)
        C = xp.sum(s[:, 0] * C0)
    shared = [s * d for d in deltas]
    dW = [xp.matrix_transpose(sd) @ a for sd, a in zip(shared, as_[:-1])]
    db = None if bs is None else [xp.sum(sd, axis=0) for sd in shared]
    return ArticleGradients(dW=dW, db=db, C=C, C0=C0, z=zs, a=as_, dC0_da=dC0_da, delta=deltas)
