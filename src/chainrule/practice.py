r"""Practice mode: small networks whose gradient a learner computes by hand, checked term by term.

A problem is the article's exercise with fresh numbers: a small network (2-3-2, 3-3-2, ...; sigmoid
or tanh; with or without biases) whose weights have one or two decimals, one sample ``x`` with its
target ``y``, and one weight ``w_{j,k}^{(l)}``, in the output layer (Part 4) or in the hidden layer
(Part 5). The learner computes the three chain-rule terms of

    dC0/dw_{j,k}^(l) = dC0/da_j^(l) * g'^(l)(z_j^(l)) * a_k^(l-1)

and their product, and :func:`check` says which are right. The answers come from
:func:`chainrule.explain`, which checks them against backprop and a finite difference.

Everything that goes out is JSON-safe (plain dicts, lists, floats, strings), for a browser page:

* :func:`new_problem` ``(seed, ...)`` -> :class:`Problem`; ``problem.to_dict()`` is what the learner
  sees, ``problem.to_dict(answers=True)`` adds the answers and every step;
* :func:`check` ``(problem, term1=..., ...)`` -> :class:`CheckResult`, with ``to_dict()``;
* :func:`worksheet` ``(n, seed)`` -> N problems; :func:`render_worksheet` and
  :func:`render_solutions` write them as Markdown or as a standalone LaTeX document.

The same seed gives the same problem on every machine and Python version: the numbers are drawn
with ``random.Random(seed).random()``, whose sequence Python guarantees not to change (NumPy's
generators may change between NumPy versions). Seeds are whole numbers ``0 .. 2**53 - 1``, the
integers a JavaScript number holds exactly.

>>> p = new_problem(7)
>>> p == new_problem(7)
True
>>> r = check(p, **p.answers())
>>> r.correct, r.wrong
(True, [])
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import as_bool, as_float, as_int
from .errors import ChainruleError, shown, unknown_name
from .explain import Explanation, explain
from .network import Network
from .render import TexNotation, num

__all__ = [
    "ATOL",
    "MAX_SEED",
    "RTOL",
    "CheckResult",
    "Problem",
    "check",
    "new_problem",
    "render_solutions",
    "render_worksheet",
    "worksheet",
]

#: relative tolerance of :func:`check` (see its docstring)
RTOL = 1e-2
#: absolute tolerance of :func:`check`, for answers near zero (see its docstring)
ATOL = 5e-4
#: every answer of a problem (the three terms and the product) is at least this large in absolute
#: value: a problem drawn with a smaller one is drawn again, so that ATOL is at most 2.5% of any answer
MIN_ANSWER = 0.02
#: the largest seed: 2**53 - 1, the largest whole number a JavaScript (JSON) number holds exactly
MAX_SEED = 2**53 - 1
#: the layer sizes drawn when none are given: the article's 2-3-2 and its neighbours
SHAPES = ((2, 3, 2), (3, 3, 2), (2, 2, 2), (3, 2, 2), (2, 3, 1))
#: the activations a learner can differentiate by hand from a alone
PRACTICE_ACTIVATIONS = ("sigmoid", "tanh")
#: the learner's answers, in order
TERMS = ("term1", "term2", "term3", "product")
_LABELS = {"term1": "term 1", "term2": "term 2", "term3": "term 3", "product": "the product"}
_MAX_NODES = 4
_MAX_DRAWS = 1000
_MAX_PROBLEMS = 1000

_T = TexNotation()


# ---------------------------------------------------------------------------------------------- drawing


class _Draw:
    """Random choices from ``random.Random(seed).random()`` alone, whose sequence Python keeps the
    same across versions (``randrange`` and ``choice`` are not promised to)."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def below(self, n: int) -> int:
        return min(int(self._r.random() * n), n - 1)

    def choice(self, items: Sequence[Any]) -> Any:
        return items[self.below(len(items))]

    def chance(self, p: float) -> bool:
        return self._r.random() < p


def _decimals_grid(limit: int, decimals: int) -> tuple[float, ...]:
    """The non-zero multiples of ``10**-decimals`` in ``[-limit/10, limit/10]``."""
    scale = 10**decimals
    top = limit * 10 ** (decimals - 1)
    return tuple(round(i / scale, decimals) for i in range(-top, top + 1) if i != 0)


def _as_seed(seed: Any, name: str = "seed") -> int:
    return as_int(name, seed, low=0, high=MAX_SEED)


def _as_sizes(sizes: Any) -> tuple[int, int, int] | None:
    if sizes is None:
        return None
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
        raise ChainruleError(f"sizes must be three node counts (n_0, n_1, n_2); got {shown(sizes)}")
    items = list(sizes)
    if len(items) != 3:
        raise ChainruleError(
            f"sizes must be three node counts (n_0, n_1, n_2): an input layer, one hidden layer and the output "
            f"layer L = 2, as in the article; got {shown(items)}"
        )
    out = tuple(as_int(f"sizes[{i}]", n, low=1, high=_MAX_NODES) for i, n in enumerate(items))
    return out  # type: ignore[return-value]


def _as_layer(layer: Any) -> str | int | None:
    if layer is None or layer in ("output", "hidden"):
        return layer
    if isinstance(layer, str):
        raise unknown_name("layer", layer, ("output", "hidden"))
    l = as_int("layer", layer, low=1, high=2)
    return "output" if l == 2 else "hidden"


# ---------------------------------------------------------------------------------------------- problems


@dataclass(frozen=True, eq=False)
class Problem:
    """One exercise: a network, one sample, one weight ``w_{j,k}^{(l)}``, and its answers.

    Attributes
    ----------
    spec : dict
        The arguments of :func:`new_problem` that make this problem again: ``new_problem(**spec)``.
    net : Network
        Sizes ``(n_0, n_1, n_2)``, one activation everywhere, weights with one or two decimals.
    x, y : arrays
        The sample ``x = a^{(0)}`` (``n_0`` values) and its target ``y`` (``n_2`` values).
    layer, j, k : int
        The weight ``W[layer][j, k] = w_{j,k}^{(layer)}``, from node ``k`` of layer ``layer - 1``
        to node ``j`` of layer ``layer``.
    term1, term2, term3, product : float
        ``dC0/da_j^(l)``, ``g'^(l)(z_j^(l))``, ``a_k^(l-1)`` and their product ``dC0/dw_{j,k}^(l)``,
        from :func:`chainrule.explain`.
    explanation : Explanation
        :func:`chainrule.explain`'s result, with the hidden sum and the checks.
    """

    spec: dict[str, Any]
    net: Network
    x: np.ndarray
    y: np.ndarray
    layer: int
    j: int
    k: int
    term1: float
    term2: float
    term3: float
    product: float
    explanation: Explanation = field(repr=False)

    @property
    def seed(self) -> int:
        return int(self.spec["seed"])

    @property
    def L(self) -> int:
        return self.net.L

    @property
    def kind(self) -> str:
        """``"output"`` (the article's Part 4) or ``"hidden"`` (Part 5)."""
        return "output" if self.layer == self.L else "hidden"

    @property
    def activation(self) -> str:
        return self.net.g[1].name

    @property
    def weight(self) -> float:
        return float(self.net.W[self.layer][self.j, self.k])

    def answers(self) -> dict[str, float]:
        """The four answers, keyed as :func:`check`'s arguments (so ``check(p, **p.answers())`` passes)."""
        return {"term1": self.term1, "term2": self.term2, "term3": self.term3, "product": self.product}

    def steps(self) -> dict[str, Any]:
        """Every number of the solution: the forward pass, the loss, the hidden sum, the checks."""
        trace = self.net.forward(self.x[None, :])
        forward = [{"layer": p, "z": _floats(trace.z[p][0]), "a": _floats(trace.a[p][0])} for p in range(1, self.L + 1)]
        out = trace.a[self.L][0]
        e = self.explanation
        hidden = [
            {
                "m": s.m,
                "w": float(s.w),
                "z": float(s.z[0]),
                "a": float(s.a[0]),
                "g_prime": float(s.g_prime[0]),  # type: ignore[index]
                "dC0_da": float(s.dC0_da[0]),
                "value": float(s.value[0]),
            }
            for s in e.hidden_sum
        ]
        return {
            "forward": forward,
            "C0": float(((out - self.y) ** 2).sum()),
            "z": float(e.z[0]),
            "a": float(e.a[0]),
            "hidden_sum": hidden,
            "backprop": float(e.backprop),
            "finite_difference": float(e.finite_difference),
        }

    def to_dict(self, answers: bool = False) -> dict[str, Any]:
        """What the learner sees, JSON-safe: the network, the sample, the weight asked, the terms to
        compute (their symbols, neither their formulas nor their values). ``answers=True`` adds
        ``"answers"``, ``"formulas"`` (each term's, and ``g'``) and ``"steps"`` (every number of the
        solution, see :meth:`steps`)."""
        answers = as_bool("answers", answers)
        l, j, k = self.layer, self.j, self.k
        layers = []
        for p in range(1, self.L + 1):
            layers.append(
                {
                    "layer": p,
                    "W": self.net.W[p].tolist(),
                    "b": self.net.b[p].tolist() if self.net.b is not None else None,
                    "activation": self.net.g[p].name,
                }
            )
        d: dict[str, Any] = {
            "seed": self.seed,
            "spec": dict(self.spec),
            "sizes": list(self.net.sizes),
            "L": self.L,
            "activation": self.activation,
            "activation_formula": _G_TEXT[self.activation],
            "loss": "squared_error",
            "loss_formula": "C0 = sum_j (a_j^(L) - y_j)^2",
            "bias": self.net.b is not None,
            "layers": layers,
            "x": _floats(self.x),
            "y": _floats(self.y),
            "weight": {
                "layer": l,
                "j": j,
                "k": k,
                "value": self.weight,
                "kind": self.kind,
                "symbol": _w_tex(j, k, l),
                "text": _w_text(j, k, l),
                "description": self.explanation.describe(),
            },
            "terms": [
                {
                    "name": name,
                    "label": _LABELS[name],
                    "symbol": _term_symbol(self, name),
                    "text": _term_symbol_text(self, name),
                }
                for name in TERMS
            ],
            "question": (
                f"Compute dC0/d{_w_text(j, k, l)}, the gradient of the loss for the weight {_w_text(j, k, l)} = "
                f"{num(self.weight)} {self.explanation.describe()}, as the product of the three chain-rule terms."
            ),
        }
        if answers:
            d["answers"] = self.answers()
            d["formulas"] = {name: _term_formula_text(self, name) for name in TERMS}
            d["formulas"]["activation_derivative"] = _G_PRIME_TEXT[self.activation]
            d["steps"] = self.steps()
        return d

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Problem):
            return NotImplemented
        return self.to_dict(answers=True) == other.to_dict(answers=True)

    __hash__ = None  # type: ignore[assignment]


def _floats(a: Any) -> list[float]:
    return [float(v) for v in np.asarray(a).ravel()]


def new_problem(
    seed: int,
    *,
    sizes: Sequence[int] | None = None,
    bias: bool | None = None,
    layer: str | int | None = None,
    activation: str = "sigmoid",
    decimals: int = 1,
) -> Problem:
    """A fresh problem, the same one for the same arguments.

    Parameters
    ----------
    seed : int
        ``0 .. 2**53 - 1``.
    sizes : three ints, optional
        ``(n_0, n_1, n_2)``, each 1..4 (default: drawn from :data:`SHAPES`).
    bias : bool, optional
        Whether the network has biases (default: drawn, one problem in two).
    layer : "output", "hidden", 2 or 1, optional
        Where the weight is: the output layer ``L = 2`` (Part 4) or the hidden layer 1 (Part 5)
        (default: drawn, one problem in two).
    activation : "sigmoid" or "tanh"
        ``g`` in every layer; both have a derivative a learner writes from ``a`` alone.
    decimals : 1 or 2
        Decimals of the weights (the inputs and biases always have one).

    Weights are non-zero multiples of ``10**-decimals`` in ``[-0.9, 0.9]``, biases in
    ``[-0.5, 0.5]``, inputs in ``[-1, 1]`` (non-zero), targets 0 or 1; the loss is the article's
    ``C0 = sum_j (a_j^(L) - y_j)^2``. A draw where an answer is smaller than
    :data:`MIN_ANSWER` in absolute value is drawn again (from the same seeded stream).

    >>> p = new_problem(0, sizes=(2, 3, 2), layer="output", bias=False)
    >>> p.net.sizes, p.layer, p.kind
    ((2, 3, 2), 2, 'output')
    """
    seed = _as_seed(seed)
    shape = _as_sizes(sizes)
    bias = None if bias is None else as_bool("bias", bias)
    where = _as_layer(layer)
    if activation not in PRACTICE_ACTIVATIONS:
        raise unknown_name("practice activation", activation, PRACTICE_ACTIVATIONS)
    decimals = as_int("decimals", decimals, low=1, high=2)
    spec = {
        "seed": seed,
        "sizes": None if shape is None else list(shape),
        "bias": bias,
        "layer": where,
        "activation": activation,
        "decimals": decimals,
    }
    weights = _decimals_grid(9, decimals)
    biases = _decimals_grid(5, 1)
    inputs = _decimals_grid(10, 1)
    draw = _Draw(seed)
    for _ in range(_MAX_DRAWS):
        n = shape if shape is not None else draw.choice(SHAPES)
        has_bias = bias if bias is not None else draw.chance(0.5)
        l = {"output": 2, "hidden": 1, None: None}[where]
        if l is None:
            l = 2 if draw.chance(0.5) else 1
        W = [[[draw.choice(weights) for _ in range(n[p - 1])] for _ in range(n[p])] for p in (1, 2)]
        b = [[draw.choice(biases) for _ in range(n[p])] for p in (1, 2)] if has_bias else None
        x = np.array([draw.choice(inputs) for _ in range(n[0])])
        y = np.array([float(draw.below(2)) for _ in range(n[2])])
        j, k = draw.below(n[l]), draw.below(n[l - 1])
        net = Network.from_weights(W, b, activation=activation, dtype=np.float64)
        e = explain(net, x[None, :], y[None, :], layer=l, j=j, k=k)
        values = (float(e.term1[0]), float(e.term2[0]), float(e.term3[0]), float(e.products[0]))  # type: ignore[index]
        if min(abs(v) for v in values) >= MIN_ANSWER:
            return Problem(spec, net, x, y, l, j, k, *values, explanation=e)
    raise ChainruleError(  # pragma: no cover - every argument allowed draws a usable problem within a few tries
        f"no problem with every answer >= {MIN_ANSWER} in {_MAX_DRAWS} draws for {shown(spec)}"
    )


def worksheet(n: int, seed: int, *, layer: str | int | None = None, **options: Any) -> list[Problem]:
    """``n`` problems for one worksheet, the same ones for the same ``seed``.

    Each problem gets its own seed (drawn from ``seed``, in ``problem.spec``), so one problem of a
    worksheet can be made again alone. Without ``layer`` the problems alternate between the
    output layer (odd numbers) and the hidden layer (even numbers). ``options`` go to
    :func:`new_problem` (``sizes``, ``bias``, ``activation``, ``decimals``).

    >>> [p.kind for p in worksheet(3, seed=1)]
    ['output', 'hidden', 'output']
    """
    n = as_int("n", n, low=1, high=_MAX_PROBLEMS)
    seed = _as_seed(seed)
    draw = _Draw(seed)
    seeds: list[int] = []
    while len(seeds) < n:
        s = draw.below(MAX_SEED + 1)
        if s not in seeds:
            seeds.append(s)
    where = _as_layer(layer)
    return [
        new_problem(s, layer=where if where is not None else ("output" if i % 2 == 0 else "hidden"), **options)
        for i, s in enumerate(seeds)
    ]


# ---------------------------------------------------------------------------------------------- notation

_G_TEXT = {"sigmoid": "g(z) = 1 / (1 + e^-z)", "tanh": "g(z) = tanh(z)"}
_G_PRIME_TEXT = {"sigmoid": "g'(z) = a (1 - a)", "tanh": "g'(z) = 1 - a^2"}
_G_TEX = {"sigmoid": r"\sigma", "tanh": r"\tanh"}


def _w_tex(j: int | str, k: int | str, l: int | str) -> str:
    """``w_{j,k}^{(l)}``: the comma keeps ``w_{1,12}`` apart from ``w_{11,2}``."""
    return _T.node("w", f"{j},{k}", l)  # type: ignore[arg-type]


def _w_text(j: int | str, k: int | str, l: int | str) -> str:
    return f"w_{{{j},{k}}}^({l})"


def _node_tex(base: str, i: int | str, l: int) -> str:
    return _T.node(base, str(i), l)


def _node_text(base: str, i: int | str, l: int) -> str:
    return f"{base}_{i}^({l})"


def _dd_tex(top: str, bottom: str) -> str:
    return rf"\partial {top} / \partial {bottom}"


def _g_prime_of_a_tex(activation: str, a: str) -> str:
    return rf"{a}\left(1 - {a}\right)" if activation == "sigmoid" else rf"1 - \left({a}\right)^2"


def _g_prime_of_a_text(activation: str, a: str) -> str:
    return f"{a} (1 - {a})" if activation == "sigmoid" else f"1 - ({a})^2"


def _term_symbol(p: Problem, name: str) -> str:
    """The term as a TeX derivative, e.g. ``\\partial a_{1}^{(2)} / \\partial z_{1}^{(2)}``."""
    l, j, k = p.layer, p.j, p.k
    a, z, w = _node_tex("a", j, l), _node_tex("z", j, l), _w_tex(j, k, l)
    return {
        "term1": _dd_tex("C_0", a),
        "term2": _dd_tex(a, z),
        "term3": _dd_tex(z, w),
        "product": _dd_tex("C_0", w),
    }[name]


def _term_symbol_text(p: Problem, name: str) -> str:
    """The term as a plain-text derivative, e.g. ``da_1^(2)/dz_1^(2)``."""
    l, j, k = p.layer, p.j, p.k
    a, z, w = _node_text("a", j, l), _node_text("z", j, l), _w_text(j, k, l)
    return {"term1": f"dC0/d{a}", "term2": f"d{a}/d{z}", "term3": f"d{z}/d{w}", "product": f"dC0/d{w}"}[name]


def _term_formula_text(p: Problem, name: str) -> str:
    """The term's formula in plain text, e.g. ``g'(z_1^(2)) = a_1^(2) (1 - a_1^(2))``."""
    l, j, k = p.layer, p.j, p.k
    a, z = _node_text("a", j, l), _node_text("z", j, l)
    if name == "term1":
        if p.kind == "output":
            return f"dC0/d{a} = 2 ({a} - y_{j})"
        return (
            f"dC0/d{a} = sum_m {_w_text('m', j, l + 1)} g'({_node_text('z', 'm', l + 1)}) "
            f"dC0/d{_node_text('a', 'm', l + 1)}"
        )
    if name == "term2":
        return f"g'({z}) = {_g_prime_of_a_text(p.activation, a)}"
    if name == "term3":
        src = _node_text("a", k, l - 1)
        return f"d{z}/d{_w_text(j, k, l)} = {src}" + (f" = x_{k}" if l == 1 else "")
    return f"dC0/d{_w_text(j, k, l)} = term 1 * term 2 * term 3"


# ---------------------------------------------------------------------------------------------- checking


def _fmt(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits, never in exponent notation (``0.0003125``)."""
    x = float(x) + 0.0
    if x == 0:
        return "0"
    text = np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")
    return "0" if text in ("-0", "0") else text


def _par(x: float, digits: int = 4) -> str:
    s = _fmt(x, digits)
    return f"({s})" if s.startswith("-") else s


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found, term by term.

    ``correct`` is True when all four answers were given and are right. ``right``, ``wrong`` and
    ``missing`` list term names (``"term1"``, ..., ``"product"``). ``terms`` holds one dict per
    given term: ``given``, ``correct``, ``error`` (given - expected), ``tolerance``, ``feedback``,
    and ``expected`` unless the check was made with ``reveal=False``. ``feedback`` holds one
    sentence per given term, the wrong ones first; ``message`` sums it up in one line.
    """

    correct: bool
    right: list[str]
    wrong: list[str]
    missing: list[str]
    terms: dict[str, dict[str, Any]]
    feedback: list[str]
    message: str
    rtol: float
    atol: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: plain lists, dicts, floats and strings."""
        return {
            "correct": self.correct,
            "right": list(self.right),
            "wrong": list(self.wrong),
            "missing": list(self.missing),
            "terms": {name: dict(t) for name, t in self.terms.items()},
            "feedback": list(self.feedback),
            "message": self.message,
            "rtol": self.rtol,
            "atol": self.atol,
        }

    def __bool__(self) -> bool:
        return self.correct


def _as_answer(name: str, value: Any) -> float | None:
    """A learner's answer: a number, a numeric string ("0.31", or "0,31" with a decimal comma), or
    None (as is an empty string): not given."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            raise ChainruleError(f"{name} must be a number; got {shown(value)}") from None
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise ChainruleError(f"{name} must be a number; got {shown(value)} ({type(value).__name__})")
    return as_float(name, value)


def _close(given: float, value: float, rtol: float, atol: float) -> bool:
    return abs(given - value) <= max(atol, rtol * abs(value))


def _hints(p: Problem, name: str, given: float, rtol: float, atol: float) -> list[str]:
    """Common mistakes that give ``given``: each is a (value, sentence) pair tried in turn."""
    e, l, j, k = p.explanation, p.layer, p.j, p.k
    a, z = float(e.a[0]), float(e.z[0])
    expected = p.answers()[name]
    a_text, z_text = _node_text("a", j, l), _node_text("z", j, l)
    trace = p.net.forward(p.x[None, :])
    candidates: list[tuple[float, str]] = [(-expected, "the sign is wrong")]
    if name == "term1" and p.kind == "output":
        yj = float(p.y[j])
        candidates += [
            (a - yj, f"that is {a_text} - y_{j}: the derivative of ({a_text} - y_{j})^2 has a factor 2"),
            ((a - yj) ** 2, f"that is the node's loss ({a_text} - y_{j})^2, not its derivative"),
        ]
    if name == "term1" and p.kind == "hidden":
        candidates.append(
            (
                sum(s.w * float(s.dC0_da[0]) for s in e.hidden_sum),
                f"each term of the sum needs the factor g'({_node_text('z', 'm', l + 1)})",
            )
        )
    if name == "term2":
        candidates += [
            (a, f"that is {a_text} itself; the term is the derivative g'({z_text})"),
            (z, f"that is {z_text}; the term is the derivative g'({z_text})"),
        ]
    if name == "term3":
        w_text = _w_text(j, k, l)
        candidates.append((p.weight, f"that is the weight {w_text} itself; dz/dw is what the weight multiplies"))
        if j != k and j < p.net.sizes[l - 1]:
            candidates.append(
                (
                    float(trace.a[l - 1][0, j]),
                    f"that is {_node_text('a', j, l - 1)}; {w_text} comes from node {k} of layer {l - 1}",
                )
            )
        if l > 1:
            candidates.append(
                (
                    float(trace.z[l - 1][0, k]),
                    f"that is {_node_text('z', k, l - 1)}; the term is the activation {_node_text('a', k, l - 1)}",
                )
            )
    if name == "product":
        candidates.append((p.term1 * p.term3, "the product is missing term 2, g'"))
    return [
        text
        for value, text in candidates
        if _close(given, value, rtol, atol) and not _close(value, expected, rtol, atol)
    ][:1]


def check(
    problem: Problem,
    term1: Any = None,
    term2: Any = None,
    term3: Any = None,
    product: Any = None,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    reveal: bool = True,
) -> CheckResult:
    """Check the learner's answers, each to ``max(atol, rtol * |answer|)``.

    A term left out (None or an empty string) is not checked and is listed in ``missing``.

    Why these tolerances. A learner works with a calculator and writes each intermediate number
    (``z``, ``a``, ``a - y``, ``g'``, the summands of a hidden sum, the terms) rounded, typically
    to 4 decimal places; the weights, biases and inputs are exact (one or two decimals).

    * Relative ``1e-2`` (1%) is well above what that rounding costs and well below the mistakes a
      learner makes. Each rounding moves a number by at most 5e-5; over 6000 drawn problems (both
      activations, both layers) a learner rounding every number to 4 decimal places ended at most
      0.33% from an answer. A final answer given to 3 significant digits is at most 0.5% off and
      passes too. The usual mistakes are far larger: a lost factor 2 (50%), a wrong sign (200%),
      ``a`` instead of ``a (1 - a)`` or ``z`` instead of ``a`` (tens of percent).
    * Absolute ``5e-4`` is for answers near zero, where the relative rule alone would refuse a
      correct computation: the rounding error of a 4-decimal computation does not shrink with the
      answer (``2 (a - y)`` with ``a`` near ``y``, a hidden sum whose summands nearly cancel). Its
      worst case over the same 6000 problems was 4.2e-4 (a hidden sum), below ``atol``. Problems
      are drawn so that every answer is at least :data:`MIN_ANSWER` = 0.02 in absolute value, so
      ``atol`` is never more than 2.5% of an answer: a zero, a wrong sign or a lost factor never
      passes.

    A learner rounding to 3 decimal places is refused on about 1% of problems (the product
    multiplies three rounded numbers), hence the advice on the worksheet: at least 4. The test
    suite runs a simulated learner rounding every number to 4 decimal places on many seeds.

    >>> p = new_problem(3, layer="output")
    >>> r = check(p, term1=p.term1, term2=p.term2 + 0.1, term3=p.term3)
    >>> r.right, r.wrong, r.missing
    (['term1', 'term3'], ['term2'], ['product'])
    """
    if not isinstance(problem, Problem):
        raise ChainruleError(f"problem must be a Problem (from new_problem); got {type(problem).__name__}")
    rtol = as_float("rtol", rtol, low=0)
    atol = as_float("atol", atol, low=0)
    reveal = as_bool("reveal", reveal)
    given = {name: _as_answer(name, v) for name, v in zip(TERMS, (term1, term2, term3, product))}
    expected = problem.answers()
    right: list[str] = []
    wrong: list[str] = []
    missing: list[str] = []
    terms: dict[str, dict[str, Any]] = {}
    for name in TERMS:
        g = given[name]
        if g is None:
            missing.append(name)
            continue
        value = expected[name]
        ok = _close(g, value, rtol, atol)
        (right if ok else wrong).append(name)
        what = f"{_LABELS[name]}, {_term_formula_text(problem, name)}"
        if ok:
            text = f"{what}, is right: {_fmt(value) if reveal else _fmt(g)}."
        else:
            text = f"{what}, is wrong: you gave {_fmt(g, 6)}" + (f", it is {_fmt(value)}" if reveal else "") + "."
            hints = _hints(problem, name, g, rtol, atol)
            if name == "product" and not hints and all(given[t] is not None for t in TERMS[:3]):
                mine = given["term1"] * given["term2"] * given["term3"]  # type: ignore[operator]
                if _close(g, mine, rtol, atol):
                    hints = ["it is the product of your three terms: correct the wrong term and multiply again"]
            if hints:
                text = text[:-1] + f" ({hints[0]})."
        entry: dict[str, Any] = {
            "name": name,
            "label": _LABELS[name],
            "formula": _term_formula_text(problem, name),
            "symbol": _term_symbol(problem, name),
            "given": g,
            "correct": ok,
            "error": g - value,
            "tolerance": max(atol, rtol * abs(value)),
            "feedback": text,
        }
        if reveal:
            entry["expected"] = value
        else:
            del entry["error"]
        terms[name] = entry
    feedback = [terms[n]["feedback"] for n in wrong] + [terms[n]["feedback"] for n in right]
    correct = not wrong and not missing
    if correct:
        message = f"All right: dC0/d{_w_text(problem.j, problem.k, problem.layer)} = {_fmt(problem.product)}."
    elif not right and not wrong:
        message = "Nothing to check: give term1, term2, term3 or the product."
    elif wrong:
        message = "Wrong: " + ", ".join(_LABELS[n] for n in wrong) + "."
    else:
        message = "Right so far; still to give: " + ", ".join(_LABELS[n] for n in missing) + "."
    return CheckResult(correct, right, wrong, missing, terms, feedback, message, rtol, atol)


# ---------------------------------------------------------------------------------------------- documents
#
# A document is a list of blocks, each made of text and math pieces, rendered to Markdown (math
# between $...$) or LaTeX (text escaped, math between $...$). The math is the same TeX in both.

_Piece = tuple[str, str]  # ("t", text) or ("m", TeX math)


def _t(s: str) -> _Piece:
    return ("t", s)


def _m(s: str) -> _Piece:
    return ("m", s)


@dataclass
class _Block:
    kind: str  # "h1", "h2", "h3", "p", "items", "table", "matrix"
    pieces: list[_Piece] = field(default_factory=list)
    items: list[list[_Piece]] = field(default_factory=list)
    header: list[list[_Piece]] = field(default_factory=list)
    rows: list[list[list[_Piece]]] = field(default_factory=list)
    blanks: bool = False


def tex_escape(s: str) -> str:
    r"""``s`` as LaTeX text: every character LaTeX treats specially is escaped.

    >>> print(tex_escape("50% of a_b & {c} ~ $5 #1 ^ \\"))
    50\% of a\_b \& \{c\} \textasciitilde{} \$5 \#1 \textasciicircum{} \textbackslash{}
    """
    out = []
    for ch in s:
        if ch == "\\":
            out.append(r"\textbackslash{}")
        elif ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "~":
            out.append(r"\textasciitilde{}")
        elif ch == "^":
            out.append(r"\textasciicircum{}")
        else:
            out.append(ch)
    return "".join(out)


def _md(pieces: list[_Piece]) -> str:
    return "".join(s if kind == "t" else f"${s}$" for kind, s in pieces)


def _tex(pieces: list[_Piece]) -> str:
    return "".join(tex_escape(s) if kind == "t" else f"${s}$" for kind, s in pieces)


def _to_markdown(blocks: list[_Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out += ["#" * int(b.kind[1]) + " " + _md(b.pieces), ""]
        elif b.kind == "p":
            out += [_md(b.pieces), ""]
        elif b.kind == "items":
            out += ["- " + _md(item) for item in b.items] + [""]
        elif b.kind in ("table", "matrix"):
            if b.pieces:
                out += [_md(b.pieces), ""]
            out.append("| " + " | ".join(_md(c) for c in b.header) + " |")
            out.append("|" + " --- |" * len(b.header))
            for row in b.rows:
                out.append("| " + " | ".join(_md(c) for c in row) + " |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _to_latex(blocks: list[_Block]) -> str:
    out = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{amsmath}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\setlength{\parindent}{0pt}",
        r"\setlength{\parskip}{0.5em}",
        r"\begin{document}",
        "",
    ]
    for b in blocks:
        if b.kind == "h1":
            out += [rf"\section*{{{_tex(b.pieces)}}}", ""]
        elif b.kind == "h2":
            out += [rf"\subsection*{{{_tex(b.pieces)}}}", ""]
        elif b.kind == "h3":
            out += [rf"\paragraph{{{_tex(b.pieces)}}}", ""]
        elif b.kind == "p":
            out += [_tex(b.pieces), ""]
        elif b.kind == "items":
            out.append(r"\begin{itemize}")
            out += [rf"  \item {_tex(item)}" for item in b.items]
            out += [r"\end{itemize}", ""]
        elif b.kind == "matrix":  # header = [corner, columns...]; rows = [[row label, values...]]
            name = b.header[0][0][1]
            body = r" \\ ".join(" & ".join(_tex(c) for c in row[1:]) for row in b.rows)
            cols = "c" * (len(b.header) - 1)
            out += [
                _tex(b.pieces),
                r"\[",
                rf"  {name} = \left[\begin{{array}}{{{cols}}} {body} \end{{array}}\right]",
                r"\]",
                "",
            ]
        elif b.kind == "table":
            if b.pieces:
                out += [_tex(b.pieces), ""]
            spec = "l" * (len(b.header) - 1) + ("p{5cm}" if b.blanks else "l")
            out += [r"\begin{center}", r"\renewcommand{\arraystretch}{1.8}", rf"\begin{{tabular}}{{{spec}}}", r"\hline"]
            out.append(" & ".join(_tex(c) for c in b.header) + r" \\ \hline")
            for row in b.rows:
                cells = [_tex(c) for c in row]
                if b.blanks:
                    cells[-1] = cells[-1] or r"\hrulefill"
                out.append(" & ".join(cells) + r" \\")
            out += [r"\hline", r"\end{tabular}", r"\end{center}", ""]
    out += [r"\end{document}", ""]
    return "\n".join(out)


def _network_blocks(p: Problem) -> list[_Block]:
    """The numbers the learner is given: sizes, activation, W, b, x, y."""
    net = p.net
    sizes = "-".join(map(str, net.sizes))
    g = p.activation
    blocks = [
        _Block(
            "p",
            [
                _t(f"Network {sizes} (layers 0, 1, 2 = L), "),
                _m(f"g = {_G_TEX[g]}"),
                _t(" in every layer, "),
                _t("with biases" if net.b is not None else "no biases"),
                _t("; loss "),
                _m(r"C_0 = \sum_{j} \left(a_j^{(2)} - y_j\right)^2"),
                _t("."),
            ],
        )
    ]
    for l in (1, 2):
        W = net.W[l]
        header = [[_m(f"W^{{({l})}}")]] + [[_m(f"k = {k}")] for k in range(W.shape[1])]
        rows = [[[_m(f"j = {j}")]] + [[_t(num(v))] for v in W[j]] for j in range(W.shape[0])]
        blocks.append(
            _Block(
                "matrix",
                [
                    _m(f"W^{{({l})}}"),
                    _t(f": row j is node j of layer {l}, column k is node k of layer {l - 1}, so the entry is "),
                    _m(_w_tex("j", "k", l)),
                    _t("."),
                ],
                header=header,
                rows=rows,
            )
        )
    facts: list[list[_Piece]] = []
    if net.b is not None:
        for l in (1, 2):
            facts.append([_m(f"b^{{({l})}} = ({', '.join(num(v) for v in net.b[l])})")])
    names0 = ", ".join(_node_tex("a", k, 0) for k in range(net.sizes[0]))
    facts.append([_m(f"x = ({names0}) = ({', '.join(num(v) for v in p.x)})")])
    facts.append([_m(f"y = ({', '.join(num(v) for v in p.y)})")])
    blocks.append(_Block("items", items=facts))
    return blocks


def _question_pieces(p: Problem) -> list[_Piece]:
    l, j, k = p.layer, p.j, p.k
    return [
        _t("Compute "),
        _m(_dd_tex("C_0", _w_tex(j, k, l))),
        _t(" for the weight "),
        _m(f"{_w_tex(j, k, l)} = {num(p.weight)}"),
        _t(f" ({p.explanation.describe()}, {'the output layer' if p.kind == 'output' else 'a hidden layer'})."),
    ]


def _term_rows(p: Problem, values: dict[str, str] | None) -> list[list[list[_Piece]]]:
    l, j = p.layer, p.j
    z = _node_tex("z", j, l)
    descriptions = {
        "term1": _term_symbol(p, "term1"),
        "term2": f"{_term_symbol(p, 'term2')} = {_T.g_prime(l, z)}",
        "term3": _term_symbol(p, "term3"),
        "product": _term_symbol(p, "product"),
    }
    return [
        [[_t(_LABELS[n].replace("the ", ""))], [_m(descriptions[n])], [_t(values[n])] if values else []] for n in TERMS
    ]


def _title(title: str | None, default: str) -> str:
    if title is None:
        return default
    if not isinstance(title, str):
        raise ChainruleError(f"title must be a string; got {shown(title)} ({type(title).__name__})")
    return title


def _as_problems(problems: Any) -> list[Problem]:
    if isinstance(problems, Problem):
        return [problems]
    if isinstance(problems, (str, bytes)) or not isinstance(problems, Iterable):
        raise ChainruleError(f"problems must be a Problem or a list of them; got {shown(problems)}")
    items = list(problems)
    if not items:
        raise ChainruleError("problems is empty: a worksheet needs at least one problem")
    for i, p in enumerate(items):
        if not isinstance(p, Problem):
            raise ChainruleError(f"problems[{i}] must be a Problem (from new_problem); got {type(p).__name__}")
    return items


def _render(blocks: list[_Block], format: str) -> str:
    if format == "markdown":
        return _to_markdown(blocks)
    if format == "latex":
        return _to_latex(blocks)
    raise unknown_name("format", format, ("markdown", "latex"))


_CHAIN = (
    r"\frac{\partial C_0}{\partial w_{j,k}^{(l)}} = "
    r"\frac{\partial C_0}{\partial a_j^{(l)}} \cdot \frac{\partial a_j^{(l)}}{\partial z_j^{(l)}} \cdot "
    r"\frac{\partial z_j^{(l)}}{\partial w_{j,k}^{(l)}}"
)


def render_worksheet(problems: Any, format: str = "markdown", *, title: str | None = None) -> str:
    """The problems with blanks for the answers, as Markdown or a standalone LaTeX document.

    >>> text = render_worksheet(worksheet(2, seed=0))
    >>> text.count("## Problem"), "w_{" in text
    (2, True)
    """
    items = _as_problems(problems)
    blocks = [
        _Block("h1", [_t(_title(title, "Backpropagation practice: worksheet"))]),
        _Block(
            "p",
            [
                _t(
                    "For each problem, compute the gradient of the loss of the one sample with respect to one weight, "
                    "as the product of the three chain-rule terms: "
                ),
                _m(_CHAIN.replace(r"\frac", r"\tfrac")),
                _t(". Nodes are numbered from 0, and "),
                _m(_w_tex("j", "k", "l")),
                _t(
                    " is the weight from node k of layer l - 1 to node j of layer l. Round the numbers you write "
                    "down to no fewer than 4 decimal places; an answer within 1% (or 0.0005) is right."
                ),
            ],
        ),
    ]
    for i, p in enumerate(items, 1):
        blocks.append(_Block("h2", [_t(f"Problem {i} (seed {p.seed})")]))
        blocks += _network_blocks(p)
        blocks.append(_Block("p", _question_pieces(p)))
        if p.kind == "hidden":
            n_next, up = p.net.sizes[p.layer + 1], p.layer + 1
            feeds = f" feeds the {n_next} nodes of layer {up}, so term 1 is a sum of {n_next} terms, one per node."
            if n_next == 1:
                feeds = f" feeds the one node of layer {up}, so term 1 is a sum of a single term."
            blocks.append(_Block("p", [_t("Node "), _m(_node_tex("a", p.j, p.layer)), _t(feeds)]))
        blocks.append(
            _Block(
                "table",
                header=[[_t("")], [_t("term")], [_t("your answer")]],
                rows=_term_rows(p, None),
                blanks=True,
            )
        )
    return _render(blocks, format)


def _solution_blocks(p: Problem, i: int) -> list[_Block]:
    net, l, j, k = p.net, p.layer, p.j, p.k
    steps = p.steps()
    g = p.activation
    trace = net.forward(p.x[None, :])
    blocks = [_Block("h2", [_t(f"Problem {i} (seed {p.seed}): "), _m(_dd_tex("C_0", _w_tex(j, k, l)))])]
    blocks += _network_blocks(p)
    blocks.append(_Block("p", _question_pieces(p)))

    # forward pass: every z and a, with the numbers substituted
    blocks.append(_Block("h3", [_t("Forward pass")]))
    items = []
    for q in (1, 2):
        prev = trace.a[q - 1][0]
        for m in range(net.sizes[q]):
            parts = [f"{_par(net.W[q][m, c])} \\cdot {_par(prev[c])}" for c in range(net.sizes[q - 1])]
            if net.b is not None:
                parts.append(_par(net.b[q][m]))
            zq, aq = trace.z[q][0, m], trace.a[q][0, m]
            items.append(
                [
                    _m(
                        rf"{_node_tex('z', m, q)} = {' + '.join(parts)} = {_fmt(zq)}, \quad "
                        rf"{_node_tex('a', m, q)} = {_G_TEX[g]}\left({_fmt(zq)}\right) = {_fmt(aq)}"
                    )
                ]
            )
    out = trace.a[2][0]
    loss_terms = " + ".join(rf"\left({_fmt(out[m])} - {num(p.y[m])}\right)^2" for m in range(net.sizes[2]))
    items.append([_m(rf"C_0 = {loss_terms} = {_fmt(steps['C0'])}")])
    blocks.append(_Block("items", items=items))

    a_j, z_j = _node_tex("a", j, l), _node_tex("z", j, l)
    t1 = _dd_tex("C_0", a_j)
    blocks.append(_Block("h3", [_t("Term 1: "), _m(t1)]))
    if p.kind == "output":
        blocks.append(
            _Block(
                "items",
                items=[
                    [
                        _m(
                            rf"{t1} = 2\left({a_j} - y_{{{j}}}\right) = "
                            rf"2\left({_fmt(steps['a'])} - {num(p.y[j])}\right) = {_fmt(p.term1)}"
                        )
                    ]
                ],
            )
        )
    else:
        up = l + 1
        a_m, z_m = _node_tex("a", "m", up), _node_tex("z", "m", up)
        blocks.append(
            _Block(
                "p",
                [
                    _t("The hidden sum: "),
                    _m(
                        rf"{t1} = \sum_{{m}} {_w_tex('m', j, up)} \cdot {_T.g_prime(up, z_m)} \cdot "
                        rf"{_dd_tex('C_0', a_m)}"
                    ),
                    _t(f", one term for each node m of layer {up}, with "),
                    _m(rf"{_T.g_prime(up, z_m)} = {_g_prime_of_a_tex(g, a_m)}"),
                    _t(" and "),
                    _m(rf"{_dd_tex('C_0', a_m)} = 2\left({a_m} - y_m\right)"),
                    _t(":"),
                ],
            )
        )
        items = []
        for s in steps["hidden_sum"]:
            m = s["m"]
            am = _node_tex("a", m, up)
            items.append(
                [
                    _t(f"m = {m}: "),
                    _m(
                        rf"{_T.g_prime(up, _node_tex('z', m, up))} = "
                        rf"{_g_prime_of_a_tex(g, _fmt(s['a']))} = {_fmt(s['g_prime'])}"
                    ),
                    _t(", "),
                    _m(rf"{_dd_tex('C_0', am)} = 2\left({_fmt(s['a'])} - {num(p.y[m])}\right) = {_fmt(s['dC0_da'])}"),
                    _t(", term "),
                    _m(
                        rf"{_w_tex(m, j, up)} \cdot {_fmt(s['g_prime'])} \cdot {_par(s['dC0_da'])} = "
                        rf"{_par(s['w'])} \cdot {_fmt(s['g_prime'])} \cdot {_par(s['dC0_da'])} = {_fmt(s['value'])}"
                    ),
                ]
            )
        total = " + ".join(_par(s["value"]) for s in steps["hidden_sum"])
        total = "" if len(steps["hidden_sum"]) == 1 else f"{total} = "
        items.append([_t("sum: "), _m(rf"{t1} = {total}{_fmt(p.term1)}")])
        blocks.append(_Block("items", items=items))

    t2 = _dd_tex(a_j, z_j)
    blocks.append(_Block("h3", [_t("Term 2: "), _m(t2)]))
    blocks.append(
        _Block(
            "items",
            items=[
                [
                    _m(
                        rf"{t2} = {_T.g_prime(l, z_j)} = {_g_prime_of_a_tex(g, a_j)} = "
                        rf"{_g_prime_of_a_tex(g, _fmt(steps['a']))} = {_fmt(p.term2)}"
                    )
                ]
            ],
        )
    )

    t3 = _dd_tex(z_j, _w_tex(j, k, l))
    source = _node_tex("a", k, l - 1) + (f" = x_{{{k}}}" if l == 1 else "")
    blocks.append(_Block("h3", [_t("Term 3: "), _m(t3)]))
    blocks.append(_Block("items", items=[[_m(rf"{t3} = {source} = {_fmt(p.term3)}")]]))

    blocks.append(_Block("h3", [_t("The product")]))
    blocks.append(
        _Block(
            "items",
            items=[
                [
                    _m(
                        rf"{_dd_tex('C_0', _w_tex(j, k, l))} = {_par(p.term1)} \cdot {_par(p.term2)} \cdot "
                        rf"{_par(p.term3)} = {_fmt(p.product)}"
                    )
                ],
                [
                    _t(
                        f"Check: backprop gives {_fmt(steps['backprop'], 6)}, a central finite difference of the loss "
                        f"gives {_fmt(steps['finite_difference'], 6)}."
                    )
                ],
            ],
        )
    )
    blocks.append(
        _Block(
            "table",
            header=[[_t("")], [_t("term")], [_t("answer")]],
            rows=_term_rows(p, {n: _fmt(v) for n, v in p.answers().items()}),
        )
    )
    return blocks


def render_solutions(problems: Any, format: str = "markdown", *, title: str | None = None) -> str:
    """Every step of every problem: the forward pass (each ``z`` and ``a``), the loss, the three
    terms with their formulas and numbers (the hidden sum term by term for a hidden weight), the
    product and its checks; Markdown or a standalone LaTeX document.

    >>> text = render_solutions(new_problem(5, layer="hidden"))
    >>> "Forward pass" in text, "hidden sum" in text
    (True, True)
    """
    items = _as_problems(problems)
    blocks = [
        _Block("h1", [_t(_title(title, "Backpropagation practice: solutions"))]),
        _Block(
            "p",
            [
                _m(_CHAIN.replace(r"\frac", r"\tfrac")),
                _t(". Numbers are shown to 4 significant digits; each step is computed from the exact values."),
            ],
        ),
    ]
    for i, p in enumerate(items, 1):
        blocks += _solution_blocks(p, i)
    return _render(blocks, format)
