r"""Compiled (numba) pieces of backpropagation: the whole pass for a small network, the work between
the matrix products for a large one, and per-sample outer products.

Each layer computes the same equations as the NumPy path in :mod:`chainrule.backprop`:

    z^(l) = a^(l-1) W^(l)T + b^(l),  a^(l) = g^(l)(z^(l))                       (forward)
    delta^(l) = dC0/da^(l) * g'^(l)(z^(l))                                      (terms 1 x 2)
    dC0/da^(l-1) = delta^(l) W^(l)                                              (the recursion)
    dC/dW^(l) = sum_i s_i delta_i^(l) a_i^(l-1)T,  dC/db^(l) = sum_i s_i delta_i^(l)  (x term 3, mean)

with ``s_i = 1/n`` (the article's mean) or the normalised sample weights.

* :func:`mean_gradient` is the whole pass in one call. What it saves is not arithmetic but the
  ~30 separate NumPy calls of a pass, each a few microseconds of Python, which is all the time a
  small network's gradient takes. Matrix products above a few thousand multiply-adds go to BLAS
  (``np.dot``, SciPy's), smaller ones are plain loops.
* :func:`layer_forward`, :func:`loss_layer` and :func:`layer_backward` are its per-layer steps;
  for a large network :mod:`chainrule.backprop` calls them between NumPy's matrix products, one
  pass each where NumPy makes several.
* :func:`outer_products` writes per-sample gradients ``delta_i a_i^T``.

This module imports numba; :mod:`chainrule.engine.backend` imports it on first use, when numba is installed.
Everything here trusts its inputs (validated at the public edge): C-contiguous arrays of one
float dtype, shapes that match ``sizes``.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from .._memory import block_offsets
from .codes import ACTIVATION_CODES, LOSS_CODES

__all__ = [
    "activate",
    "layer_backward",
    "backward",
    "block_offsets_compiled",
    "exp",
    "exp32",
    "layer_forward",
    "loss_layer",
    "mean_gradient",
    "outer_products",
    "sgd_step",
    "adam_step",
    "outer_products_threaded",
    "weighted_mean",
]

# the codes of the activations and losses (compile-time constants here)
IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, SOFTPLUS, SOFTMAX = (
    ACTIVATION_CODES[name] for name in ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax")
)
SQUARED_ERROR, MSE, CROSS_ENTROPY, BINARY_CROSS_ENTROPY, HALF_MSE = (
    LOSS_CODES[name] for name in ("squared_error", "mse", "cross_entropy", "binary_cross_entropy", "half_mse")
)

_SMALL_PRODUCT = 4096  # multiply-adds below which a loop beats a BLAS call

# x / 0 is inf, as in NumPy; sums may be reordered (vectorised), but NaN and inf keep their meaning
_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})

block_offsets_compiled = _jit(block_offsets)


@_jit
def _product_nt(A, W, out):  # out = A @ W.T : z = a_prev W^T
    n, k = A.shape
    m = W.shape[0]
    if n * m * k >= _SMALL_PRODUCT:
        np.dot(A, W.T, out)
        return
    for r in range(n):
        for j in range(m):
            acc = 0.0
            for c in range(k):
                acc += A[r, c] * W[j, c]
            out[r, j] = acc


@_jit
def _product_nn(D, W, out):  # out = D @ W : dC0/da^(l-1) = delta^(l) W^(l)
    n, m = D.shape
    k = W.shape[1]
    if n * m * k >= _SMALL_PRODUCT:
        np.dot(D, W, out)
        return
    out[:, :] = 0
    for r in range(n):
        for j in range(m):
            d = D[r, j]
            for c in range(k):
                out[r, c] += d * W[j, c]


@_jit
def _product_tn(S, A, out):  # out = S.T @ A : dC/dW = sum_i s_i delta_i a_i^T
    n, m = S.shape
    k = A.shape[1]
    if n * m * k >= _SMALL_PRODUCT:
        np.dot(S.T, A, out)
        return
    out[:, :] = 0
    for r in range(n):
        for j in range(m):
            d = S[r, j]
            for c in range(k):
                out[j, c] += d * A[r, c]


# e^x = 2^k e^r with r = x - k ln 2 in [-ln2/2, ln2/2] (Cody and Waite's two-part ln 2), e^r by its
# Taylor series to r^12 (truncation error below 2e-16), 2^k written straight into the exponent bits
# in two halves (no overflow on the way); within 1.5 ulp of the correctly rounded value (tested
# against np.exp), and, unlike the C library's exp, it vectorises, which is what a sigmoid layer
# spends its time on.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.44269504088896338700e00


@intrinsic
def _as_float(typingctx, bits):
    """The float64 whose bits are the int64 ``bits`` (a bit cast, no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@_jit
def exp(x):
    """``e^x`` in float64 (see above); 0 below -746, the largest float at and above 709.78, NaN for NaN."""
    y = min(max(x, -746.0), 709.78)
    k = np.floor(y * _LOG2E + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 479001600
    for c in (
        1 / 39916800,
        1 / 3628800,
        1 / 362880,
        1 / 40320,
        1 / 5040,
        1 / 720,
        1 / 120,
        1 / 24,
        1 / 6,
        0.5,
        1.0,
        1.0,
    ):
        p = p * r + c
    # k fits in int32, whose conversion and shift vectorise (AVX2 has no int64 conversion nor
    # arithmetic shift); widened to int64 only to place it in the exponent bits
    ki = np.int32(k)
    half = ki >> np.int32(1)  # 2^k = 2^half 2^(k - half), each a normal float for k in [-1076, 1024]
    v = p * _as_float((np.int64(half) + 1023) << 52) * _as_float((np.int64(ki - half) + 1023) << 52)
    return v if x == x else x


@intrinsic
def _as_float32(typingctx, bits):
    """The float32 whose bits are the int32 ``bits`` (a bit cast, no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


_F32 = np.float32
# Cephes' expf: ln 2 in two parts, its minimax polynomial for e^r - 1 - r on [-ln2/2, ln2/2]
_EXPF_POLY = tuple(_F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2))
_EXPF_POLY_HI = (_F32(1.6666665459e-1), _F32(5.0000001201e-1))


@_jit
def exp32(x):
    """``e^x`` in float32 arithmetic (twice the lanes of float64): as :func:`exp`, with Cephes'
    expf polynomial; within 2 ulp of the correctly rounded float32 (tested)."""
    y = min(max(x, _F32(-104.0)), _F32(88.72))
    k = np.floor(y * _F32(1.44269504) + _F32(0.5))
    r = (y - k * _F32(0.693359375)) - k * _F32(-2.12194440e-4)
    p = _EXPF_POLY[0]
    for c in _EXPF_POLY[1:] + _EXPF_POLY_HI:
        p = p * r + c
    p = p * (r * r) + r + _F32(1.0)
    ki = np.int32(k)  # int32 throughout: eight lanes wide, where int64 would not vectorise
    half = ki >> np.int32(1)  # 2^k = 2^half 2^(k - half), each a normal float32 for k in [-150, 128]
    bias, shift = np.int32(127), np.int32(23)
    v = p * _as_float32((half + bias) << shift) * _as_float32((ki - half + bias) << shift)
    return v if x == x else x


def sigmoid(v, logmax):
    """``1 / (1 + e^-v)``, with ``-v`` capped at ``logmax``, in ``v``'s own precision (compiled only)."""
    raise NotImplementedError("sigmoid is compiled into the kernels; chainrule.activations.Sigmoid is the NumPy one")


@overload(sigmoid, jit_options={"error_model": "numpy", "fastmath": {"reassoc", "contract"}})
def _sigmoid_for(v, logmax):
    if isinstance(v, types.Float) and v.bitwidth == 32:

        def sigmoid32(v, logmax):
            return _F32(1.0) / (_F32(1.0) + exp32(min(-v, _F32(logmax))))

        return sigmoid32

    def sigmoid64(v, logmax):
        return 1.0 / (1.0 + exp(min(-v, logmax)))

    return sigmoid64


# The elementwise activations: g(v) and, for the backward pass, g'(z) from z and a = g(z).
@_jit
def _g_identity(v, alpha, logmax):
    return v


@_jit
def _g_sigmoid(v, alpha, logmax):
    return sigmoid(v, logmax)


@_jit
def _g_tanh(v, alpha, logmax):
    return np.tanh(v)


@_jit
def _g_relu(v, alpha, logmax):
    return max(v, 0.0)


@_jit
def _g_leaky_relu(v, alpha, logmax):
    return v if v > 0 else alpha * v


@_jit
def _g_softplus(v, alpha, logmax):
    return max(v, 0.0) + np.log1p(np.exp(-abs(v)))


@_jit
def _g_prime_identity(z, a, alpha, logmax):
    return 1.0


@_jit
def _g_prime_sigmoid(z, a, alpha, logmax):
    return (1 - a) * a


@_jit
def _g_prime_tanh(z, a, alpha, logmax):
    return 1 - a * a


@_jit
def _g_prime_relu(z, a, alpha, logmax):
    return 1.0 if z > 0 else 0.0


@_jit
def _g_prime_leaky_relu(z, a, alpha, logmax):
    return 1.0 if z > 0 else alpha


@_jit
def _g_prime_softplus(z, a, alpha, logmax):
    return sigmoid(z, logmax)


def _compiled(loop, name):
    loop.__name__ = loop.__qualname__ = name  # its own name: numba's cache files are named after it
    return _jit(loop)


def _forward_loop(g, name):
    """The forward pass over one layer for the elementwise ``g``: ``z += b``, ``a = g(z)``, and the
    sum of ``z - z`` (0 exactly when ``z`` holds no NaN or inf), in one pass. A loop of its own per
    activation, so that each vectorises; the sum is kept in ``z``'s own precision for the same
    reason."""

    def loop(z, b, alpha, logmax, a):
        n, m = z.shape
        total = z[0, 0] - z[0, 0]
        for r in range(n):
            for j in range(m):
                v = z[r, j] + b[j]
                z[r, j] = v
                total += v - v
                a[r, j] = g(v, alpha, logmax)
        return total

    return _compiled(loop, f"forward_{name}")


def _backward_loop(g_prime, name):
    """The backward pass over one layer for the elementwise ``g``: ``delta = dC0/da * g'(z)``,
    ``scaled_i = shares_i delta_i`` and ``db += sum_i scaled_i``, in one pass (one loop per
    activation, as for :func:`_forward_loop`)."""

    def loop(z, a, da, delta, alpha, logmax, shares, scaled, db):
        n, m = z.shape
        for r in range(n):
            share = shares[r]
            for j in range(m):
                d = da[r, j] * g_prime(z[r, j], a[r, j], alpha, logmax)
                delta[r, j] = d
                scaled[r, j] = d * share
                db[j] += d * share

    return _compiled(loop, f"backward_{name}")


_forward_identity = _forward_loop(_g_identity, "identity")
_forward_sigmoid = _forward_loop(_g_sigmoid, "sigmoid")
_forward_tanh = _forward_loop(_g_tanh, "tanh")
_forward_relu = _forward_loop(_g_relu, "relu")
_forward_leaky_relu = _forward_loop(_g_leaky_relu, "leaky_relu")
_forward_softplus = _forward_loop(_g_softplus, "softplus")
_backward_identity = _backward_loop(_g_prime_identity, "identity")
_backward_sigmoid = _backward_loop(_g_prime_sigmoid, "sigmoid")
_backward_tanh = _backward_loop(_g_prime_tanh, "tanh")
_backward_relu = _backward_loop(_g_prime_relu, "relu")
_backward_leaky_relu = _backward_loop(_g_prime_leaky_relu, "leaky_relu")
_backward_softplus = _backward_loop(_g_prime_softplus, "softplus")


@_jit
def _forward_softmax(z, b, a):
    """As :func:`_forward_loop` for softmax, row by row: ``a_j = e^(z_j - max z) / sum_m e^(z_m - max z)``."""
    n, m = z.shape
    total = z[0, 0] - z[0, 0]
    for r in range(n):
        for j in range(m):
            v = z[r, j] + b[j]
            z[r, j] = v
            total += v - v
        top = z[r, 0]
        for j in range(1, m):
            top = max(top, z[r, j])
        sum_e = 0.0
        for j in range(m):
            e = np.exp(z[r, j] - top)
            a[r, j] = e
            sum_e += e
        for j in range(m):
            a[r, j] /= sum_e
    return total


@_jit
def _backward_softmax(a, da, delta, shares, scaled, db):
    """As :func:`_backward_loop` for softmax: its Jacobian applied, ``delta = a * (da - sum_m a_m da_m)``."""
    n, m = a.shape
    for r in range(n):
        inner = 0.0
        for j in range(m):
            inner += da[r, j] * a[r, j]
        share = shares[r]
        for j in range(m):
            d = (da[r, j] - inner) * a[r, j]
            delta[r, j] = d
            scaled[r, j] = d * share
            db[j] += d * share


@_jit
def activate(code, alpha, logmax, z, b, a):
    """``z += b``, then ``a = g(z)`` for the activation ``code``, in one pass over ``z``; returns the
    sum of ``z - z`` over all entries, 0 exactly when ``z`` holds no NaN or inf."""
    if code == SIGMOID:
        return _forward_sigmoid(z, b, alpha, logmax, a)
    if code == TANH:
        return _forward_tanh(z, b, alpha, logmax, a)
    if code == RELU:
        return _forward_relu(z, b, alpha, logmax, a)
    if code == LEAKY_RELU:
        return _forward_leaky_relu(z, b, alpha, logmax, a)
    if code == SOFTPLUS:
        return _forward_softplus(z, b, alpha, logmax, a)
    if code == SOFTMAX:
        return _forward_softmax(z, b, a)
    return _forward_identity(z, b, alpha, logmax, a)


@_jit
def backward(code, alpha, logmax, z, a, da, delta, shares, scaled, db):
    """``delta = dC0/da * g'(z)`` (for softmax: the Jacobian applied), ``scaled_i = shares_i delta_i``
    and ``db += sum_i scaled_i``, in one pass."""
    if code == SIGMOID:
        _backward_sigmoid(z, a, da, delta, alpha, logmax, shares, scaled, db)
    elif code == TANH:
        _backward_tanh(z, a, da, delta, alpha, logmax, shares, scaled, db)
    elif code == RELU:
        _backward_relu(z, a, da, delta, alpha, logmax, shares, scaled, db)
    elif code == LEAKY_RELU:
        _backward_leaky_relu(z, a, da, delta, alpha, logmax, shares, scaled, db)
    elif code == SOFTPLUS:
        _backward_softplus(z, a, da, delta, alpha, logmax, shares, scaled, db)
    elif code == SOFTMAX:
        _backward_softmax(a, da, delta, shares, scaled, db)
    else:
        _backward_identity(z, a, da, delta, alpha, logmax, shares, scaled, db)


@_jit
def _shares(s, n, dtype):
    """Each sample's share of the mean: ``s``, or ``1/n`` each when ``s`` is None."""
    if s is None:
        return np.full(n, 1.0 / n, dtype)
    return s.astype(dtype)


@_jit
def layer_backward(code, alpha, logmax, z, a, da, delta, s, scaled, db):
    """The backward step of one layer: ``delta`` (terms 1 x 2), ``scaled_i = s_i delta_i`` (``s``
    None: ``1/n``, the article's mean) and ``db = sum_i scaled_i`` (when ``db`` has entries), in one
    pass; the caller's ``scaled^T a^(l-1)`` is then ``dC/dW^(l)``. Where a loss's shortcut has
    already written ``delta^(L)``, the caller passes it as ``da`` with the identity's code."""
    n, m = z.shape
    sums = db if db.shape[0] else np.empty(m, delta.dtype)
    sums[:] = 0
    backward(code, alpha, logmax, z, a, da, delta, _shares(s, n, delta.dtype), scaled, sums)


@_jit
def loss_layer(code, z, a, Y, C0, da, delta, teach):
    """C0 per sample; ``dC0/da^(L)`` (unless the fused shortcut makes it unneeded and ``teach`` is off);
    for cross-entropy on softmax and binary cross-entropy on sigmoid, the shortcut ``delta^(L)``.
    Returns whether ``delta`` was written."""
    n, m = a.shape
    for r in range(n):
        c = 0.0
        if code == SQUARED_ERROR or code == MSE or code == HALF_MSE:
            scale = 2.0 if code == SQUARED_ERROR else 2.0 / m if code == MSE else 1.0 / m
            for j in range(m):
                diff = a[r, j] - Y[r, j]
                c += diff * diff
                da[r, j] = scale * diff
            if code == MSE:
                c /= m
            elif code == HALF_MSE:
                c /= 2 * m
        elif code == CROSS_ENTROPY:
            # C0 = logsumexp(z) sum_j y_j - sum_j y_j z_j ; delta = a sum_j y_j - y
            top = z[r, 0]
            for j in range(1, m):
                top = max(top, z[r, j])
            total = 0.0
            y_sum = 0.0
            yz = 0.0
            for j in range(m):
                total += np.exp(z[r, j] - top)
                y_sum += Y[r, j]
                yz += Y[r, j] * z[r, j]
            c = (np.log(total) + top) * y_sum - yz
            for j in range(m):
                delta[r, j] = a[r, j] * y_sum - Y[r, j]
                if teach:
                    da[r, j] = -Y[r, j] / a[r, j] if Y[r, j] != 0 else 0.0
        else:  # BINARY_CROSS_ENTROPY: C0 = sum_j softplus(z_j) - y_j z_j ; delta = a - y
            for j in range(m):
                v = z[r, j]
                c += max(v, 0.0) + np.log1p(np.exp(-abs(v))) - Y[r, j] * v
                delta[r, j] = a[r, j] - Y[r, j]
                if teach:
                    da[r, j] = (a[r, j] - Y[r, j]) / (a[r, j] * (1.0 - a[r, j]))
        C0[r] = c
    return code == CROSS_ENTROPY or code == BINARY_CROSS_ENTROPY


@_jit
def layer_forward(z, b, code, alpha, logmax, a, check):
    """``z += b`` (no bias when ``b`` is empty), then ``a = g(z)``; False when ``check`` is on and
    ``z`` holds NaN or inf (``a`` is then not to be used)."""
    bias = b if b.shape[0] else np.zeros(z.shape[1], z.dtype)
    return activate(code, alpha, logmax, z, bias, a) == 0 or not check


@_jit
def mean_gradient(X, Y, theta, sizes, codes, alphas, loss, bias, s, buf, grad, pad, logmax, check, teach):
    """The forward pass, the backward recursion and the (weighted) mean gradient, in one call.

    Writes ``z``, ``a``, ``dC0/da``, ``delta`` and the scaled ``delta`` of every layer and each
    sample's ``C0`` into ``buf`` (laid out by :func:`block_offsets`), the mean gradient into
    ``grad`` (in :meth:`Network.parameters` order). ``s`` is None for the mean over the samples,
    else each sample's share. Returns ``(0, C)``, or ``(l, nan)`` when ``check`` is on and
    ``z^(l)`` is not finite (the caller then names the culprit).
    """
    n = X.shape[0]
    L = sizes.shape[0] - 1
    off = block_offsets_compiled(n, sizes, pad)
    at = np.empty(L + 1, np.int64)  # where W^(l) starts in theta (and grad), then the total
    at[0] = 0
    for i in range(L):
        at[i + 1] = at[i] + sizes[i + 1] * sizes[i] + (sizes[i + 1] if bias else 0)

    a_prev = X
    for i in range(L):
        m, k = sizes[i + 1], sizes[i]
        z = buf[off[5 * i] : off[5 * i] + n * m].reshape(n, m)
        a = buf[off[5 * i + 1] : off[5 * i + 1] + n * m].reshape(n, m)
        _product_nt(a_prev, theta[at[i] : at[i] + m * k].reshape(m, k), z)
        if not layer_forward(z, theta[at[i] + m * k : at[i + 1]], codes[i], alphas[i], logmax, a, check):
            return i + 1, np.nan
        a_prev = a

    C0 = buf[off[5 * L] : off[5 * L] + n]
    for i in range(L - 1, -1, -1):
        m, k = sizes[i + 1], sizes[i]
        z = buf[off[5 * i] : off[5 * i] + n * m].reshape(n, m)
        a = buf[off[5 * i + 1] : off[5 * i + 1] + n * m].reshape(n, m)
        da = buf[off[5 * i + 2] : off[5 * i + 2] + n * m].reshape(n, m)
        delta = buf[off[5 * i + 3] : off[5 * i + 3] + n * m].reshape(n, m)
        scaled = buf[off[5 * i + 4] : off[5 * i + 4] + n * m].reshape(n, m)
        db = grad[at[i] + m * k : at[i + 1]]
        if i == L - 1 and loss_layer(loss, z, a, Y, C0, da, delta, teach):  # delta^(L) is written
            layer_backward(IDENTITY, 0.0, logmax, z, a, delta, delta, s, scaled, db)
        else:
            layer_backward(codes[i], alphas[i], logmax, z, a, da, delta, s, scaled, db)
        if i > 0:
            _product_nn(
                delta,
                theta[at[i] : at[i] + m * k].reshape(m, k),
                buf[off[5 * i - 3] : off[5 * i - 3] + n * k].reshape(n, k),
            )
            a_prev = buf[off[5 * i - 4] : off[5 * i - 4] + n * k].reshape(n, k)
        else:
            a_prev = X
        _product_tn(scaled, a_prev, grad[at[i] : at[i] + m * k].reshape(m, k))
    return 0, weighted_mean(C0, s)


@_jit
def weighted_mean(C0, s):
    """``C = sum_i s_i C0_i`` (``s`` None: the mean)."""
    n = C0.shape[0]
    C = 0.0
    if s is None:
        for r in range(n):
            C += C0[r]
        return C / n
    for r in range(n):
        C += C0[r] * s[r]
    return C


def _outer_products(D, A, out):
    """``out[i] = D[i] A[i]^T`` for every sample ``i``: each sample's own ``dC_i/dW = delta_i a_i^T``.

    The work is writing the result, row after row, at memory speed: one thread writes it about
    twice as fast as NumPy's broadcast multiply, two threads twice as fast again."""
    n, m = D.shape
    k = A.shape[1]
    for i in numba.prange(n):
        for j in range(m):
            d = D[i, j]
            for c in range(k):
                out[i, j, c] = d * A[i, c]


outer_products = _jit(_outer_products)
outer_products_threaded = numba.njit(cache=True, nogil=True, parallel=True)(_outer_products)


@_jit
def sgd_step(p, g, mask, c, velocity, momentum, lr, nesterov):
    """scikit-learn's SGD step on the parameter vector, with its L2 penalty folded in, in one pass:
    ``g_i + c mask_i p_i``, then ``v_i <- mu v_i - lr g_i`` and ``p_i += mu v_i - lr g_i`` (Nesterov)
    or ``p_i += v_i`` (without momentum, ``p_i -= lr g_i``). Returns ``sum_i mask_i p_i^2`` of the
    weights before the step (for the penalty's share of the loss)."""
    sq = 0.0
    for i in range(p.shape[0]):
        pi = p[i]
        wp = mask[i] * pi
        sq += wp * pi
        gi = g[i] + c * wp
        if momentum == 0.0:
            p[i] = pi - lr * gi
        else:
            vi = momentum * velocity[i] - lr * gi
            velocity[i] = vi
            p[i] = pi + (momentum * vi - lr * gi if nesterov else vi)
    return sq


@_jit
def adam_step(p, g, mask, c, m, v, beta_1, beta_2, lr, eps):
    """scikit-learn's Adam step (``lr`` already holds its bias corrections) with the L2 penalty
    folded in, in one pass; returns ``sum_i mask_i p_i^2`` before the step, as :func:`sgd_step`."""
    sq = 0.0
    for i in range(p.shape[0]):
        pi = p[i]
        wp = mask[i] * pi
        sq += wp * pi
        gi = g[i] + c * wp
        mi = beta_1 * m[i] + (1.0 - beta_1) * gi
        vi = beta_2 * v[i] + (1.0 - beta_2) * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = pi + (-lr * mi) / (np.sqrt(vi) + eps)
    return sq
