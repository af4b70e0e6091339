"""Networks whose parameters are arrays of another library than NumPy: PyTorch (on any device),
CuPy, JAX, array-api-strict, anything of the array API standard.

``Network.from_weights`` given such arrays, or ``net.to(like=x)``, makes an :class:`ArrayNetwork`:
its ``W[l]`` and ``b[l]`` are arrays of that library on that device, and ``forward``,
``predict``, :func:`chainrule.gradients` (mean or per sample), :func:`chainrule.cost` and
:func:`chainrule.fit` (the same training loop, its optimizers stepping the network's parameter
vector in that library) take inputs of the same library and device and return results in it,
computed by the article's algorithm (:mod:`chainrule.article`). Inputs of another library or
device are a clear error, never a silent conversion. ``net.to(numpy)`` (or
``net.to(like=numpy_array)``) brings it back to a NumPy :class:`~chainrule.Network` and its fast paths.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from array_api_compat import (
    array_namespace,
    device,
    is_cupy_array,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_array,
)

from . import article
from .activations import Activation
from .errors import ChainruleError, shown
from .layers import LayerList
from .network import _OTHER_LIBRARIES, Network, Trace, _activations

__all__ = ["ArrayNetwork", "to_library"]

_FLOATS = {"float32": np.float32, "float64": np.float64}


def _library(x: Any) -> str:
    return f"{type(x).__module__.split('.')[0]}"


def _float_name(xp: Any, dtype: Any) -> str:
    for name in _FLOATS:
        if dtype == getattr(xp, name):
            return name
    raise ChainruleError(f"a network computes in float32 or float64; got arrays of dtype {dtype}")


class ArrayNetwork(Network):
    """A :class:`~chainrule.Network` whose parameters live in another array library and device.

    Made by ``Network.from_weights`` (from that library's arrays) or ``net.to(like=x)``; not
    constructed directly. ``xp`` is the library's array-API namespace, ``device`` the arrays'
    device, ``dtype`` NumPy's name for their float type.
    """

    def __init__(self, Ws: list[Any], bs: list[Any] | None, gs: list[Activation]) -> None:  # noqa: D107
        self.xp = array_namespace(*Ws, *(bs or []))
        self.device = device(Ws[0])
        self.dtype = np.dtype(_FLOATS[_float_name(self.xp, Ws[0].dtype)])
        self.sizes = (int(Ws[0].shape[1]), *(int(W.shape[0]) for W in Ws))
        self.g = LayerList(gs, first=1, name="g")
        self._check_activations()
        # every parameter in one vector of the library, W[l] and b[l] its views (as NumPy networks
        # have it): one operation steps them all, and the training loop keeps one copy of them
        xp, where = self.xp, self.device
        sizes = [tuple(W.shape) for W in Ws]
        count = sum(r * c + (r if bs is not None else 0) for r, c in sizes)
        self._vector = xp.zeros(count, dtype=Ws[0].dtype, device=where)
        views_W, views_b, at = [], [], 0
        for l, (r, c) in enumerate(sizes):
            W = xp.reshape(self._vector[at : at + r * c], (r, c))
            W[...] = Ws[l]
            views_W.append(W)
            at += r * c
            if bs is not None:
                b = self._vector[at : at + r]
                b[...] = bs[l]
                views_b.append(b)
                at += r
        self.W = LayerList(views_W, first=1, name="W")
        self.b = None if bs is None else LayerList(views_b, first=1, name="b")
        self._flat = None  # no NumPy vector: the NumPy-only functions refuse this network

    @property
    def library(self) -> str:  # type: ignore[override]
        """The parameters' array library (``torch``, ``cupy``, ``array_api_strict``, ...)."""
        return _library(self.W[1])

    # ------------------------------------------------------------------ what differs from NumPy's
    def flat_gradient(self, dW: list[Any], db: list[Any] | None) -> Any:
        """The gradients as one vector in the layout of the parameter vector (``W[1], b[1], W[2], ...``)."""
        xp = self.xp
        parts = []
        for l, d in enumerate(dW):
            parts.append(xp.reshape(d, (-1,)))
            if db is not None:
                parts.append(db[l])
        return xp.concat(parts)

    @property
    def n_params(self) -> int:
        return int(self._vector.shape[0])

    def check(self) -> None:
        xp = self.xp
        for name, l, p in self.parameters():
            if not bool(xp.all(xp.isfinite(p))):
                raise ChainruleError(f"{name}[{l}] (layer {l}) holds NaN or inf")

    def copy(self, dtype: Any = None) -> ArrayNetwork:
        xp = self.xp
        target = self.xp_dtype(dtype if dtype is not None else self.dtype)
        return ArrayNetwork(
            [xp.asarray(W, dtype=target, copy=True) for W in self.W],
            None if self.b is None else [xp.asarray(b, dtype=target, copy=True) for b in self.b],
            self.g.to_list(),
        )

    def xp_dtype(self, dtype: Any) -> Any:
        """The library's float dtype for NumPy's ``float32`` or ``float64``."""
        name = np.dtype(dtype).name
        if name not in _FLOATS:
            raise ChainruleError(f"dtype must be float32 or float64; got {shown(dtype)}")
        return getattr(self.xp, name)

    def __repr__(self) -> str:
        gs = [g.name for g in self.g]
        act = repr(gs[0]) if len(set(gs)) == 1 else repr(gs)
        return (
            f"Network({list(self.sizes)}, activation={act}, bias={self.bias}, dtype={self.dtype.name}, "
            f"library={_library(self.W[1])}, device={self.device})"
        )

    def save(self, path: Any, *, loss: str | None = None, info: dict | None = None) -> Any:
        """Model files hold NumPy arrays: the network is saved as ``to_library(self, numpy)`` would be."""
        return to_library(self, np).save(path, loss=loss, info=info)

    def inputs(self, X: Any, what: str = "X", width: int | None = None) -> Any:
        """``X`` checked: an array of this network's library and device, a float or integer dtype
        (cast to the network's), 2-D ``(n, width)`` (1-D: one sample)."""
        xp, width = self.xp, self.sizes[0] if width is None else width
        X = self.own(X, what)
        if X.ndim == 1:
            X = xp.reshape(X, (1, -1))
        if X.ndim != 2 or X.shape[1] != width:
            raise ChainruleError(f"{what} must have shape (n_samples, {width}); got {tuple(X.shape)}")
        return X

    def own(self, x: Any, what: str) -> Any:
        """``x`` checked to be an array of this network's library on its device, cast to its dtype."""
        try:
            array_namespace(x, self.W[1])
        except TypeError:
            raise ChainruleError(
                f"{what} must be an array of the network's library ({_library(self.W[1])}) on its device "
                f"({self.device}); got {type(x).__module__}.{type(x).__name__} "
                "(convert it, or the network with net.to(like=...))"
            ) from None
        if device(x) != self.device:
            raise ChainruleError(f"{what} is on device {device(x)}, the network on {self.device}: move one of them")
        return self.xp.astype(x, self.W[1].dtype) if x.dtype != self.W[1].dtype else x

    def targets(self, Y: Any, n: int) -> Any:
        """``Y`` as ``(n, n_L)``: class labels ``0..n_L-1`` (1-D, integers) become one-hot rows."""
        xp, n_L = self.xp, self.sizes[-1]
        if Y.ndim == 1 and n_L > 1:
            Y = self.inputs(Y[:, None], "Y", 1)
            return xp.astype(Y == xp.reshape(xp.arange(n_L, dtype=Y.dtype, device=self.device), (1, -1)), Y.dtype)
        Y = self.inputs(Y, "Y", n_L)
        if Y.shape[0] != n:
            raise ChainruleError(f"Y has {Y.shape[0]} rows for {n} samples of X")
        return Y

    def forward(self, X: Any) -> Trace:
        zs, as_ = article.forward(
            self.W.to_list(), None if self.b is None else self.b.to_list(), self.g.to_list(), self.inputs(X)
        )
        return Trace(a=LayerList(as_, first=0, name="a"), z=LayerList(zs, first=1, name="z"))

    def predict(self, X: Any) -> Any:
        return self.forward(X).output


def to_library(net: Network, like: Any, device_: Any = None) -> Network:
    """``net`` with its parameters in ``like``'s library and on its device (``like``: an array, or a
    library's namespace such as ``numpy`` or ``torch``); NumPy gives back a plain :class:`Network`."""
    if like is np or (isinstance(like, np.ndarray)):
        if not isinstance(net, ArrayNetwork):
            return net.copy()
        values = [_to_numpy(W) for W in net.W], None if net.b is None else [_to_numpy(b) for b in net.b]
        return Network.from_weights(values[0], values[1], activation=net.g.to_list(), dtype=net.dtype)
    namespace = isinstance(like, types.ModuleType) or (hasattr(like, "asarray") and not hasattr(like, "shape"))
    try:
        xp = like if namespace else array_namespace(like)
    except TypeError:
        raise ChainruleError(
            f"like must be an array or an array library's namespace (numpy, torch, ...); got {shown(like)}"
        ) from None
    if is_numpy_namespace(xp):
        return to_library(net, np)
    _check_mutable(xp)
    where = device_ if device_ is not None else (None if namespace else device(like))
    dtype = getattr(xp, net.dtype.name)

    def move(p: Any) -> Any:
        return xp.asarray(_to_numpy(p) if not isinstance(p, np.ndarray) else p, dtype=dtype, device=where, copy=True)

    return ArrayNetwork([move(W) for W in net.W], None if net.b is None else [move(b) for b in net.b], net.g.to_list())


def _check_mutable(xp: Any) -> None:
    """A network steps its parameters in place: JAX's arrays, which are immutable, cannot hold one."""
    if is_jax_namespace(xp):
        raise ChainruleError(
            "JAX arrays are immutable, and a chainrule Network updates its parameters in place: it holds "
            "NumPy, PyTorch, CuPy or array-api-strict arrays. chainrule.article.gradients(Ws, bs, gs, X, Y) "
            "computes on JAX arrays as they are (and under jax.jit)"
        )


def _to_numpy(p: Any) -> np.ndarray:
    """``p`` as a NumPy array on the host, from any library and device (a view where it can be)."""
    if isinstance(p, np.ndarray):
        return p
    if is_torch_array(p):  # off the autograd graph and the GPU
        return p.detach().cpu().numpy()
    if is_cupy_array(p):  # CuPy refuses an implicit copy from the GPU
        return p.get()
    try:
        return np.from_dlpack(p)
    except (TypeError, AttributeError, RuntimeError, BufferError):
        return np.asarray(p)


def from_arrays(
    weights: list[Any], biases: list[Any] | None, activation: Any, output_activation: Any = None
) -> ArrayNetwork:
    """An :class:`ArrayNetwork` from a library's arrays (copied, in that library and device)."""
    try:
        xp = array_namespace(*weights, *(biases or []))
    except TypeError as exc:
        raise ChainruleError(f"weights and biases must be arrays of one library: {exc}") from None
    _check_mutable(xp)
    Ws = [xp.asarray(W, copy=True) for W in weights]
    for l, W in enumerate(Ws, start=1):
        if W.ndim != 2 or (l > 1 and W.shape[1] != Ws[l - 2].shape[0]):
            raise ChainruleError(
                f"W^({l}) must be 2-D (n_l, n_(l-1)) and follow W^({l - 1}); got shape {tuple(W.shape)}"
            )
    bs = None if biases is None else [xp.asarray(b, copy=True) for b in biases]
    if bs is not None and [tuple(b.shape) for b in bs] != [(W.shape[0],) for W in Ws]:
        raise ChainruleError(f"b^(l) must have shape (n_l,); got {[tuple(b.shape) for b in bs]}")
    gs = _activations(activation, output_activation, len(Ws))
    net = ArrayNetwork(Ws, bs, gs)
    net.check()
    return net


_OTHER_LIBRARIES.update(from_arrays=from_arrays, to_library=to_library)
