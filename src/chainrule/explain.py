r"""One weight's gradient as the article's three chain-rule terms, with real numbers.

For the weight ``w_jk^(l)`` from node ``k`` of layer ``l-1`` to node ``j`` of layer ``l`` and one
sample, the article's Part 4 writes

    dC0/dw_jk^(l) = dC0/da_j^(l) * da_j^(l)/dz_j^(l) * dz_j^(l)/dw_jk^(l)
                  = dC0/da_j^(l) * g'^(l)(z_j^(l))   * a_k^(l-1)

For the output layer ``l = L`` the first term is the loss's derivative (``2 (a_j^(L) - y_j)`` for
the article's squared error). For a hidden layer it is the "back" of backprop (Part 5):

    dC0/da_j^(l) = sum_m w_mj^(l+1) * g'^(l+1)(z_m^(l+1)) * dC0/da_m^(l+1)

For a bias ``b_j^(l)`` the third term is ``dz_j^(l)/db_j^(l) = 1``. Over ``n`` samples the
gradient is the mean of the per-sample products (the article's conclusion).

:func:`explain` computes each of these numbers by the article's algorithm as written
(:mod:`chainrule.article`, every chain-rule term kept), in the network's array library and on its
device, and checks the result twice: against the entry of the fast path's gradient
(:func:`~chainrule.gradients`), and against a central finite difference of the cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _html
from ._validation import as_bool, as_float, as_int
from .arrays import _to_numpy
from .backprop import _article_gradients, _prepare, gradients
from .errors import ChainruleError, shown
from .gradcheck import central_difference
from .losses import Loss
from .network import Network, require_network

__all__ = ["Explanation", "Summand", "explain"]

#: The text, Markdown and LaTeX renderings of an Explanation: :mod:`chainrule.render`, the module
#: above this one, registers them when it is imported (``import chainrule`` does), so that this
#: module never imports it.
RENDERINGS: dict[str, Any] = {}


@dataclass(frozen=True)
class Summand:
    """One term ``m`` of the hidden-layer sum
    ``dC0/da_j^(l) = sum_m w_mj^(l+1) * g'^(l+1)(z_m^(l+1)) * dC0/da_m^(l+1)``.

    Arrays hold one value per sample. When layer ``l+1`` is softmax (not elementwise) the
    product ``g' * dC0/da`` is its ``delta_m^(l+1) = dC0/dz_m^(l+1)`` and ``g_prime`` is None.
    """

    m: int
    w: float
    z: np.ndarray
    a: np.ndarray
    g_prime: np.ndarray | None
    dC0_da: np.ndarray
    delta: np.ndarray

    @property
    def value(self) -> np.ndarray:
        """``w_mj^(l+1) * delta_m^(l+1)`` per sample."""
        return self.w * self.delta


@dataclass(frozen=True)
class Explanation:
    """The gradient of one weight ``w_jk^(l)`` (or bias ``b_j^(l)``) term by term.

    Per-sample arrays have one entry per explained sample (``samples`` gives their row numbers).

    Attributes
    ----------
    layer, j, k : int
        The parameter: ``W[layer][j, k]``, or ``b[layer][j]`` when ``bias`` (``k`` is None).
    term1 : array
        ``dC0/da_j^(l)`` per sample.
    term2 : array or None
        ``da_j^(l)/dz_j^(l) = g'^(l)(z_j^(l))`` per sample; None when layer ``l`` is softmax,
        whose ``a_j`` depends on every ``z_m`` (then ``softmax_terms`` holds
        ``da_m^(l)/dz_j^(l)`` for every ``m``, and ``delta = sum_m dC0/da_m * da_m/dz_j``).
    term3 : array
        ``dz_j^(l)/dw_jk^(l) = a_k^(l-1)`` per sample (1 for a bias).
    delta : array
        ``dC0/dz_j^(l)``, terms 1 x 2.
    products : array
        ``dC0/dw_jk^(l)`` per sample: terms 1 x 2 x 3.
    mean : float
        The mean of ``products`` over the samples: ``dC/dw_jk^(l)``.
    backprop : float
        The same entry of :func:`~chainrule.gradients`' ``dW[l]`` (or ``db[l]``).
    finite_difference : float
        A central finite difference of the cost ``C`` with respect to the parameter.
    hidden_sum : tuple of Summand
        For a hidden layer (``l < L``), the terms of ``dC0/da_j^(l)``; empty for ``l = L``.
    W, dW : tuples of arrays
        Every layer's weights and their gradient ``dC/dW^(l)`` over the explained samples
        (position ``l - 1`` holds layer ``l``), for pictures of the whole network.
    """

    layer: int
    j: int
    k: int | None
    L: int
    sizes: tuple[int, ...]
    weight: float
    activation: str
    activation_params: dict[str, Any]
    next_activation: str | None
    loss: Loss
    samples: tuple[int, ...]
    a: np.ndarray  # a_j^(l)
    z: np.ndarray  # z_j^(l)
    y: np.ndarray | None  # y_j, output layer only
    term1: np.ndarray
    term2: np.ndarray | None
    softmax_terms: np.ndarray | None  # (n, n_l): da_m^(l)/dz_j^(l), softmax layers only
    layer_dC0_da: np.ndarray | None  # (n, n_l): dC0/da_m^(l), softmax layers only
    term3: np.ndarray
    delta: np.ndarray
    products: np.ndarray
    mean: float
    backprop: float
    finite_difference: float
    hidden_sum: tuple[Summand, ...]
    W: tuple[np.ndarray, ...]
    dW: tuple[np.ndarray, ...]

    @property
    def bias(self) -> bool:
        """Whether the explained parameter is the bias ``b_j^(l)``."""
        return self.k is None

    @property
    def n(self) -> int:
        """The number of samples explained."""
        return len(self.samples)

    @property
    def symbol(self) -> str:
        """``w_{j,k}^(l)`` or ``b_j^(l)`` in the article's notation, e.g. ``w_{6,12}^(2)``: the two
        node numbers of a weight are separated by a comma (the article's ``w_12`` is ``w_{1,2}``),
        so that ``w_{6,12}`` and ``w_{61,2}`` differ."""
        return f"b_{self.j}^({self.layer})" if self.bias else f"w_{{{self.j},{self.k}}}^({self.layer})"

    def describe(self) -> str:
        """The parameter in words, e.g. "from node 2 of layer 1 to node 1 of layer 2"."""
        if self.bias:
            return f"the bias of node {self.j} of layer {self.layer}"
        return f"from node {self.k} of layer {self.layer - 1} to node {self.j} of layer {self.layer}"

    @property
    def rel_error(self) -> float:
        """Relative difference between the finite difference and the explained mean."""
        scale = max(abs(self.mean), abs(self.finite_difference), 1e-12)
        return abs(self.mean - self.finite_difference) / scale

    def to_text(self, max_samples: int = 5) -> str:
        """Plain text: the symbolic chain rule, then the numbers for each sample, the mean and the checks."""
        return RENDERINGS["text"](self, max_samples)

    def to_markdown(self, max_samples: int = 5) -> str:
        """Markdown: the same content, with tables, ready to paste into notes."""
        return RENDERINGS["markdown"](self, max_samples)

    def to_latex(self, max_samples: int = 5, standalone: bool = True) -> str:
        """LaTeX (amsmath): a complete document that compiles as is, or only its body (``standalone=False``)."""
        return RENDERINGS["latex"](self, max_samples, standalone)

    def to_html(self, max_samples: int = 5) -> str:
        """A self-contained HTML block: the parameter, the chain rule in symbols, a table of the three
        terms and their product per sample (the first and last of at most ``max_samples`` rows), for
        a hidden layer the terms of the sum behind term 1 (first sample), and the mean against
        backprop's entry and the finite difference."""
        max_samples = as_int("max_samples", max_samples, low=1)
        l, j, k = self.layer, self.j, self.k
        C0, a_j, z_j = _html.sym("C", 0), _html.sym("a", j, l), _html.sym("z", j, l)
        w = _html.sym("b", j, l) if k is None else _html.sym("w", _html.pair(j, k), l)
        terms = [_html.d(C0, a_j), _html.d(a_j, z_j), _html.d(z_j, w)]
        a_k = "1" if k is None else _html.sym("a", k, l - 1)
        if self.term2 is None:  # softmax: a_j depends on every z_m of the layer, terms 1 x 2 are one sum
            a_m = _html.sym("a", "m", l)
            middle = _html.cat(
                _html.d(C0, z_j), " = Σ", _html.tag("sub", "m"), " ", _html.d(C0, a_m), " · ", _html.d(a_m, z_j)
            )
            middle_values: Any = self.delta
        else:
            middle = _html.cat(terms[1], " = ", _html.sym("g′", None, l), "(", z_j, ")")
            middle_values = self.term2
        header = ["sample", terms[0], middle, _html.cat(terms[2], " = ", a_k), _html.cat(_html.d(C0, w), " (product)")]
        rows = [
            (s, *(_html.number(v[i], 10) for v in (self.term1, middle_values, self.term3, self.products)))
            for i, s in enumerate(self.samples)
        ]
        what = "bias" if self.bias else "weight"
        parts = [
            _html.tag(
                "p",
                _html.tag("strong", _html.d("C", w)),
                f" — the {what} ",
                w,
                f" = {_html.number(self.weight, 10)}: {self.describe()}. Network {'-'.join(map(str, self.sizes))}, ",
                _html.sym("g", None, l),
                f" = {self.activation}, loss {self.loss.name}.",
            ),
            _html.tag("p", _html.d(C0, w), " = ", terms[0], " · ", terms[1], " · ", terms[2]),
            _html.table(header, rows, max_rows=max_samples),
        ]
        if self.hidden_sum:
            parts.append(self._hidden_sum_html())
        n = self.n
        parts.append(
            _html.table(
                ["", "value"],
                [
                    (
                        _html.cat(_html.d("C", w), f" = mean over {n} sample{'s' if n != 1 else ''}"),
                        _html.number(self.mean, 10),
                    ),
                    (
                        f"backprop's entry of {'db' if self.bias else 'dW'}[{l}]",
                        _html.number(self.backprop, 10),
                    ),
                    ("central finite difference", _html.number(self.finite_difference, 10)),
                    ("relative difference (finite difference vs. mean)", f"{self.rel_error:.1e}"),
                ],
            )
        )
        return _html.block(*parts)

    def _hidden_sum_html(self) -> _html.Html:
        """The terms ``m`` of ``dC0/da_j^(l) = sum_m w_mj^(l+1) g'^(l+1)(z_m^(l+1)) dC0/da_m^(l+1)`` for the
        first sample, as an HTML table ending with their sum, term 1."""
        l, j, nxt = self.layer, self.j, self.layer + 1
        delta_m = _html.d(_html.sym("C", 0), _html.sym("z", "m", nxt))
        header = [
            "m",
            _html.sym("w", _html.pair("m", j), nxt),
            _html.cat(_html.sym("g′", None, nxt), "(", _html.sym("z", "m", nxt), ")"),
            _html.d(_html.sym("C", 0), _html.sym("a", "m", nxt)),
            delta_m,
            _html.cat(_html.sym("w", _html.pair("m", j), nxt), " · ", delta_m),
        ]
        rows = [
            (
                s.m,
                _html.number(s.w, 10),
                "" if s.g_prime is None else _html.number(s.g_prime[0], 10),
                _html.number(s.dC0_da[0], 10),
                _html.number(s.delta[0], 10),
                _html.number(s.value[0], 10),
            )
            for s in self.hidden_sum
        ]
        rows.append(("Σ", "", "", "", "", _html.number(self.term1[0], 10)))
        caption = _html.cat(
            f"term 1 of sample {self.samples[0]}: ", _html.d(_html.sym("C", 0), _html.sym("a", j, l)), " = Σ over m"
        )
        return _html.table(header, rows, caption=caption)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: :meth:`to_html`."""
        return self.to_html()

    def _repr_markdown_(self) -> str:
        """Markdown display (notebook converters that prefer it): :meth:`to_markdown`."""
        return self.to_markdown()

    def _repr_latex_(self) -> str:
        r"""The derivation for Jupyter's MathJax: the rows of :meth:`to_latex`, each section under its
        title, as one display-math block ``$$\begin{aligned} ... \end{aligned}$$``."""
        section_re = r"^\\paragraph\{(?P<title>[^\n]*)\}$(?:\n\\begin\{align\*\}\n(?P<rows>.*?)\n\\end\{align\*\})?"
        lines = []
        for section in re.finditer(section_re, self.to_latex(standalone=False), re.M | re.S):
            lines.append(rf"\textbf{{{section['title']}}} &")
            if section["rows"]:
                lines.append(section["rows"])
        return "$$\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}$$"

    def __str__(self) -> str:
        return self.to_text()


def _host(x: Any) -> np.ndarray:
    """A NumPy copy of an array of any library and device (an Explanation's numbers are for reading)."""
    return np.array(_to_numpy(x))


def _check_index(name: str, value: Any, upper: int, what: str, unit: str = "nodes") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ChainruleError(f"{name} must be a whole number, got {shown(value)} ({type(value).__name__})")
    if not 0 <= value < upper:
        raise ChainruleError(f"{name} = {value} is out of range: {what} has {unit} 0..{upper - 1}")
    return int(value)


def explain(
    net: Network,
    X: Any,
    Y: Any,
    layer: int,
    j: int,
    k: int | None = None,
    *,
    loss: str | Loss = "squared_error",
    bias: bool = False,
    sample: int | None = None,
    eps: float = 6e-6,
) -> Explanation:
    """Explain ``dC/dw_jk^(layer)`` (or ``dC/db_j^(layer)`` with ``bias=True``) term by term.

    Parameters
    ----------
    net : Network
        A NumPy network, or one of another array library (:mod:`chainrule.arrays`): the terms are
        computed in its library and on its device, and the Explanation holds NumPy copies of them.
    X, Y : arrays
        One sample (1-D) or several (rows), as for :func:`~chainrule.gradients` (of the network's library).
    layer : int
        The article's layer number ``l``, ``1..L``.
    j : int
        The node of layer ``l`` (0-based).
    k : int
        The node of layer ``l-1`` (0-based); not used for a bias.
    loss : str or Loss
    bias : bool
        Explain the bias ``b_j^(l)`` instead of a weight.
    sample : int, optional
        Explain only this row of ``X`` and ``Y``.
    eps : float
        Relative step of the finite-difference check.

    Examples
    --------
    >>> net = Network([2, 3, 2], activation="sigmoid", bias=False, seed=0)
    >>> e = explain(net, [0.5, -1.0], [0.0, 1.0], layer=2, j=1, k=2)
    >>> e.describe()
    'from node 2 of layer 1 to node 1 of layer 2'
    >>> bool(np.isclose(e.term1[0] * e.term2[0] * e.term3[0], e.backprop))
    True
    """
    require_network(net, arrays=True)
    L = net.L
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= L:
        raise ChainruleError(
            f"layer = {shown(layer)} is out of range: weights and biases live in layers 1..{L} "
            f"(layer 0 is the input layer, layer L = {L} the output layer)"
        )
    l = int(layer)
    j = _check_index("j", j, net.sizes[l], f"layer {l}")
    bias = as_bool("bias", bias)
    eps = as_float("eps", eps, low=0, high=1, low_open=True)
    if bias:
        if net.b is None:
            raise ChainruleError("this network has no biases (bias=False): explain a weight instead")
        k = None
    else:
        if k is None:
            raise ChainruleError(f"k (the node of layer {l - 1} the weight comes from) is needed to explain a weight")
        k = _check_index("k", k, net.sizes[l - 1], f"layer {l - 1}")
    X, Y, loss, _ = _prepare(net, X, Y, loss, arrays=True)
    rows = range(X.shape[0])
    if sample is not None:
        sample = _check_index("sample", sample, X.shape[0], "X", "samples")
        rows = rows[sample : sample + 1]
        X, Y = X[sample : sample + 1, ...], Y[sample : sample + 1, ...]

    # the fast path's gradient first (its checked passes name any NaN or inf met on the way), then the
    # article's algorithm with every chain-rule term kept, in the network's library and on its device;
    # an Explanation holds its numbers to read as NumPy copies
    fast = gradients(net, X, Y, loss)
    g = _article_gradients(net, X, Y, loss, False, None, fused=False)
    dC0_da, g_prime, delta = g.dC0_da, g.g_prime, g.delta
    a_, z_ = g.trace.a, g.trace.z
    act = net.g[l]
    term1 = _host(dC0_da[l][:, j])
    if act.elementwise:
        term2 = _host(g_prime[l][:, j])
        softmax_terms = layer_dC0_da = None
        delta_j = term1 * term2
    else:
        term2 = None
        softmax_terms = _host(g_prime[l][:, :, j])  # da_m/dz_j
        layer_dC0_da = _host(dC0_da[l])
        delta_j = np.einsum("nm,nm->n", layer_dC0_da, softmax_terms)
    term3 = np.ones(X.shape[0], dtype=net.dtype) if k is None else _host(a_[l - 1][:, k])
    products = delta_j * term3

    Ws = tuple(_host(W) for W in net.W)
    hidden: list[Summand] = []
    if l < L:
        nxt = net.g[l + 1]
        for m in range(net.sizes[l + 1]):
            hidden.append(
                Summand(
                    m=m,
                    w=float(Ws[l][m, j]),  # w_mj^(l+1)
                    z=_host(z_[l + 1][:, m]),
                    a=_host(a_[l + 1][:, m]),
                    g_prime=_host(g_prime[l + 1][:, m]) if nxt.elementwise else None,
                    dC0_da=_host(dC0_da[l + 1][:, m]),
                    delta=_host(delta[l + 1][:, m]),
                )
            )

    # the two checks: the entry of the fast path's gradient (the engine's, for a NumPy network), and a
    # central difference of the cost on a float64 NumPy copy
    backprop = float(fast.db[l][j]) if k is None else float(fast.dW[l][j, k])  # type: ignore[index]
    net64 = net.to(np).copy(np.float64)
    X64, Y64 = _host(X).astype(np.float64), _host(Y).astype(np.float64)
    a_prev64 = net64._forward(X64).a[l - 1]
    flat = j if k is None else j * net.sizes[l - 1] + k
    fd = central_difference(net64, a_prev64, Y64, loss, None, "b" if k is None else "W", l, flat, eps)

    return Explanation(
        layer=l,
        j=j,
        k=k,
        L=L,
        sizes=net.sizes,
        weight=float(net64.b[l][j]) if k is None else float(net64.W[l][j, k]),  # type: ignore[index]
        activation=act.name,
        activation_params=act.params(),
        next_activation=net.g[l + 1].name if l < L else None,
        loss=loss,
        samples=tuple(int(r) for r in rows),
        a=_host(a_[l][:, j]),
        z=_host(z_[l][:, j]),
        y=_host(Y[:, j]) if l == L else None,
        term1=term1,
        term2=term2,
        softmax_terms=softmax_terms,
        layer_dC0_da=layer_dC0_da,
        term3=term3,
        delta=delta_j,
        products=products,
        mean=float(products.mean()),
        backprop=backprop,
        finite_difference=float(fd),
        hidden_sum=tuple(hidden),
        W=Ws,
        dW=tuple(_host(dW) for dW in g.dW),
    )
