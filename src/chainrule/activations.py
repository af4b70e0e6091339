r"""Activation functions ``g`` and their derivatives ``g'``: one registry, name -> class.

For a layer ``l`` the article writes ``a_j^(l) = g^(l)(z_j^(l))``; the second chain-rule term is
``da_j^(l)/dz_j^(l) = g'^(l)(z_j^(l))``. Every activation here keeps ``g`` and ``g'`` side by side:

* :meth:`Activation.g` computes ``a = g(z)``;
* :meth:`Activation.g_prime` computes ``g'(z)`` elementwise, given both ``z`` and the stored
  ``a = g(z)`` so that it can reuse ``a`` where that is exact (sigmoid: ``a (1 - a)``; tanh:
  ``1 - a^2``) instead of evaluating ``g`` again;
* :meth:`Activation.backward` computes ``delta = dC0/dz`` from ``dC0/da`` (the product of the
  first two chain-rule terms), fused and in place where it pays;
* :meth:`Activation.jacobian` gives the full ``da/dz`` per sample, ``(n, n_l, n_l)``.

Softmax is the one activation that is not elementwise: ``a_j`` depends on every ``z_m`` of its
layer, so its backward pass multiplies by the full Jacobian
``da_j/dz_m = a_j (1[j = m] - a_m)``, never by a diagonal.

A new activation is one class with a ``name`` and one entry in :data:`ACTIVATIONS`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ._validation import as_float
from .errors import ChainruleError, shown, unknown_name

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Exp",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "get_activation",
]


#: just under the log of the largest finite float per dtype: e^x overflows above that log
_LOG_MAX = {np.dtype(t).char: float(np.log(np.finfo(t).max)) - 0.01 for t in (np.float16, np.float32, np.float64)}


class Activation:
    """Base class: an activation ``g`` with its derivative ``g'``.

    Arrays are batches, one sample per row: ``z`` and ``a`` have shape ``(n_samples, n_l)``.
    Every method keeps the dtype of its input (float32 stays float32).
    """

    name: ClassVar[str] = ""
    #: True when ``a_j`` depends on ``z_j`` alone, so ``da/dz`` is diagonal.
    elementwise: ClassVar[bool] = True
    #: Weight initialisation that suits the activation: ``"glorot"`` or ``"he"``.
    init: ClassVar[str] = "glorot"
    #: ``g'`` as a formula in ``{a}``, ``{z}`` (and the parameters), as text and as LaTeX, for explaining.
    g_prime_text: ClassVar[str] = ""
    g_prime_tex: ClassVar[str] = ""

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``a = g(z)``, of ``z``'s shape and dtype, written to ``out`` if given (else a fresh array)."""
        raise NotImplementedError

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``g'(z)`` elementwise, a fresh array; ``a`` must be ``g(z)``."""
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, dC0_da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``delta = dC0/dz = dC0/da * g'(z)`` (chain-rule terms 1 x 2), written to ``out`` if given.

        ``dC0_da`` is left unchanged (unless it is ``out``).
        """
        return np.multiply(self.g_prime(z, a), dC0_da, out=out)

    # The same two steps on any array library of the array API standard (``xp`` is the arrays'
    # namespace, from array_api_compat), for the article's algorithm in :mod:`chainrule.article`:
    # no ``out=``, no NumPy-only calls. A custom activation that defines only the NumPy methods
    # still works on NumPy arrays there.
    def g_xp(self, z: Any, xp: Any) -> Any:
        """``a = g(z)`` for arrays of namespace ``xp``."""
        return _numpy_only(self, "g_xp", z, lambda: self.g(z))

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        """``delta = dC0/da * g'(z)`` (softmax: its Jacobian-vector product) for arrays of namespace ``xp``."""
        return _numpy_only(self, "backward_xp", z, lambda: self.backward(z, a, dC0_da))

    def jacobian(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``da_j/dz_m`` for every sample: shape ``(n_samples, n_l, n_l)``."""
        n, m = z.shape
        J = np.zeros((n, m, m), dtype=z.dtype)
        idx = np.arange(m)
        J[:, idx, idx] = self.g_prime(z, a)
        return J

    def params(self) -> dict[str, Any]:
        """The activation's parameters (empty for most), enough to rebuild it by name."""
        return {}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params() == other.params()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __str__(self) -> str:
        return self.name


def _numpy_only(owner: Any, method: str, x: Any, numpy_way: Any) -> Any:
    """``numpy_way()`` for a NumPy ``x``; for another library's array, the error that ``owner`` (a
    custom activation or loss) has no namespace-generic ``method``."""
    if isinstance(x, np.ndarray):
        return numpy_way()
    raise ChainruleError(
        f"{type(owner).__name__} computes on NumPy arrays only (it defines no {method}); "
        f"got {type(x).__module__}.{type(x).__name__}"
    )


def log_max(xp: Any, dtype: Any) -> float:
    """Just under the log of the largest finite float of ``dtype`` (``xp``'s): ``e^x`` overflows above it."""
    return math.log(float(xp.finfo(dtype).max)) - 0.01


def _copy(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return x.copy()
    np.copyto(out, x)
    return out


class Identity(Activation):
    """``g(z) = z``, ``g'(z) = 1``."""

    name = "identity"
    g_prime_text = "1"
    g_prime_tex = r"1"

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _copy(z, out)

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.ones_like(z)

    def backward(self, z: np.ndarray, a: np.ndarray, dC0_da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _copy(dC0_da, out)

    def g_xp(self, z: Any, xp: Any) -> Any:
        return z

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return dC0_da


class Sigmoid(Activation):
    """Logistic sigmoid ``g(z) = 1 / (1 + e^-z)``, ``g'(z) = g(z) (1 - g(z)) = a (1 - a)``.

    ``e^-z`` is capped below overflow, so ``g`` is finite and accurate for every finite ``z``
    (``g(-1000) = 1 / (1 + e^709.78) ~ 1e-308``, the true value being smaller still).
    """

    name = "sigmoid"
    g_prime_text = "{a} (1 - {a})"
    g_prime_tex = r"{a}\left(1 - {a}\right)"

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        a = np.negative(z, out=out)
        # e^-z overflows for z below -log(max float); there 1 / (1 + e^-z) is 0 to within the
        # smallest normal float, so -z is capped instead (cheaper than silencing the warning)
        np.minimum(a, _LOG_MAX[a.dtype.char], out=a)
        np.exp(a, out=a)
        a += 1
        return np.reciprocal(a, out=a)

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d = np.subtract(1, a)
        d *= a
        return d

    def backward(self, z: np.ndarray, a: np.ndarray, dC0_da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        delta = np.subtract(1, a, out=out)
        delta *= a
        delta *= dC0_da
        return delta

    def g_xp(self, z: Any, xp: Any) -> Any:
        own = getattr(xp, "sigmoid", None)  # PyTorch's: one kernel instead of the formula's five
        if own is not None:
            return own(z)
        return 1 / (1 + xp.exp(xp.clip(-z, max=log_max(xp, z.dtype))))

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return a * (1 - a) * dC0_da


class Tanh(Activation):
    """``g(z) = tanh(z)``, ``g'(z) = 1 - tanh(z)^2 = 1 - a^2``."""

    name = "tanh"
    g_prime_text = "1 - ({a})^2"
    g_prime_tex = r"1 - \left({a}\right)^2"

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.tanh(z, out=out)

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d = np.multiply(a, a)
        return np.subtract(1, d, out=d)

    def backward(self, z: np.ndarray, a: np.ndarray, dC0_da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        delta = np.multiply(a, a, out=out)
        np.subtract(1, delta, out=delta)
        delta *= dC0_da
        return delta

    def g_xp(self, z: Any, xp: Any) -> Any:
        return xp.tanh(z)

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return (1 - a * a) * dC0_da


class ReLU(Activation):
    """``g(z) = max(z, 0)``; ``g'(z) = 1`` for ``z > 0`` and ``0`` for ``z <= 0``.

    The derivative at the kink ``z = 0`` is taken as 0 (PyTorch and scikit-learn do the same).
    """

    name = "relu"
    g_prime_text = "[{z} > 0]"
    g_prime_tex = r"[{z} > 0]"
    init = "he"

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.maximum(z, 0, out=out)

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return (z > 0).astype(z.dtype)

    def backward(self, z: np.ndarray, a: np.ndarray, dC0_da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.multiply(dC0_da, z > 0, out=out)

    def g_xp(self, z: Any, xp: Any) -> Any:
        return xp.where(z > 0, z, xp.zeros_like(z))

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return xp.where(z > 0, dC0_da, xp.zeros_like(dC0_da))


class LeakyReLU(Activation):
    """``g(z) = z`` for ``z > 0`` and ``alpha z`` otherwise; ``g'(z) = 1`` or ``alpha``.

    The derivative at ``z = 0`` is ``alpha`` (the ``z <= 0`` branch), as in PyTorch.
    """

    name = "leaky_relu"
    g_prime_text = "[{z} > 0] + {alpha} [{z} <= 0]"
    g_prime_tex = r"[{z} > 0] + {alpha}\,[{z} \le 0]"
    init = "he"

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = as_float("leaky_relu alpha", alpha, low=0)

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        a = np.multiply(z, self.alpha, out=out)
        np.copyto(a, z, where=z > 0)
        return a

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d = np.full_like(z, self.alpha)
        d[z > 0] = 1
        return d

    def g_xp(self, z: Any, xp: Any) -> Any:
        return xp.where(z > 0, z, self.alpha * z)

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return xp.where(z > 0, dC0_da, self.alpha * dC0_da)

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class Softplus(Activation):
    """``g(z) = log(1 + e^z)`` (computed as ``logaddexp(0, z)``, stable), ``g'(z) = sigmoid(z)``."""

    name = "softplus"
    g_prime_text = "sigmoid({z})"
    g_prime_tex = r"\sigma\left({z}\right)"

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.logaddexp(0, z, out=out)

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return Sigmoid().g(z)

    def g_xp(self, z: Any, xp: Any) -> Any:
        return xp.logaddexp(xp.zeros_like(z), z)

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return Sigmoid().g_xp(z, xp) * dC0_da


class Exp(Activation):
    """``g(z) = e^z``, ``g'(z) = e^z = a``: a positive output, the log link of Poisson regression
    (the ``poisson`` loss; scikit-learn's ``MLPRegressor(loss="poisson")`` has this output layer).

    ``z`` is capped just below overflow, at ``log`` of the dtype's largest float minus 0.01
    (``709.77`` in float64, ``88.71`` in float32), so ``a`` is finite for every finite ``z``: below
    the cap ``g`` is ``e^z`` to rounding; above it ``e^z`` itself is beyond the dtype, and ``a``
    stays at ``e^cap`` (0.99 of the largest float) instead of overflowing to inf with a warning.
    ``g'`` there is that same ``a``, ``e^z``'s slope at the cap (not the capped function's 0), so
    a gradient still pulls ``z`` down. For very negative ``z`` (below about -745 in float64, -104
    in float32) ``a`` underflows to 0, as ``e^z`` does.
    """

    name = "exp"
    g_prime_text = "exp({z})"
    g_prime_tex = r"e^{{{z}}}"

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # e^z overflows for z above log(max float): cap z there (cheaper than silencing the warning)
        a = np.minimum(z, _LOG_MAX[z.dtype.char], out=out)
        return np.exp(a, out=a)

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return a.copy()

    def backward(self, z: np.ndarray, a: np.ndarray, dC0_da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.multiply(a, dC0_da, out=out)

    def g_xp(self, z: Any, xp: Any) -> Any:
        return xp.exp(xp.clip(z, max=log_max(xp, z.dtype)))

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return a * dC0_da


class Softmax(Activation):
    """``a_j = e^{z_j} / sum_m e^{z_m}`` over the nodes of the layer (shifted by ``max z``).

    Not elementwise: ``da_j/dz_m = a_j (1[j = m] - a_m)``. :meth:`backward` applies that full
    Jacobian as ``delta = a * (dC0/da - sum_m a_m dC0/da_m)`` in O(n_l) per sample.
    :meth:`g_prime` does not exist for it: use :meth:`jacobian`.
    """

    name = "softmax"
    elementwise = False

    def g(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        a = np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(a, out=a)
        a /= a.sum(axis=1, keepdims=True)
        return a

    def g_prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise ChainruleError(
            "softmax is not elementwise: da_j/dz_m is a full Jacobian, not one g'(z_j) per node; "
            "use Softmax().jacobian(z, a)"
        )

    def backward(self, z: np.ndarray, a: np.ndarray, dC0_da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        inner = np.einsum("ij,ij->i", dC0_da, a)[:, None]
        delta = np.subtract(dC0_da, inner, out=out)
        delta *= a
        return delta

    def g_xp(self, z: Any, xp: Any) -> Any:
        e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
        return e / xp.sum(e, axis=1, keepdims=True)

    def backward_xp(self, z: Any, a: Any, dC0_da: Any, xp: Any) -> Any:
        return a * (dC0_da - xp.sum(dC0_da * a, axis=1, keepdims=True))

    def jacobian(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        J = -a[:, :, None] * a[:, None, :]
        idx = np.arange(a.shape[1])
        J[:, idx, idx] += a
        return J


#: The registry of activations, name -> class. ``get_activation`` builds instances from it.
ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, Softplus, Exp, Softmax)
}


def get_activation(spec: str | Activation | dict[str, Any]) -> Activation:
    """An :class:`Activation` from a name (``"sigmoid"``), an instance, or ``{"name": ..., **params}``.

    >>> get_activation("tanh")
    Tanh()
    >>> get_activation({"name": "leaky_relu", "alpha": 0.2})
    LeakyReLU(alpha=0.2)
    """
    if isinstance(spec, Activation):
        return spec
    params: dict[str, Any] = {}
    if isinstance(spec, dict):
        params = dict(spec)
        spec = params.pop("name", None)  # type: ignore[assignment]
    if not isinstance(spec, str):
        raise ChainruleError(
            f"an activation is a name or an Activation instance, got {type(spec).__name__}: {shown(spec)}"
        )
    cls = ACTIVATIONS.get(spec.lower())
    if cls is None:
        raise unknown_name("activation", spec, ACTIVATIONS)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ChainruleError(f"bad parameters for activation {shown(spec)}: {shown(params)} ({exc})") from None
