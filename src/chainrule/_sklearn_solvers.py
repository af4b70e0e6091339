"""scikit-learn's stochastic solvers, on chainrule's one parameter vector.

The update rules of scikit-learn's ``SGDOptimizer`` and ``AdamOptimizer``
(``sklearn/neural_network/_stochastic_optimizers.py``), with the same meaning of every setting
and the same floating-point operations in the same order, so that :mod:`chainrule.sklearn`
trains exactly as scikit-learn's estimators do. They differ from :class:`chainrule.SGD` and
:class:`chainrule.Adam` where scikit-learn's do: the velocity holds ``-lr g`` terms (so a
learning rate that changes mid-way weighs old and new steps differently), Adam folds its bias
corrections into the learning rate (``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``, then
``-lr_t m / (sqrt(v) + eps)``), and the learning rate can follow scikit-learn's
``"invscaling"`` and ``"adaptive"`` schedules.

Each works in place on the flat vector ``p`` (``Network._flat``) with a gradient ``g`` of the
same layout, and folds in scikit-learn's L2 penalty: ``update(p, g, c, mask)`` steps along
``g + c mask p`` (``mask`` is 1 on the weights, 0 on the biases) and returns ``sum mask p^2`` before
the step, the penalty's share of the loss. With numba that is one compiled pass over the vector
(:func:`chainrule.engine.kernels.adam_step`, :func:`~chainrule.engine.kernels.sgd_step`); without, a handful
of array operations, written once against the array API standard (:func:`sgd_update`,
:func:`adam_update`): the same arithmetic on NumPy (the fallback without numba) and on another array
library's vector on its device (:class:`chainrule.arrays.ArrayNetwork`'s, where ``update`` returns
``sum mask p^2`` as a 0-d array of that library, so that a training loop need not wait for the device).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, is_numpy_array

from .arrays import _to_numpy
from .engine.backend import optional_kernels


def _penalize(p: Any, g: Any, c: float, mask: Any, tmp: np.ndarray | None = None, xp: Any = np) -> Any:
    """``g += c mask p`` in place; returns ``sum mask p^2`` (0 without a penalty).

    With ``tmp`` (a NumPy buffer like ``p``) it allocates nothing and the sum is BLAS's dot, a
    Python float; without, it works in ``xp`` (``p``'s namespace) and the sum is a 0-d array there.
    """
    if mask is None or not c:
        return 0.0
    if tmp is not None:
        Wp = np.multiply(p, mask, out=tmp)
        sq = float(np.dot(Wp, Wp))
        Wp *= c
        g += Wp
        return sq
    Wp = p * mask
    g += Wp * c
    return xp.sum(Wp * Wp)


def sgd_update(
    xp: Any, p: Any, g: Any, c: float, mask: Any, velocity: Any, momentum: float, lr: float, nesterov: bool
) -> Any:
    """scikit-learn's SGD step on the vector ``p`` of namespace ``xp``, in place: ``g <- g + c mask p``,
    ``v <- mu v - lr g``, then ``p += mu v - lr g`` (Nesterov) or ``p += v`` (``p -= lr g`` without
    momentum; the velocity stays 0). The operations of :func:`chainrule.engine.kernels.sgd_step`, in
    its order; returns ``sum mask p^2`` before the step (:func:`_penalize`)."""
    sq = _penalize(p, g, c, mask, xp=xp)
    lr_g = g * lr
    if momentum == 0:  # mu v - lr g is -lr g exactly
        p -= lr_g
        return sq
    velocity *= momentum
    velocity -= lr_g
    p += (velocity * momentum - lr_g) if nesterov else velocity
    return sq


def adam_update(
    xp: Any, p: Any, g: Any, c: float, mask: Any, m: Any, v: Any, beta_1: float, beta_2: float, lr: float, eps: float
) -> Any:
    """scikit-learn's Adam step on the vector ``p`` of namespace ``xp``, in place (``lr`` holds the
    bias corrections): ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``p += -lr m / (sqrt(v) + eps)``, the operations of :func:`chainrule.engine.kernels.adam_step`;
    returns ``sum mask p^2`` before the step."""
    sq = _penalize(p, g, c, mask, xp=xp)
    m *= beta_1
    m += g * (1 - beta_1)
    v *= beta_2
    v += (g * g) * (1 - beta_2)
    p += (m * -lr) / (xp.sqrt(v) + eps)
    return sq


def _placed(a: Any, p: Any) -> Any:
    """``a`` in ``p``'s array library and on its device (itself when it is there already)."""
    if is_numpy_array(p):
        return _to_numpy(a)
    xp = array_namespace(p)
    if not is_numpy_array(a) and array_namespace(a) is xp and device(a) == device(p):
        return a
    return xp.asarray(_to_numpy(a), dtype=p.dtype, device=device(p), copy=True)


class _Solver:
    """What both solvers share: their state arrays follow the parameter vector's library and device."""

    _state: tuple[str, ...] = ()

    def place(self, p: Any) -> None:
        """Keep the state (velocity; Adam's moments) in the array library and device of the vector
        ``p`` it steps, moving it there when the model moved (a NumPy fit continued on tensors, or back)."""
        for name in self._state:
            setattr(self, name, _placed(getattr(self, name), p))


class SGDSolver(_Solver):
    """scikit-learn's SGD with momentum (``v <- mu v - lr g``; Nesterov's: ``p += mu v - lr g``,
    else ``p += v``) and its learning-rate schedules.

    ``learning_rate`` is the current rate, as scikit-learn's ``_optimizer.learning_rate``.
    """

    _state = ("velocity",)

    def __init__(
        self,
        size: int,
        dtype: np.dtype,
        learning_rate_init: float,
        lr_schedule: str = "constant",
        momentum: float = 0.9,
        nesterov: bool = True,
        power_t: float = 0.5,
    ) -> None:
        self.size = size  # the parameter vector it steps: a network of another size needs a fresh solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros(size, dtype=dtype)

    def update(self, p: Any, g: Any, c: float = 0.0, mask: Any = None) -> Any:
        """One step along ``g + c mask p``: ``p`` changes in place, ``g`` may too. Returns
        ``sum mask p^2`` before the step (a 0-d array of ``p``'s library when ``p`` is not NumPy's;
        :meth:`place` puts the state there first)."""
        xp = np if isinstance(p, np.ndarray) else array_namespace(p)
        if xp is np:
            k = optional_kernels()
            if k is not None and mask is not None:
                return k.sgd_step(p, g, mask, c, self.velocity, self.momentum, self.learning_rate, self.nesterov)
        return sgd_update(xp, p, g, c, mask, self.velocity, self.momentum, self.learning_rate, self.nesterov)

    def iteration_ends(self, time_step: int) -> None:
        """After each epoch: ``"invscaling"`` sets ``lr = lr_init / (t + 1)^power_t`` (``t``: samples seen)."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        """No improvement for ``n_iter_no_change`` epochs: stop, or with ``"adaptive"`` divide the
        rate by 5 and go on until it falls to 1e-6."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(f"{msg} Setting learning rate to {self.learning_rate:f}")
        return False


class AdamSolver(_Solver):
    """scikit-learn's Adam: ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``, ``p += -lr_t m / (sqrt(v) + eps)``."""

    _state = ("m", "v")

    def __init__(
        self,
        size: int,
        dtype: np.dtype,
        learning_rate_init: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        self.size = size  # the parameter vector it steps: a network of another size needs a fresh solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.m = np.zeros(size, dtype=dtype)
        self.v = np.zeros(size, dtype=dtype)

    def update(self, p: Any, g: Any, c: float = 0.0, mask: Any = None) -> Any:
        """One step along ``g + c mask p``: ``p`` changes in place, ``g`` may too. Returns
        ``sum mask p^2`` before the step (a 0-d array of ``p``'s library when ``p`` is not NumPy's;
        :meth:`place` puts the state there first)."""
        self.t += 1
        self.learning_rate = self.learning_rate_init * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        xp = np if isinstance(p, np.ndarray) else array_namespace(p)
        if xp is np:
            k = optional_kernels()
            if k is not None and mask is not None:
                return k.adam_step(
                    p, g, mask, c, self.m, self.v, self.beta_1, self.beta_2, self.learning_rate, self.epsilon
                )
        lr = float(self.learning_rate)
        return adam_update(xp, p, g, c, mask, self.m, self.v, self.beta_1, self.beta_2, lr, self.epsilon)

    def iteration_ends(self, time_step: int) -> None:
        """Nothing changes at the end of an epoch."""

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        if verbose:
            print(msg + " Stopping.")
        return True
