r"""The feed-forward network: layer sizes, weights ``W^(l)``, biases ``b^(l)``, activations ``g^(l)``.

Conventions (the article's, see the README's table):

* layers are numbered from the input layer ``0`` to the output layer ``L``;
* ``W[l]`` has shape ``(n_l, n_{l-1})`` and ``W[l][j, k]`` is ``w_jk^(l)``, the weight from node
  ``k`` of layer ``l-1`` to node ``j`` of layer ``l`` (destination first, 0-based nodes);
* samples are rows, so for a batch ``z^(l) = a^(l-1) @ W[l].T + b[l]`` and ``a^(l) = g^(l)(z^(l))``,
  which is the article's ``z_j^(l) = sum_k w_jk^(l) a_k^(l-1)`` (plus ``b_j^(l)``) for every sample.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from . import _html
from ._memory import TooLargeError, carve, human_count, out_of_memory, require_memory
from ._validation import (
    _all_finite,
    all_finite,
    as_bool,
    as_inputs,
    as_int,
    as_numeric,
    as_seed,
    check_finite,
    undefined_methods,
)
from .activations import Activation, Sigmoid, Softmax, get_activation
from .errors import ChainruleError, shown
from .layers import LayerList

__all__ = ["Network", "Trace", "classes_of", "require_network"]

ActivationSpec = str | Activation | dict
Seed = int | np.random.Generator | np.random.SeedSequence | None


@dataclass(frozen=True)
class Trace:
    """What one forward pass stores for backprop: ``a[l]`` for ``l = 0..L`` and ``z[l]`` for ``l = 1..L``.

    ``a[0]`` is the input batch ``X``; each array is ``(n_samples, n_l)``.
    """

    a: LayerList[np.ndarray]
    z: LayerList[np.ndarray]

    @property
    def output(self) -> np.ndarray:
        """``a^(L)``, the network's output."""
        return self.a[self.a.last]


class _ParameterList(LayerList[np.ndarray]):
    """Weights or biases: assigning ``net.W[l] = array`` checks the shape and finiteness and copies
    the values in, in the network's dtype (the array object stays the same)."""

    __slots__ = ("_dtype",)

    def __init__(self, values: Sequence[np.ndarray], name: str, dtype: np.dtype) -> None:
        super().__init__(values, first=1, name=name)
        self._dtype = dtype

    def __setitem__(self, l: int, value: Any) -> None:
        old = self[l]
        new = as_numeric(f"{self.name}[{l}]", value, self._dtype)
        if new.shape != old.shape:
            raise ChainruleError(f"{self.name}[{l}] must keep its shape {old.shape}; got {new.shape}")
        check_finite(f"{self.name}[{l}]", new, ("node j", "node k"))  # a network never holds NaN or inf
        np.copyto(old, new)


def require_network(net: Any, arrays: bool = False) -> None:
    """The check at every public entry point that takes a network; ``arrays``: the entry point also
    takes networks whose parameters are another library's arrays (:mod:`chainrule.arrays`)."""
    if not isinstance(net, Network):
        raise ChainruleError(f"net must be a chainrule Network, got {type(net).__name__}")
    if not arrays and net._flat is None:
        raise ChainruleError(
            f"this computes on NumPy networks so far, and this one's parameters are {net.library} arrays: "
            "net.to(numpy) gives the NumPy network (gradients, cost, fit, evaluate, explain, gradcheck, "
            "forward, predict and an optimizer's step take it as it is)"
        )


def classes_of(a: np.ndarray) -> np.ndarray:
    """The class of each row of outputs or one-hot targets: the node with the largest value, or for
    a single column, whether it is above 0.5."""
    if isinstance(a, np.ndarray):
        return (a[:, 0] > 0.5).astype(np.int64) if a.shape[1] == 1 else a.argmax(axis=1)
    xp = array_namespace(a)  # another library's outputs: its classes, on its device
    return xp.astype(a[:, 0] > 0.5, xp.int64) if a.shape[1] == 1 else xp.argmax(a, axis=1)


def parameter_views(flat: np.ndarray, sizes: Sequence[int], bias: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``W[l]`` (and ``b[l]``) as C-contiguous views of one flat vector, in the order
    ``W[1], b[1], W[2], b[2], ...`` (that of :meth:`Network.parameters`)."""
    Ws, bs, at = [], [], 0
    for l in range(1, len(sizes)):
        n_out, n_in = sizes[l], sizes[l - 1]
        Ws.append(flat[at : at + n_out * n_in].reshape(n_out, n_in))
        at += n_out * n_in
        if bias:
            bs.append(flat[at : at + n_out])
            at += n_out
    return Ws, bs


def n_parameters(sizes: Sequence[int], bias: bool) -> int:
    """The number of weights (and biases) of a network with these layer sizes."""
    return sum(sizes[l] * sizes[l - 1] + (sizes[l] if bias else 0) for l in range(1, len(sizes)))


def _as_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as float32 or float64; anything else (``"nonsense"``, ``int32``, ``5``) is an error."""
    try:
        dt = np.dtype(dtype)
    except Exception:  # noqa: BLE001 - np.dtype raises TypeError, ValueError, ... for what it cannot read
        raise ChainruleError(f"dtype must be float32 or float64, got {shown(dtype)} ({type(dtype).__name__})") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ChainruleError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _as_sizes(sizes: Any) -> tuple[int, ...]:
    """``sizes`` as a tuple of at least two whole numbers >= 1 (Python ints)."""
    if isinstance(sizes, (str, bytes, dict)) or not isinstance(sizes, Iterable):
        raise ChainruleError(
            "sizes must be a list of node counts [n_0, n_1, ..., n_L], the input layer first; "
            f"got {shown(sizes)} ({type(sizes).__name__})"
        )
    try:
        items = list(sizes)
    except Exception as exc:  # noqa: BLE001 - a broken __iter__ or __len__
        raise ChainruleError(
            f"sizes must be a list of node counts [n_0, ..., n_L]; reading {shown(sizes)} failed: "
            f"{type(exc).__name__}: {shown(str(exc))}"
        ) from None
    if len(items) < 2:
        raise ChainruleError(f"sizes lists the nodes of layers 0..L and needs at least two layers; got {shown(items)}")
    out = []
    for l, n in enumerate(items):
        try:
            out.append(as_int(f"sizes[{l}]", n, low=1))
        except ChainruleError:
            raise ChainruleError(
                f"layer {l} must have a whole number >= 1 of nodes; sizes[{l}] = {shown(n)} ({type(n).__name__})"
            ) from None
    return tuple(out)


def require_parameter_memory(sizes: Sequence[int], bias: bool, dtype: np.dtype) -> int:
    """The number of weights and biases of a network with these sizes, after checking that they
    fit in memory (a clear error saying how much they would need instead of a MemoryError)."""
    count = n_parameters(sizes, bias)
    require_memory(
        count * dtype.itemsize,
        f"Network({shown(list(sizes))})",
        f" for its {human_count(count)} weights{' and biases' if bias else ''} ({dtype.name})",
    )
    return count


def _layer_list(value: Any, name: str, what: str, arrays: bool = False) -> list[Any]:
    """``value`` as a list of per-layer arrays: a list or tuple (not a number; one array, whose
    rows are the layers', only with ``arrays``)."""
    if isinstance(value, np.ndarray) and arrays and value.ndim >= 1:
        value = list(value)
    if isinstance(value, (list, tuple, LayerList)):
        try:
            items = list(value)
        except Exception as exc:  # noqa: BLE001 - a list subclass with a broken __iter__
            raise ChainruleError(f"{name} could not be read: {type(exc).__name__}: {shown(str(exc))}") from None
        if items:
            return items
    raise ChainruleError(
        f"{name} must be a list [{what}(1), ..., {what}(L)] of arrays, one per layer 1..L; "
        f"got {shown(value)} ({type(value).__name__})"
    )


#: How networks are saved and loaded: :mod:`chainrule.io`, above this module, registers its
#: ``save_network`` and ``load_network`` here when it is imported (``import chainrule`` does).
_FILES: dict[str, Any] = {}

#: How networks of other array libraries are made: :mod:`chainrule.arrays` registers its
#: ``from_arrays`` and ``to_library`` here when it is imported (``import chainrule`` does), so that
#: this module, below it, never imports it.
_OTHER_LIBRARIES: dict[str, Any] = {}


def _other_library(x: Any) -> bool:
    """Whether ``x`` is an array of another library than NumPy (a tensor, a CuPy array, ...)."""
    if isinstance(x, (np.ndarray, np.generic, list, tuple, int, float)):
        return False
    from array_api_compat import is_array_api_obj

    return is_array_api_obj(x)


def _as_weights(weights: Any, dtype: Any) -> list[np.ndarray]:
    """``weights`` as 2-D arrays ``W^(1), ..., W^(L)`` whose shapes chain, in one float dtype.

    ``dtype=None``: float32 when every weight array is float32, else float64.
    """
    items = _layer_list(weights, "weights", "W^")
    if dtype is None:
        kinds = {getattr(W, "dtype", None) for W in items}
        dtype = np.float32 if kinds == {np.dtype(np.float32)} else np.float64
    dt = _as_dtype(dtype)
    Ws: list[np.ndarray] = []
    for i, W in enumerate(items):
        l = i + 1
        here = f"weights[{i}]: W[{l}]"
        W = as_numeric(f"weights[{i}] (W[{l}], layer {l})", W, dt)
        if W.ndim != 2:
            raise ChainruleError(f"{here} must be 2-D, (n_{l}, n_{l - 1}); got shape {W.shape}")
        if 0 in W.shape:
            raise ChainruleError(
                f"{here} has shape {W.shape}: layer {l if W.shape[0] == 0 else l - 1} would have no nodes; "
                "every layer needs at least one"
            )
        if Ws and W.shape[1] != Ws[-1].shape[0]:
            raise ChainruleError(
                f"{here} has shape {W.shape} but W[{l - 1}] has {Ws[-1].shape}: W[{l}] needs "
                f"n_{l - 1} = {Ws[-1].shape[0]} columns, one per node of layer {l - 1}"
            )
        Ws.append(W)
    return Ws


def _as_biases(biases: Any, sizes: Sequence[int], dt: np.dtype) -> list[np.ndarray]:
    """``biases`` as arrays ``b^(1), ..., b^(L)`` of shapes ``(n_l,)``."""
    items = _layer_list(biases, "biases", "b^", arrays=True)
    L = len(sizes) - 1
    if len(items) != L:
        raise ChainruleError(f"biases must list one array per layer 1..{L}; got {len(items)}")
    bs = []
    for i, b in enumerate(items):
        l = i + 1
        b = as_numeric(f"biases[{i}] (b[{l}], layer {l})", b, dt)
        if b.shape != (sizes[l],):
            raise ChainruleError(
                f"biases[{i}]: b[{l}] must have shape ({sizes[l]},), one per node of layer {l}; got {b.shape}"
            )
        bs.append(b)
    return bs


def _activation(spec: Any, name: str) -> Activation:
    """:func:`get_activation` with the parameter's name in front of its error."""
    try:
        return get_activation(spec)
    except ChainruleError as exc:
        raise ChainruleError(f"{name}: {exc}") from None


def _activations(
    activation: ActivationSpec | Sequence[ActivationSpec], output_activation: ActivationSpec | None, L: int
) -> list[Activation]:
    if isinstance(activation, (str, Activation, dict)):
        gs = [_activation(activation, "activation")] * L
    else:
        if not isinstance(activation, (list, tuple)):
            raise ChainruleError(
                f"activation: an activation is a name or an Activation instance, got {type(activation).__name__}: "
                f"{shown(activation)} (give one, or a list of them, one per layer 1..L)"
            )
        try:
            specs = list(activation)
        except Exception as exc:  # noqa: BLE001 - a list subclass with a broken __iter__
            raise ChainruleError(f"activation could not be read: {type(exc).__name__}: {shown(str(exc))}") from None
        if len(specs) != L:
            raise ChainruleError(
                f"activation lists one activation per layer 1..L; the network has L = {L} layers "
                f"with weights but {len(specs)} activations were given"
            )
        gs = [_activation(s, f"activation[{i}] (layer {i + 1})") for i, s in enumerate(specs)]
    if output_activation is not None:
        gs[-1] = _activation(output_activation, "output_activation")
    return gs


class Network:
    """A fully connected feed-forward network in the article's notation.

    Parameters
    ----------
    sizes : sequence of int
        Nodes per layer ``[n_0, n_1, ..., n_L]``: the input layer first, the output layer last.
    activation : str, Activation, or a sequence of them
        ``g^(l)``: one activation for every layer ``1..L``, or one per layer. Names:
        identity, sigmoid, tanh, relu, leaky_relu, softplus, softmax.
    output_activation : str or Activation, optional
        ``g^(L)`` when it differs from the hidden layers' (``"softmax"`` for classification).
    bias : bool
        Give each node ``j`` of layers ``1..L`` a bias ``b_j^(l)`` (default). ``bias=False``
        is the article's network exactly: ``z_j^(l) = sum_k w_jk^(l) a_k^(l-1)``.
    dtype : float64 (default) or float32
        Kept end to end: weights, trace, gradients.
    seed : int, numpy Generator, or None
        Randomness for the initial weights: Glorot-uniform ``U(-r, r)``,
        ``r = sqrt(6 / (n_{l-1} + n_l))``, for sigmoid, tanh and the others; He-normal,
        ``N(0, 2 / n_{l-1})``, for relu and leaky_relu. Biases start at 0.

    Examples
    --------
    >>> net = Network([2, 3, 2], activation="sigmoid", bias=False, seed=0)
    >>> net.L, net.W[2].shape          # W^(2): from the 3 nodes of layer 1 to the 2 of layer 2
    (2, (2, 3))
    >>> trace = net.forward([[0.5, -1.0]])
    >>> trace.a[2].shape, trace.z[1].shape
    ((1, 2), (1, 3))
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: ActivationSpec | Sequence[ActivationSpec] = "sigmoid",
        *,
        output_activation: ActivationSpec | None = None,
        bias: bool = True,
        dtype: Any = np.float64,
        seed: Seed = None,
    ) -> None:
        self.sizes: tuple[int, ...] = _as_sizes(sizes)
        self.dtype: np.dtype = _as_dtype(dtype)
        bias = as_bool("bias", bias)
        rng = as_seed("seed", seed)
        L = len(self.sizes) - 1
        self.g: LayerList[Activation] = LayerList(_activations(activation, output_activation, L), first=1, name="g")
        self._check_activations()
        count = require_parameter_memory(self.sizes, bias, self.dtype)
        try:
            self._set_parameters(None, bias)
            for l in range(1, L + 1):  # drawn layer by layer into place: no float64 copy of everything
                fan_in, fan_out = self.sizes[l - 1], self.sizes[l]
                if self.g[l].init == "he":
                    W = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
                else:
                    r = np.sqrt(6.0 / (fan_in + fan_out))
                    W = rng.uniform(-r, r, size=(fan_out, fan_in))
                np.copyto(self.W._values[l - 1], W)
                del W
        except MemoryError:
            raise out_of_memory(
                count * self.dtype.itemsize,
                f"Network({shown(list(self.sizes))})",
                f" for its {human_count(count)} parameters",
            ) from None

    def _set_parameters(self, weights: Sequence[np.ndarray] | None, biases: Sequence[np.ndarray] | bool | None) -> None:
        """Copy the arrays into one flat vector (``self._flat``) and make ``W``, ``b`` its views.

        One vector lets the optimizers update every parameter in one operation and keeps the
        layout of the gradients' vector (:meth:`Gradients.flat`). ``weights=None`` leaves the
        weights to be written (and ``biases=True`` makes zero biases).
        """
        bias = biases is not None and biases is not False
        self._flat = np.empty(n_parameters(self.sizes, bias), dtype=self.dtype)
        Ws, bs = parameter_views(self._flat, self.sizes, bias)
        for view, value in zip(Ws, weights or []):
            np.copyto(view, value)
        for view in bs:
            view.fill(0)
        for view, value in zip(bs, biases if isinstance(biases, (list, tuple)) else []):
            np.copyto(view, value)
        self.W: LayerList[np.ndarray] = _ParameterList(Ws, "W", self.dtype)
        self.b: LayerList[np.ndarray] | None = _ParameterList(bs, "b", self.dtype) if bias else None

    def __getstate__(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "dtype": self.dtype, "g": self.g.to_list(), "flat": self._flat, "bias": self.bias}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sizes, self.dtype = state["sizes"], state["dtype"]
        self.g = LayerList(state["g"], first=1, name="g")
        Ws, bs = parameter_views(state["flat"], self.sizes, state["bias"])
        self._set_parameters(Ws, bs if state["bias"] else None)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_weights(
        cls,
        weights: Sequence[Any],
        biases: Sequence[Any] | None = None,
        activation: ActivationSpec | Sequence[ActivationSpec] = "sigmoid",
        *,
        output_activation: ActivationSpec | None = None,
        dtype: Any = None,
    ) -> Network:
        """A network from given arrays ``[W^(1), ..., W^(L)]`` (and ``[b^(1), ..., b^(L)]``).

        ``W^(l)`` has shape ``(n_l, n_{l-1})``. The arrays are copied: the caller's arrays are
        never changed by anything the network does. ``dtype`` defaults to the weights' own
        float type (float32 stays float32), else float64. Arrays of another library than NumPy
        (PyTorch tensors, CuPy, array-api-strict, ...) stay in it, on their device: see
        :mod:`chainrule.arrays`.

        >>> net = Network.from_weights([[[1.0, 2.0]]], activation="identity")
        >>> net.sizes, net.predict([[3.0, 4.0]])
        ((2, 1), array([[11.]]))
        """
        items = weights if isinstance(weights, (list, tuple)) else None
        if items and _other_library(items[0]):
            net = _OTHER_LIBRARIES["from_arrays"](
                list(weights), None if biases is None else list(biases), activation, output_activation
            )
            return net if dtype is None else net.copy(dtype)
        Ws = _as_weights(weights, dtype)
        sizes = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
        bs = None if biases is None else _as_biases(biases, sizes, Ws[0].dtype)
        net = cls._unfilled(sizes, activation, bs is not None, Ws[0].dtype, output_activation)
        for view, W in zip(net.W.to_list(), Ws):
            np.copyto(view, W)
        for view, b in zip(net.b.to_list() if net.b is not None else [], bs or []):
            np.copyto(view, b)
        net.check()
        return net

    @classmethod
    def _unfilled(
        cls,
        sizes: Sequence[int],
        activation: ActivationSpec | Sequence[ActivationSpec],
        bias: bool,
        dtype: Any,
        output_activation: ActivationSpec | None = None,
    ) -> Network:
        """A network whose weights are allocated but not yet written (biases are 0): for a caller
        that fills ``net.W[l]`` and ``net.b[l]`` in place (:meth:`from_weights`, and the model
        loader, so that loading a file takes the memory of its parameters once). The caller must
        fill every weight, then call :meth:`check`."""
        net = cls.__new__(cls)
        net.sizes = _as_sizes(sizes)
        net.dtype = _as_dtype(dtype)
        net.g = LayerList(_activations(activation, output_activation, len(net.sizes) - 1), first=1, name="g")
        net._check_activations()
        require_parameter_memory(net.sizes, bias, net.dtype)
        net._set_parameters(None, bias)
        return net

    def _check_activations(self) -> None:
        for l, g in self.g.items():
            cls = type(g)
            missing = undefined_methods(cls, Activation, ("g", "g_prime"))
            if "g_prime" in missing and not g.elementwise:
                missing.remove("g_prime")  # softmax-like activations give jacobian and backward instead
            if missing:
                raise ChainruleError(
                    f"activation of layer {l}: {cls.__name__} does not define {' and '.join(missing)}; "
                    "an Activation subclass needs g and (when elementwise) g_prime"
                )
            if isinstance(g, Softmax) and self.sizes[l] == 1:
                raise ChainruleError(
                    f"softmax on layer {l} with a single node is the constant 1 (its gradient is 0); "
                    "use sigmoid for one output, or give the layer more nodes"
                )

    # ------------------------------------------------------------------ properties
    @property
    def L(self) -> int:
        """The output layer's number, which is also the number of weight matrices."""
        return len(self.sizes) - 1

    @property
    def bias(self) -> bool:
        """Whether the nodes of layers ``1..L`` have biases."""
        return self.b is not None

    @property
    def n_params(self) -> int:
        """The number of weights and biases."""
        return self._flat.size

    def parameters(self) -> Iterator[tuple[str, int, np.ndarray]]:
        """``("W", l, W[l])`` and ``("b", l, b[l])`` for every layer, in layer order."""
        for l in range(1, self.L + 1):
            yield "W", l, self.W[l]
            if self.b is not None:
                yield "b", l, self.b[l]

    #: the library of the parameters' arrays
    library = "numpy"

    def to(self, like: Any, device: Any = None) -> Network:
        """This network with its parameters in ``like``'s array library and on its device (``like``:
        an array, or a namespace such as ``numpy`` or ``torch``; ``device`` overrides), a copy;
        ``numpy`` gives a NumPy network. See :mod:`chainrule.arrays`."""
        return _OTHER_LIBRARIES["to_library"](self, like, device)

    def copy(self, dtype: Any = None) -> Network:
        """An independent copy (optionally in another dtype)."""
        return Network.from_weights(
            self.W.to_list(),
            None if self.b is None else self.b.to_list(),
            activation=self.g.to_list(),
            dtype=self.dtype if dtype is None else dtype,
        )

    def save(self, path: Any, *, loss: str | None = None, info: dict | None = None) -> Any:
        """Write the network to ``path`` (``.npz`` with JSON metadata), atomically; see :mod:`chainrule.io`."""
        return _FILES["save"](self, path, loss=loss, info=info)

    @classmethod
    def load(cls, path: Any) -> Network:
        """Read a network written by :meth:`save`; a corrupt, edited or foreign file raises ChainruleError."""
        return _FILES["load"](path)

    def check(self) -> None:
        """Raise :class:`ChainruleError` if any weight or bias is NaN or inf, naming the layer."""
        if all_finite(self._flat):  # one test of the parameter vector; the arrays only to name one
            return
        for name, l, p in self.parameters():
            check_finite(f"{name}[{l}] (layer {l})", p, ("j", "k") if name == "W" else ("j",))

    def __repr__(self) -> str:
        gs = [g.name for g in self.g]
        act = repr(gs[0]) if len(set(gs)) == 1 else repr(gs)
        return f"Network({list(self.sizes)}, activation={act}, bias={self.bias}, dtype={self.dtype.name})"

    def _repr_html_(self) -> str:
        """The network as an HTML table: per layer ``l = 0..L`` its nodes ``n_l``, activation
        ``g^(l)``, the shapes of ``W[l]`` and ``b[l]`` and its parameter count; then ``L``, the total
        parameter count and the dtype."""
        rows: list[tuple[Any, ...]] = [(0, self.sizes[0], "input", "", "", 0)]
        for l in range(1, self.L + 1):
            g = self.g[l]
            params = ", ".join(f"{k}={v!r}" for k, v in g.params().items())
            shape_b = "" if self.b is None else f"({self.sizes[l]},)"
            count = self.sizes[l] * self.sizes[l - 1] + (0 if self.b is None else self.sizes[l])
            rows.append(
                (l, self.sizes[l], f"{g.name}({params})" if params else g.name, str(self.W[l].shape), shape_b, count)
            )
        header = (
            "layer l",
            _html.cat("nodes ", _html.sym("n", "l")),
            _html.sym("g", layer="l"),
            "W[l]",
            "b[l]",
            "parameters",
        )
        return _html.block(
            _html.table(header, rows, caption=f"Network {'-'.join(map(str, self.sizes))}"),
            _html.tag(
                "p",
                f"L = {self.L}, {self.n_params} parameters "
                f"({'weights and biases' if self.bias else 'weights, no biases'}), dtype {self.dtype.name}",
            ),
        )

    # ------------------------------------------------------------------ forward
    def forward(self, X: Any) -> Trace:
        """One forward pass, keeping ``z^(l)`` and ``a^(l)`` for every layer.

        ``X`` is ``(n_samples, n_0)`` (one 1-D sample also works). Returns a :class:`Trace` with
        ``trace.a[l]`` for ``l = 0..L`` (``a^(0) = X``) and ``trace.z[l]`` for ``l = 1..L``.
        """
        X = as_inputs(X, self.sizes[0], self.dtype, finite=False)
        try:
            return self._forward(X, check=True)
        except (MemoryError, TooLargeError):
            raise self._too_large(X.shape[0], "a forward pass", 2) from None

    def predict(self, X: Any) -> np.ndarray:
        """The output ``a^(L)`` for each row of ``X``, shape ``(n_samples, n_L)``; keeps no trace."""
        X = as_inputs(X, self.sizes[0], self.dtype, finite=False)
        try:
            return self._output(X, check=True)[1]
        except (MemoryError, TooLargeError):
            raise self._too_large(X.shape[0], "a prediction", 1) from None

    def _too_large(self, n: int, what: str, arrays: int) -> ChainruleError:
        """The error for too little memory for ``arrays`` arrays ``(n, n_l)`` per layer."""
        nbytes = arrays * n * sum(self.sizes[1:]) * self.dtype.itemsize
        return out_of_memory(nbytes, f"{what} of {n} samples through Network({shown(list(self.sizes))})", "")

    def predict_proba(self, X: Any) -> np.ndarray:
        """The output probabilities ``a^(L)``; the output layer must be softmax (one distribution
        per sample) or sigmoid (one probability per output node)."""
        if not isinstance(self.g[self.L], (Softmax, Sigmoid)):
            raise ChainruleError(
                f"predict_proba needs a softmax or sigmoid output layer; this one is {self.g[self.L].name}"
            )
        return self.predict(X)

    def predict_classes(self, X: Any) -> np.ndarray:
        """The predicted class of each sample: the output node with the largest ``a_j^(L)``, or for
        a single output node ``a^(L) > 0.5``."""
        return classes_of(self.predict(X))

    def _output(self, a: np.ndarray, start: int = 1, check: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(z^(L), a^(L))`` from ``a = a^(start-1)``, keeping nothing of the layers between."""
        return self._propagate(a, start, check, None, keep=False)  # type: ignore[return-value]

    def _propagate(
        self,
        a: np.ndarray,
        start: int,
        check: bool,
        out: Sequence[tuple[np.ndarray, np.ndarray]] | None,
        keep: bool,
    ) -> Any:
        """Layers ``start..L`` from ``a = a^(start-1)``: ``z = a @ W.T + b``, ``a = g(z)``.

        ``out`` gives the ``(z, a)`` arrays to write each layer into (else they are fresh).
        ``keep`` returns the lists ``(z's, a's)`` (the a's starting with the input), else only the
        last ``(z, a)``. With ``check``, each ``z^(l)`` is tested for NaN and inf. A NaN or inf in
        ``a^(l-1)``, ``W^(l)`` or ``b^(l)`` always reaches ``z^(l)`` (NaN * x, inf * 0 and
        inf - inf are not finite), so this one test of the ``(n, n_l)`` arrays stands in for
        scanning the input and every parameter; only when it fails are they scanned, to name the
        culprit. Finite values whose products overflow pass, as they would pass a scan of the inputs.
        """
        Ws, gs = self.W._values, self.g._values
        bs = None if self.b is None else self.b._values
        zs, as_ = [], [a]
        z = a
        # the finiteness test silences the overflow warnings of its dot products once, for all layers
        with np.errstate(over="ignore", invalid="ignore") if check else contextlib.nullcontext():
            for i in range(start - 1, len(Ws)):  # i = l - 1
                z_out, a_out = (None, None) if out is None else out[i - start + 1]
                z = np.matmul(a, Ws[i].T, out=z_out)
                if bs is not None:
                    z += bs[i]
                if check and not _all_finite(z):
                    self._locate_non_finite(i + 1, a if i == start - 1 else None)
                a = gs[i].g(z, out=a_out)
                if keep:
                    zs.append(z)
                    as_.append(a)
        return (zs, as_) if keep else (z, a)

    def _locate_non_finite(self, l: int, a_prev: np.ndarray | None) -> None:
        """Raise for the NaN or inf behind a non-finite ``z^(l)``: in the input, ``W[l]`` or ``b[l]``."""
        if a_prev is not None:
            check_finite("X" if l == 1 else f"a^({l - 1})", a_prev)
        check_finite(f"W[{l}] (layer {l})", self.W[l], ("j", "k"))
        if self.b is not None:
            check_finite(f"b[{l}] (layer {l})", self.b[l], ("j",))

    def _forward(
        self, X: np.ndarray, check: bool = False, out: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
    ) -> Trace:
        """Forward pass keeping every ``z`` and ``a``; ``check`` and ``out`` as for :meth:`_propagate`
        (without ``out``, fresh arrays carved from one block)."""
        if out is None:
            bufs = carve(self.dtype, [(X.shape[0], m) for m in self.sizes[1:] for _ in (0, 1)])
            out = list(zip(bufs[::2], bufs[1::2]))
        zs, as_ = self._propagate(X, 1, check, out, keep=True)
        return Trace(a=LayerList(as_, first=0, name="a"), z=LayerList(zs, first=1, name="z"))
