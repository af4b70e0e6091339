"""Optimizers: what gradient descent does with the article's gradient ``dC/dw``.

Each optimizer updates the network's arrays in place, in their own dtype, from the mean gradient
of a minibatch (``gradients(...).dW`` and ``.db``). With a batch of all ``n`` samples, plain
:class:`SGD` is the article's gradient descent step ``w <- w - lr * dC/dw``.

* :class:`SGD`: learning rate, momentum (heavy ball or Nesterov), weight decay; the update rules
  are PyTorch's (``v <- mu v + g``; ``w <- w - lr v``, or ``w <- w - lr (g + mu v)`` for Nesterov).
* :class:`Adam`: Kingma and Ba's Adam with bias correction.

Weight decay adds ``weight_decay * w`` to the gradient of every weight (not of the biases).
A learning-rate schedule (:class:`StepLR`, :class:`ExponentialLR`, :class:`CosineLR`) scales the
learning rate by epoch.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from ._validation import as_bool, as_float, as_int, as_numeric
from .errors import ChainruleError, shown, unknown_name
from .network import Network, parameter_views, require_network

__all__ = ["SGD", "Adam", "CosineLR", "ExponentialLR", "Optimizer", "Schedule", "StepLR", "get_optimizer"]


def _positive(name: str, value: Any, allow_zero: bool = False) -> float:
    return as_float(name, value, low=0, low_open=not allow_zero)


def _fraction(name: str, value: Any) -> float:
    """A number in ``[0, 1)``: a momentum or a decay rate of moments."""
    return as_float(name, value, low=0, high=1, high_open=True)


def _layer_gradient(grads: Any, name: str, l: int, param: np.ndarray, net: Network) -> np.ndarray:
    """``grads[l]``, checked: there, numeric (an array of the network's library and device, for a
    network of another library) and of ``param``'s shape."""
    try:
        g = grads[l]
    except Exception:  # noqa: BLE001 - None, a list indexed from 0, a dict without this layer, ...
        raise ChainruleError(
            f"{name} must hold the gradient of every layer 1..L by layer number (gradients(...).{name}); "
            f"{name}[{l}] could not be read from {shown(grads)} ({type(grads).__name__})"
        ) from None
    if net._flat is None:
        g = net.own(g, f"{name}[{l}]")  # type: ignore[attr-defined]
    elif not (isinstance(g, np.ndarray) and g.shape == param.shape):
        g = as_numeric(f"{name}[{l}]", g, net.dtype)
    if g.shape != param.shape:
        raise ChainruleError(
            f"{name}[{l}] must have the shape of layer {l}'s parameters {tuple(param.shape)}; got {tuple(g.shape)}"
        )
    return g


class Schedule:
    """A learning-rate schedule: ``factor(epoch)`` multiplies the base learning rate (epoch 0 first)."""

    def factor(self, epoch: int) -> float:
        raise NotImplementedError


def _power(gamma: float, k: int) -> float:
    """``gamma ** k``, inf where it overflows (the optimizer then diverges, and fit says so)."""
    try:
        return gamma**k
    except OverflowError:
        return math.inf


class StepLR(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = as_int("step_size", step_size, low=1), _positive("gamma", gamma)

    def factor(self, epoch: int) -> float:
        return _power(self.gamma, as_int("epoch", epoch, low=0) // self.step_size)


class ExponentialLR(Schedule):
    """Multiply the learning rate by ``gamma`` every epoch."""

    def __init__(self, gamma: float) -> None:
        self.gamma = _positive("gamma", gamma)

    def factor(self, epoch: int) -> float:
        return _power(self.gamma, as_int("epoch", epoch, low=0))


class CosineLR(Schedule):
    """Cosine annealing from the base rate to ``min_factor`` times it over ``epochs`` epochs."""

    def __init__(self, epochs: int, min_factor: float = 0.0) -> None:
        self.epochs = as_int("epochs", epochs, low=1)
        self.min_factor = as_float("min_factor", min_factor, low=0, high=1)

    def factor(self, epoch: int) -> float:
        t = min(as_int("epoch", epoch, low=0), self.epochs) / self.epochs
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * t))


class Optimizer:
    """Base class: ``step(net, dW, db)`` updates ``net`` in place from one minibatch's mean gradient."""

    def __init__(self, lr: float, weight_decay: float = 0.0, schedule: Schedule | None = None) -> None:
        self.lr = _positive("lr", lr)
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        if schedule is not None and not isinstance(schedule, Schedule):
            raise ChainruleError(
                "schedule must be None or a learning-rate schedule (StepLR, ExponentialLR, CosineLR); "
                f"got {shown(schedule)} ({type(schedule).__name__})"
            )
        self.schedule = schedule
        self.epoch = 0
        self._state: dict[tuple[str, int], Any] = {}

    @property
    def current_lr(self) -> float:
        """The learning rate of the current epoch (the base rate times the schedule's factor)."""
        if self.schedule is None:
            return self.lr
        factor = self.schedule.factor(self.epoch)
        if isinstance(factor, bool) or not isinstance(factor, (int, float, np.floating, np.integer)) or factor < 0:
            raise ChainruleError(
                f"{type(self.schedule).__name__}.factor({self.epoch}) must return a number >= 0; "
                f"got {shown(factor)} ({type(factor).__name__})"
            )
        return self.lr * float(factor)

    def set_epoch(self, epoch: int) -> None:
        """Tell the schedule which epoch (0-based) is starting."""
        self.epoch = as_int("epoch", epoch, low=0)

    def step(self, net: Network, dW: Any, db: Any) -> None:
        """Update every ``W[l]`` (and ``b[l]``) of ``net`` in place.

        ``dW`` and ``db`` are indexed by layer number ``1..L`` (a :class:`Gradients`' ``dW`` and
        ``db``, or dicts); each ``dW[l]`` has ``W[l]``'s shape. Everything is checked before the
        first array changes, so a bad gradient leaves the network as it was.
        """
        require_network(net, arrays=True)
        self._bind(net)
        lr = self.current_lr
        gW = [_layer_gradient(dW, "dW", l, net.W[l], net) for l in range(1, net.L + 1)]
        gb = None if net.b is None else [_layer_gradient(db, "db", l, net.b[l], net) for l in range(1, net.L + 1)]
        for l in range(1, net.L + 1):
            g = gW[l - 1]
            if self.weight_decay:
                g = g + self.weight_decay * net.W[l]
            self._update(("W", l), net.W[l], g, lr)
            if gb is not None:
                self._update(("b", l), net.b[l], gb[l - 1], lr)  # type: ignore[index]

    def step_flat(self, net: Network, grad: np.ndarray) -> None:
        """Update every parameter of ``net`` at once from ``grad``, the gradient as one vector in
        the order of :meth:`Network.parameters` (the layout of ``net``'s own parameter vector).

        The same update rule as :meth:`step`, in a handful of operations instead of a few per
        array; the training loop uses it. Its state is separate from :meth:`step`'s.
        """
        require_network(net, arrays=True)
        self._bind(net)
        if net._flat is None:  # a network of another array library: its own vector, its own operations
            p = net._vector
            if tuple(grad.shape) != tuple(p.shape):
                raise ChainruleError(
                    f"grad must be one vector of the network's {p.shape[0]} parameters; got shape {tuple(grad.shape)}"
                )
            if self.weight_decay:
                mask = self._state.get(("decay", p.shape[0]))
                if mask is None:
                    mask = net.xp.zeros_like(p)  # 1 for weights, 0 for biases
                    at = 0
                    for l in range(1, net.L + 1):
                        size = net.sizes[l] * net.sizes[l - 1]
                        mask[at : at + size] = 1
                        at += size + (net.sizes[l] if net.bias else 0)
                    self._state[("decay", p.shape[0])] = mask
                grad = grad + self.weight_decay * mask * p
            self._update(("flat", 0), p, grad, self.current_lr)
            return
        p = net._flat
        if not (isinstance(grad, np.ndarray) and grad.shape == p.shape and grad.dtype == p.dtype):
            grad = as_numeric("grad", grad, p.dtype)
            if grad.shape != p.shape:
                raise ChainruleError(
                    f"grad must be one vector of the network's {p.size} parameters, shape {p.shape}; got {grad.shape}"
                )
        if self.weight_decay:
            mask = self._state.get(("decay", p.size))
            if mask is None:  # 1 for weights, 0 for biases: weight decay leaves the biases alone
                mask = np.zeros_like(p)
                for W in parameter_views(mask, net.sizes, net.bias)[0]:
                    W[...] = 1
                self._state[("decay", p.size)] = mask
            grad = grad + self.weight_decay * mask * p
        self._update(("flat", 0), p, grad, self.current_lr)

    def _update(self, key: tuple[str, int], p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def _bind(self, net: Network) -> None:
        """The state (momenta, moments) belongs to one network's parameters: stepping another
        network starts it afresh, instead of applying one network's momenta to another."""
        owner = getattr(self, "_owner", None)  # absent in a fresh, copied or unpickled optimizer
        if owner is None or owner() is not net:
            if owner is not None:
                self._state.clear()
            self._owner = weakref.ref(net)

    def __getstate__(self) -> dict[str, Any]:
        # a copy or an unpickled optimizer adopts the first network it steps (with its state: the
        # network came along with it, as in a pickled scikit-learn estimator)
        return {k: v for k, v in self.__dict__.items() if k != "_owner"}

    def reset(self) -> None:
        """Forget the state (momenta, moments, step count)."""
        self._state.clear()


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (Nesterov's or the heavy ball).

    >>> net = Network.from_weights([[[1.0, 2.0]]], activation="identity")
    >>> SGD(lr=0.1).step(net, {1: np.array([[10.0, -10.0]])}, None)
    >>> net.W[1]
    array([[0., 3.]])
    """

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.momentum = _fraction("momentum", momentum)
        self.nesterov = as_bool("nesterov", nesterov)
        if self.nesterov and not self.momentum:
            raise ChainruleError("nesterov=True needs a momentum > 0")

    def _update(self, key: tuple[str, int], p: np.ndarray, g: np.ndarray, lr: float) -> None:
        if not self.momentum:
            p -= lr * g
            return
        v = self._state.get(key)
        if v is None:
            v = self._state[key] = g.copy() if isinstance(g, np.ndarray) else g + 0  # a fresh array in g's library
        else:
            v *= self.momentum
            v += g
        if self.nesterov:
            p -= lr * (g + self.momentum * v)
        else:
            p -= lr * v

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, weight_decay={self.weight_decay})"
        )


class Adam(Optimizer):
    """Adam: ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``w <- w - lr m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``."""

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.beta1, self.beta2 = _fraction("beta1", beta1), _fraction("beta2", beta2)
        self.eps = _positive("eps", eps)

    def _update(self, key: tuple[str, int], p: np.ndarray, g: np.ndarray, lr: float) -> None:
        xp = np if isinstance(p, np.ndarray) else array_namespace(p)  # another library's vector: its operations
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = [xp.zeros_like(p), xp.zeros_like(p), 0]
        m, v, t = state
        t += 1
        state[2] = t
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        m_hat = m / (1 - self.beta1**t)
        denom = xp.sqrt(v / (1 - self.beta2**t))
        denom += self.eps
        m_hat /= denom
        m_hat *= lr
        p -= m_hat

    def __repr__(self) -> str:
        return (
            f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps}, "
            f"weight_decay={self.weight_decay})"
        )


def get_optimizer(spec: str | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimizer from ``"sgd"`` or ``"adam"`` (and keyword settings), or an instance as it is."""
    if isinstance(spec, Optimizer):
        return spec
    table = {"sgd": SGD, "adam": Adam}
    cls = table.get(spec.lower()) if isinstance(spec, str) else None
    if cls is None:
        raise unknown_name("optimizer", spec, table)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a keyword the optimizer does not take
        raise ChainruleError(f"bad settings for optimizer {spec!r}: {shown(kwargs)} ({exc})") from None
