r"""Losses ``C0`` for one sample and their gradients ``dC0/da^(L)``: one registry, name -> class.

The article's loss is the squared error summed over the output nodes, with no 1/2:

    C0 = sum_j (a_j^(L) - y_j)^2,            dC0/da_j^(L) = 2 (a_j^(L) - y_j)

which is the first chain-rule term for an output weight. The cost over ``n`` samples is the mean
``C = (1/n) sum_i C_i`` (:func:`chainrule.gradients` takes that mean). Every loss here keeps its
value and its gradient side by side, and the tests check them as a pair against finite
differences for one and several outputs.

Losses that need a particular output activation have a fused shortcut straight to
``delta^(L) = dC0/dz^(L)``: softmax with ``cross_entropy`` gives ``a * sum(y) - y`` (``a - y`` for
one-hot ``y``), sigmoid with ``binary_cross_entropy`` gives ``a - y``, and so does exp with
``poisson``. The shortcut is stable where ``dC0/da`` alone is not (``-y/a`` for tiny ``a``); the
unfused route is kept for explaining, and the tests prove both agree.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._validation import undefined_methods
from .activations import _LOG_MAX, Activation, Exp, Sigmoid, Softmax, _numpy_only, log_max
from .errors import ChainruleError, shown, unknown_name

__all__ = [
    "LOSSES",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Loss",
    "MeanSquaredError",
    "PoissonDeviance",
    "SquaredError",
    "get_loss",
]


class Loss:
    """Base class: ``C0`` per sample and ``dC0/da^(L)``.

    ``a`` and ``Y`` have shape ``(n_samples, n_L)``; ``C0`` returns shape ``(n_samples,)``.
    """

    name: ClassVar[str] = ""
    #: Range every target value must lie in, or None for any finite value.
    target_range: ClassVar[tuple[float, float] | None] = None
    #: ``C0`` and ``dC0/da_j^(L)`` as formulas in ``{a}``, ``{y}``, ``{n}`` (output nodes), for explaining.
    C0_text: ClassVar[str] = ""
    dC0_da_text: ClassVar[str] = ""
    dC0_da_tex: ClassVar[str] = ""
    #: The output activation the loss needs (None: any), and why.
    output: ClassVar[type[Activation] | None] = None
    output_reason: ClassVar[str] = ""

    def C0(self, a: np.ndarray, Y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """The loss of each sample, shape ``(n_samples,)``. ``z`` (if given) allows a stable form."""
        raise NotImplementedError

    def dC0_da(self, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``dC0/da^(L)``, the first chain-rule term for the output layer, into ``out`` if given."""
        raise NotImplementedError

    def fused_delta(
        self, g: Activation, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray | None:
        """``delta^(L) = dC0/dz^(L)`` in one stable step when the output activation ``g`` allows it.

        Returns None when there is no shortcut for ``g``; backprop then multiplies ``dC0/da`` by
        ``g'`` (or softmax's Jacobian).
        """
        return None

    # The same on any array library of the array API standard (``xp``: the arrays' namespace), for
    # the article's algorithm in :mod:`chainrule.article`. A custom loss that defines only the NumPy
    # methods still works on NumPy arrays there.
    def C0_xp(self, a: Any, Y: Any, z: Any, xp: Any) -> Any:
        """The loss of each sample for arrays of namespace ``xp`` (``z``: the output's pre-activation)."""
        return _numpy_only(self, "C0_xp", a, lambda: self.C0(a, Y, z))

    def dC0_da_xp(self, a: Any, Y: Any, xp: Any) -> Any:
        """``dC0/da^(L)`` for arrays of namespace ``xp``."""
        return _numpy_only(self, "dC0_da_xp", a, lambda: self.dC0_da(a, Y))

    def fused_delta_xp(self, g: Activation, a: Any, Y: Any, xp: Any) -> Any | None:
        """``delta^(L)`` in one stable step when the output activation allows it, else None."""
        return None

    def check_output(self, g: Activation) -> None:
        """Raise :class:`ChainruleError` if this loss does not fit an output layer with activation ``g``."""
        if self.output is None or isinstance(g, self.output):
            return
        fits = [L.name for L in LOSSES.values() if L.output is not None and isinstance(g, L.output)]
        hint = f" for {g.name} outputs use {fits[0]};" if fits else ""
        raise ChainruleError(
            f"loss '{self.name}' does not fit a {g.name} output layer: {self.output_reason}, so the "
            f"output activation must be {self.output.name};{hint} or use squared_error"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(self.name)


class SquaredError(Loss):
    """The article's loss: ``C0 = sum_j (a_j - y_j)^2``, ``dC0/da_j = 2 (a_j - y_j)``."""

    name = "squared_error"
    C0_text = "sum_j (a_j - y_j)^2"
    dC0_da_text = "2 ({a} - {y})"
    dC0_da_tex = r"2\left({a} - {y}\right)"

    def C0(self, a: np.ndarray, Y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        r = np.subtract(a, Y)
        return np.einsum("ij,ij->i", r, r)

    def dC0_da(self, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        d = np.subtract(a, Y, out=out)
        d *= 2
        return d

    #: ``C0 = scale * sum_j (a_j - y_j)^2`` with ``scale`` = 1, ``1/n_L`` (mse) or ``1/(2 n_L)`` (half_mse)
    def _scale(self, n_L: int) -> float:
        return 1.0

    def C0_xp(self, a: Any, Y: Any, z: Any, xp: Any) -> Any:
        return self._scale(a.shape[1]) * xp.sum((a - Y) ** 2, axis=1)

    def dC0_da_xp(self, a: Any, Y: Any, xp: Any) -> Any:
        return (2 * self._scale(a.shape[1])) * (a - Y)


class MeanSquaredError(Loss):
    """Mean over the outputs: ``C0 = (1/n_L) sum_j (a_j - y_j)^2``, ``dC0/da_j = 2 (a_j - y_j) / n_L``."""

    name = "mse"
    C0_text = "(1/n_L) sum_j (a_j - y_j)^2"
    dC0_da_text = "2 ({a} - {y}) / {n}"
    dC0_da_tex = r"\frac{{2\left({a} - {y}\right)}}{{{n}}}"

    def C0(self, a: np.ndarray, Y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        r = np.subtract(a, Y)
        c = np.einsum("ij,ij->i", r, r)
        c /= a.shape[1]
        return c

    def dC0_da(self, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        d = np.subtract(a, Y, out=out)
        d *= 2 / a.shape[1]
        return d

    def _scale(self, n_L: int) -> float:
        return 1.0 / n_L

    C0_xp = SquaredError.C0_xp
    dC0_da_xp = SquaredError.dC0_da_xp


class HalfMeanSquaredError(MeanSquaredError):
    """Half the mean over the outputs, scikit-learn's squared error:
    ``C0 = (1/(2 n_L)) sum_j (a_j - y_j)^2``, ``dC0/da_j = (a_j - y_j) / n_L``.

    What :class:`chainrule.sklearn.MLPRegressor` minimises (plus its penalty); half of ``mse``.
    """

    name = "half_mse"
    C0_text = "(1/(2 n_L)) sum_j (a_j - y_j)^2"
    dC0_da_text = "({a} - {y}) / {n}"
    dC0_da_tex = r"\frac{{{a} - {y}}}{{{n}}}"

    def C0(self, a: np.ndarray, Y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        c = super().C0(a, Y, z)
        c /= 2
        return c

    def dC0_da(self, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        d = np.subtract(a, Y, out=out)
        d /= a.shape[1]
        return d

    def _scale(self, n_L: int) -> float:
        return 0.5 / n_L


class CrossEntropy(Loss):
    """Categorical cross-entropy on softmax outputs: ``C0 = -sum_j y_j log a_j``.

    ``dC0/da_j = -y_j / a_j``; fused with softmax, ``dC0/dz_j = a_j sum_m y_m - y_j``
    (``a_j - y_j`` for one-hot targets). Targets are class labels ``0..n_L-1`` or rows of
    probabilities in ``[0, 1]``. The value is computed from ``z`` as ``-sum_j y_j log_softmax(z)_j``,
    finite even when some ``a_j`` underflow to 0.
    """

    name = "cross_entropy"
    C0_text = "-sum_j y_j log a_j"
    dC0_da_text = "-{y} / {a}"
    dC0_da_tex = r"-\frac{{{y}}}{{{a}}}"
    target_range = (0.0, 1.0)
    output = Softmax
    output_reason = "it reads the outputs as one probability distribution"

    def C0(self, a: np.ndarray, Y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        if z is not None:
            # log a_j = z_j - logsumexp(z), so C0 = logsumexp(z) sum_j y_j - sum_j y_j z_j (finite for finite z)
            zmax = z.max(axis=1)
            e = np.subtract(z, zmax[:, None])
            np.exp(e, out=e)
            lse = np.log(e.sum(axis=1))
            lse += zmax
            c = lse * Y.sum(axis=1)
            c -= np.einsum("ij,ij->i", Y, z)
            return c
        with np.errstate(divide="ignore"):
            log_a = np.where(Y == 0, 0, np.log(a))  # 0 * log 0 = 0
        return -np.einsum("ij,ij->i", Y, log_a)

    def dC0_da(self, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.zeros_like(a)
        else:
            out.fill(0)
        with np.errstate(divide="ignore"):
            np.divide(Y, a, out=out, where=Y != 0)
        return np.negative(out, out=out)

    def fused_delta(
        self, g: Activation, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray | None:
        if not isinstance(g, Softmax):
            return None
        delta = np.multiply(a, Y.sum(axis=1, keepdims=True), out=out)
        delta -= Y
        return delta

    def C0_xp(self, a: Any, Y: Any, z: Any, xp: Any) -> Any:
        # log a_j = z_j - logsumexp(z): C0 = logsumexp(z) sum_j y_j - sum_j y_j z_j
        top = xp.max(z, axis=1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(z - top), axis=1)) + top[:, 0]
        return lse * xp.sum(Y, axis=1) - xp.sum(Y * z, axis=1)

    def dC0_da_xp(self, a: Any, Y: Any, xp: Any) -> Any:
        return xp.where(Y != 0, -Y / xp.where(Y != 0, a, xp.ones_like(a)), xp.zeros_like(a))

    def fused_delta_xp(self, g: Activation, a: Any, Y: Any, xp: Any) -> Any | None:
        return a * xp.sum(Y, axis=1, keepdims=True) - Y if isinstance(g, Softmax) else None


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on sigmoid outputs, summed over the outputs:
    ``C0 = -sum_j [y_j log a_j + (1 - y_j) log(1 - a_j)]``.

    ``dC0/da_j = (a_j - y_j) / (a_j (1 - a_j))``; fused with sigmoid, ``dC0/dz_j = a_j - y_j``.
    Targets lie in ``[0, 1]`` (labels 0/1, or probabilities; several outputs are independent
    labels). The value is computed from ``z`` as ``sum_j softplus(z_j) - y_j z_j``.
    """

    name = "binary_cross_entropy"
    C0_text = "-sum_j [y_j log a_j + (1 - y_j) log(1 - a_j)]"
    dC0_da_text = "({a} - {y}) / ({a} (1 - {a}))"
    dC0_da_tex = r"\frac{{{a} - {y}}}{{{a}\left(1 - {a}\right)}}"
    target_range = (0.0, 1.0)
    output = Sigmoid
    output_reason = "it needs each output in (0, 1) on its own"

    def C0(self, a: np.ndarray, Y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        if z is not None:
            c = np.logaddexp(0, z)
            c -= Y * z
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                c = -(np.where(Y == 0, 0, Y * np.log(a)) + np.where(Y == 1, 0, (1 - Y) * np.log1p(-a)))
        return c.sum(axis=1)

    def dC0_da(self, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        d = np.subtract(a, Y, out=out)
        with np.errstate(divide="ignore", invalid="ignore"):
            d /= a * (1 - a)
        return d

    def fused_delta(
        self, g: Activation, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray | None:
        if not isinstance(g, Sigmoid):
            return None
        return np.subtract(a, Y, out=out)

    def C0_xp(self, a: Any, Y: Any, z: Any, xp: Any) -> Any:
        return xp.sum(xp.logaddexp(xp.zeros_like(z), z) - Y * z, axis=1)

    def dC0_da_xp(self, a: Any, Y: Any, xp: Any) -> Any:
        return (a - Y) / (a * (1 - a))

    def fused_delta_xp(self, g: Activation, a: Any, Y: Any, xp: Any) -> Any | None:
        return a - Y if isinstance(g, Sigmoid) else None


class PoissonDeviance(Loss):
    """Half the Poisson deviance on exp outputs, summed over the outputs, as scikit-learn's
    ``MLPRegressor(loss="poisson")`` defines it:
    ``C0 = sum_j [y_j log(y_j / a_j) - y_j + a_j]``, with ``y log y = 0`` at ``y = 0``.

    ``dC0/da_j = 1 - y_j / a_j``; fused with exp (``g' = a``), ``dC0/dz_j = a_j - y_j``. Targets
    are counts or rates, ``y_j >= 0``; ``a_j = e^{z_j}`` is the predicted mean. The value is
    computed from ``z`` as ``sum_j y_j (log y_j - z_j) - y_j + a_j`` (``log a_j = z_j``), finite
    even when ``a_j`` underflows to 0. Each term is ``>= 0``, with its minimum 0 at ``a_j = y_j``.
    """

    name = "poisson"
    C0_text = "sum_j [y_j log(y_j / a_j) - y_j + a_j]"
    dC0_da_text = "1 - {y} / {a}"
    dC0_da_tex = r"1 - \frac{{{y}}}{{{a}}}"
    target_range = (0.0, np.inf)
    output = Exp
    output_reason = "it reads each output as a positive mean, log a_j = z_j"

    def C0(self, a: np.ndarray, Y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        positive = Y > 0
        log_y = np.log(Y, out=np.zeros_like(Y), where=positive)  # y log y = 0 at y = 0
        if z is not None:  # log a = z, capped where Exp caps it (so a = e^z here too)
            c = np.subtract(log_y, np.minimum(z, _LOG_MAX[z.dtype.char]), out=log_y)
        else:
            with np.errstate(divide="ignore"):  # a = 0: log a = -inf, C0 = inf where y > 0
                c = np.subtract(log_y, np.log(a), out=log_y)
        with np.errstate(invalid="ignore"):  # 0 * inf where y = 0 and a = 0, set to 0 below
            c *= Y
        if z is None:
            np.copyto(c, 0, where=~positive)
        c -= Y
        c += a
        return c.sum(axis=1)

    def dC0_da(self, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.zeros_like(a)
        else:
            out.fill(0)
        with np.errstate(divide="ignore"):  # y > 0 and a = 0: -inf, shown as it is
            np.divide(Y, a, out=out, where=Y != 0)
        return np.subtract(1, out, out=out)

    def fused_delta(
        self, g: Activation, a: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray | None:
        if not isinstance(g, Exp):
            return None
        return np.subtract(a, Y, out=out)

    def C0_xp(self, a: Any, Y: Any, z: Any, xp: Any) -> Any:
        positive = Y > 0
        ylogy = xp.where(positive, Y * xp.log(xp.where(positive, Y, xp.ones_like(Y))), xp.zeros_like(Y))
        log_a = xp.clip(z, max=log_max(xp, z.dtype))
        return xp.sum(ylogy - Y * log_a - Y + a, axis=1)

    def dC0_da_xp(self, a: Any, Y: Any, xp: Any) -> Any:
        with np.errstate(divide="ignore"):  # y > 0 and a = 0: -inf, shown as it is (NumPy would warn)
            return 1 - xp.where(Y != 0, Y / xp.where(Y != 0, a, xp.ones_like(a)), xp.zeros_like(a))

    def fused_delta_xp(self, g: Activation, a: Any, Y: Any, xp: Any) -> Any | None:
        return a - Y if isinstance(g, Exp) else None


#: The registry of losses, name -> class. ``get_loss`` builds instances from it.
LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (SquaredError, MeanSquaredError, HalfMeanSquaredError, CrossEntropy, BinaryCrossEntropy, PoissonDeviance)
}


_complete: set[type] = set()  # Loss classes that define C0 and dC0_da


def _require_complete(cls: type) -> None:
    """Refuse a custom loss that lacks ``C0`` or ``dC0_da`` here, not with NotImplementedError mid-pass."""
    missing = undefined_methods(cls, Loss, ("C0", "dC0_da"))
    if missing:
        raise ChainruleError(
            f"loss: {cls.__name__} does not define {' and '.join(missing)}; a Loss subclass needs both"
        )
    _complete.add(cls)


def get_loss(spec: str | Loss) -> Loss:
    """A :class:`Loss` from its name or an instance.

    >>> get_loss("squared_error")
    SquaredError()
    """
    if isinstance(spec, Loss):
        if type(spec) not in _complete:
            _require_complete(type(spec))
        return spec
    if not isinstance(spec, str):
        raise ChainruleError(f"loss: a loss is a name or a Loss instance, got {type(spec).__name__}: {shown(spec)}")
    cls = LOSSES.get(spec.lower())
    if cls is None:
        raise unknown_name("loss", spec, LOSSES)
    return cls()
