"""The result of a gradient: :class:`Gradients`, every layer's gradient and the quantities behind it.

Its own module, below both the engine (:mod:`chainrule.engine`, which fills it on the fast paths)
and :mod:`chainrule.backprop` (whose public :func:`~chainrule.gradients` returns it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from . import _html
from .arrays import _float_name
from .errors import ChainruleError, shown
from .layers import LayerList
from .losses import Loss
from .network import Network, Trace

__all__ = ["Gradients", "MissingPartError"]


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
        The cost, the mean over the samples of ``C0`` (weighted mean with ``sample_weight``). For a
        network of another array library it is read from the device only when asked for.
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

    __slots__ = ("_C", "per_sample", "loss", "_parts", "_make")

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
        setattr_(self, "_C", C)
        setattr_(self, "per_sample", per_sample)
        setattr_(self, "loss", loss)
        setattr_(self, "_parts", parts)
        setattr_(self, "_make", make)

    @property
    def C(self) -> float:
        """The cost (a Python float; a GPU's 0-d result is copied to the host here, not before)."""
        C = self._C
        return C if type(C) is float else float(C)

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
        mean, xp = self.mean(), array_namespace(self.dW[1])
        header: list[Any] = ["layer l", "dW[l] shape", _html.cat("‖dC/dW", _html.tag("sup", "(l)"), "‖")]
        if self.db is not None:
            header += ["db[l] shape", _html.cat("‖dC/db", _html.tag("sup", "(l)"), "‖")]
        rows = []
        for l in self.dW.layers():
            row: list[Any] = [l, str(tuple(self.dW[l].shape)), float(xp.linalg.vector_norm(mean.dW[l]))]
            if self.db is not None:
                row += [str(tuple(self.db[l].shape)), float(xp.linalg.vector_norm(mean.db[l]))]  # type: ignore[index]
            rows.append(row)
        n = self.C0.shape[0]
        kind = f"per sample, {n} samples (norms of their mean)" if self.per_sample else f"over {n} samples"
        return _html.block(
            _html.table(header, rows, caption=f"Gradients, {kind}"),
            _html.tag(
                "p",
                "cost C = ",
                _html.tag("strong", self.C),
                f", loss {self.loss.name}, per_sample={self.per_sample}, dtype {_float_name(xp, self.dW[1].dtype)}",
            ),
        )

    def mean(self) -> Gradients:
        """Per-sample gradients reduced to their (unweighted) mean, the article's ``dC/dw``."""
        if not self.per_sample:
            return self
        xp = array_namespace(self.dW[1])
        return Gradients(
            dW=LayerList([xp.mean(d, axis=0) for d in self.dW], first=1, name="dW"),
            db=None if self.db is None else LayerList([xp.mean(d, axis=0) for d in self.db], first=1, name="db"),
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
        """All gradients in one vector, in :meth:`Network.parameters` order (per sample: one row each),
        an array of the gradients' library and device."""
        parts = []
        for l in self.dW.layers():
            parts.append(self.dW[l])
            if self.db is not None:
                parts.append(self.db[l])
        xp = array_namespace(*parts)
        if self.per_sample:
            n = parts[0].shape[0]
            return xp.concat([xp.reshape(p, (n, -1)) for p in parts], axis=1)
        return xp.concat([xp.reshape(p, (-1,)) for p in parts])


def _parts(
    net: Network,
    trace: Trace,
    C0: np.ndarray,
    dC0_da: list[np.ndarray],
    delta: list[np.ndarray],
    dW: list[np.ndarray],
    db: list[np.ndarray],
) -> dict[str, Any]:
    """The per-layer lists of a :class:`Gradients` of the engine (which keeps no ``g_prime``),
    indexed by the article's layer numbers."""
    return {
        "dW": LayerList(dW, first=1, name="dW"),
        "db": LayerList(db, first=1, name="db") if net.b is not None else None,
        "C0": C0,
        "dC0_da": LayerList(dC0_da, first=1, name="dC0_da"),
        "delta": LayerList(delta, first=1, name="delta"),
        "g_prime": None,
        "trace": trace,
    }
