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
of NumPy operations.
"""

from __future__ import annotations

import numpy as np

from .engine.backend import optional_kernels


def _penalize(p: np.ndarray, g: np.ndarray, c: float, mask: np.ndarray | None, tmp: np.ndarray) -> float:
    """``g += c mask p`` in place; returns ``sum mask p^2`` (0 without a penalty)."""
    if mask is None or not c:
        return 0.0
    Wp = np.multiply(p, mask, out=tmp)
    sq = float(np.dot(Wp, Wp))
    Wp *= c
    g += Wp
    return sq


class SGDSolver:
    """scikit-learn's SGD with momentum (``v <- mu v - lr g``; Nesterov's: ``p += mu v - lr g``,
    else ``p += v``) and its learning-rate schedules.

    ``learning_rate`` is the current rate, as scikit-learn's ``_optimizer.learning_rate``.
    """

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
        self._tmp = np.empty(size, dtype=dtype)
        self._step = np.empty(size, dtype=dtype)

    def update(self, p: np.ndarray, g: np.ndarray, c: float = 0.0, mask: np.ndarray | None = None) -> float:
        """One step along ``g + c mask p``: ``p`` changes in place, ``g`` may too. Returns
        ``sum mask p^2`` before the step."""
        k = optional_kernels()
        if k is not None and mask is not None:
            return k.sgd_step(p, g, mask, c, self.velocity, self.momentum, self.learning_rate, self.nesterov)
        sq = _penalize(p, g, c, mask, self._tmp)
        lr_g = np.multiply(g, self.learning_rate, out=self._tmp)
        if self.momentum == 0:  # mu v - lr g is -lr g exactly: the velocity stays 0
            p -= lr_g
            return sq
        v = self.velocity
        v *= self.momentum
        v -= lr_g
        if self.nesterov:
            step = np.multiply(v, self.momentum, out=self._step)
            step -= lr_g
            p += step
        else:
            p += v
        return sq

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


class AdamSolver:
    """scikit-learn's Adam: ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``, ``p += -lr_t m / (sqrt(v) + eps)``."""

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
        self._tmp = np.empty(size, dtype=dtype)
        self._step = np.empty(size, dtype=dtype)

    def update(self, p: np.ndarray, g: np.ndarray, c: float = 0.0, mask: np.ndarray | None = None) -> float:
        """One step along ``g + c mask p``: ``p`` changes in place, ``g`` may too. Returns
        ``sum mask p^2`` before the step."""
        self.t += 1
        self.learning_rate = self.learning_rate_init * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        k = optional_kernels()
        if k is not None and mask is not None:
            return k.adam_step(
                p, g, mask, c, self.m, self.v, self.beta_1, self.beta_2, self.learning_rate, self.epsilon
            )
        m, v, tmp, step = self.m, self.v, self._tmp, self._step
        sq = _penalize(p, g, c, mask, tmp)
        m *= self.beta_1
        m += np.multiply(g, 1 - self.beta_1, out=tmp)
        v *= self.beta_2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta_2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.multiply(m, -self.learning_rate, out=step)
        step /= tmp
        p += step
        return sq

    def iteration_ends(self, time_step: int) -> None:
        """Nothing changes at the end of an epoch."""

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        if verbose:
            print(msg + " Stopping.")
        return True
