"""What the explore page shows, computed in Python: the network, any weight's gradient as the
article's three terms, and gradient-descent steps.

The page only draws and typesets; every number it shows comes from here, from chainrule's own
:func:`~chainrule.explain` and :func:`~chainrule.gradients`. Results are plain JSON-ready dicts.
One :class:`Session` holds one network and its data for one local user; a lock keeps the
server's threads from stepping the network while another request reads it.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from .._validation import as_float, as_int
from ..backprop import _prepare, gradients
from ..errors import ChainruleError
from ..explain import Explanation, explain
from ..network import Network
from . import tex

__all__ = ["HIDDEN_ROWS", "Session"]

#: a hidden sum over more nodes than this shows its largest terms and the others' total
HIDDEN_ROWS = 12


def _num(x: Any) -> float | None:
    """A float for JSON (NaN and inf, which JSON lacks, as None)."""
    x = float(x)
    return x if math.isfinite(x) else None


class Session:
    """One network, its data and loss, the initial weights (for reset) and the steps taken.

    Parameters
    ----------
    net : Network
        Explored and trained in place.
    X, Y : arrays
        The samples (rows) and their targets, as for :func:`~chainrule.gradients`.
    loss : str
        The loss name.
    title : str
        What the page calls this network (e.g. "the article's example").
    images : bool
        Whether the inputs are square images (digits: 8x8), drawn as such.
    pictures : array, optional
        The rows to draw as those images when ``X`` is scaled (the data as it was before the
        model's input scaling); default ``X``.
    """

    def __init__(
        self,
        net: Network,
        X: Any,
        Y: Any,
        loss: str,
        *,
        title: str = "",
        images: bool = False,
        lr: float = 0.5,
        pictures: Any = None,
    ) -> None:
        X, Y, loss_, _ = _prepare(net, X, Y, loss)
        self.net, self.X, self.Y, self.loss = net, X, Y, loss_
        self.pictures = X if pictures is None else np.asarray(pictures, dtype=np.float64).reshape(X.shape)
        self.title, self.images, self.lr = title, images, lr
        self.initial = net._flat.copy()
        self.steps = 0
        self.losses: list[float] = [self._cost()]
        self.lock = threading.Lock()

    def _cost(self) -> float:
        return float(gradients(self.net, self.X, self.Y, self.loss).C)

    # ---------------------------------------------------------------- what the page draws
    def network(self) -> dict[str, Any]:
        """Layer sizes, activations, every weight and bias, and the gradient of the cost over all
        samples (the article's mean), for drawing edges coloured by weight or by gradient."""
        with self.lock:
            net = self.net
            g = gradients(net, self.X, self.Y, self.loss)
            side = int(round(math.sqrt(net.sizes[0])))
            return {
                "title": self.title,
                "sizes": list(net.sizes),
                "activations": [g_.name for g_ in net.g],
                "loss": self.loss.name,
                "bias": net.bias,
                "n_samples": int(self.X.shape[0]),
                "image_side": side if self.images and side * side == net.sizes[0] else None,
                "W": [np.round(W, 8).tolist() for W in net.W],
                "b": None if net.b is None else [np.round(b, 8).tolist() for b in net.b],
                "dW": [np.round(d, 10).tolist() for d in g.dW],
                "db": None if g.db is None else [np.round(d, 10).tolist() for d in g.db],
                "cost": _num(g.C),
                "steps": self.steps,
                "losses": [_num(c) for c in self.losses],
                "lr": self.lr,
            }

    def sample(self, i: Any) -> dict[str, Any]:
        """One sample's inputs and targets (for the sample picker and the digit image)."""
        i = as_int("sample", i, low=0, high=self.X.shape[0] - 1)
        return {"sample": i, "x": self.X[i].tolist(), "y": self.Y[i].tolist(), "picture": self.pictures[i].tolist()}

    def _check_parameter(self, layer: Any, j: Any, k: Any) -> tuple[int, int, int | None]:
        net = self.net
        layer = as_int("layer", layer, low=1, high=net.L)
        j = as_int("j", j, low=0, high=net.sizes[layer] - 1)
        if k is None:
            if net.b is None:
                raise ChainruleError("this network has no biases: give k, the node of the layer before")
            return layer, j, None
        return layer, j, as_int("k", k, low=0, high=net.sizes[layer - 1] - 1)

    def explain(self, layer: Any, j: Any, k: Any = None, sample: Any = 0) -> dict[str, Any]:
        """``dC0/dw_jk^(layer)`` for one sample as the article's three terms, the mean over all
        samples, backprop's entry and the central finite difference; ``k=None`` for the bias."""
        with self.lock:
            layer, j, k = self._check_parameter(layer, j, k)
            i = as_int("sample", sample, low=0, high=self.X.shape[0] - 1)
            one = explain(self.net, self.X, self.Y, layer, j, k, loss=self.loss, bias=k is None, sample=i)
            every = explain(self.net, self.X, self.Y, layer, j, k, loss=self.loss, bias=k is None)
            return _explanation_json(one, every, i)

    # ---------------------------------------------------------------- training in the page
    def step(
        self, lr: Any = None, count: Any = 1, sample: Any = None, watch: tuple[Any, Any, Any] | None = None
    ) -> dict[str, Any]:
        """``count`` gradient-descent steps: every parameter moves by ``-lr dC/dw``, with ``C`` the
        mean over all samples (the article's), or the loss of sample ``sample`` alone. ``watch``,
        a weight ``(layer, j, k)`` (``k=None``: a bias), is reported as it moves: its value before
        the last step, its gradient there, and its value after."""
        lr = self.lr if lr is None else as_float("lr", lr, low=0, low_open=True, high=1e6)
        count = as_int("count", count, low=1, high=1000)
        rows = (
            slice(None)
            if sample is None
            else slice(i := as_int("sample", sample, low=0, high=self.X.shape[0] - 1), i + 1)
        )
        with self.lock:
            where = None if watch is None else self._check_parameter(*watch)
            self.lr = lr
            moved = None
            for _ in range(count):
                g = gradients(self.net, self.X[rows], self.Y[rows], self.loss)
                before = self.net._flat.copy()
                if where is not None:
                    l, j, k = where
                    value, grad = (self.net.b[l][j], g.db[l][j]) if k is None else (self.net.W[l][j, k], g.dW[l][j, k])
                    moved = {"before": float(value), "gradient": float(grad)}
                self.net._flat -= lr * g.flat()
                if not np.isfinite(self.net._flat).all():
                    self.net._flat[:] = before
                    raise ChainruleError(
                        f"the step with lr={lr} made a weight NaN or inf; the weights are as before (try a smaller lr)"
                    )
                self.steps += 1
                self.losses.append(self._cost())
            if moved is not None:
                l, j, k = where  # type: ignore[misc]
                after = self.net.b[l][j] if k is None else self.net.W[l][j, k]
                moved.update(
                    after=float(after), lr=lr, tex=tex.moved(l, j, k, moved["before"], lr, moved["gradient"], after)
                )
            return {
                "steps": self.steps,
                "cost": _num(self.losses[-1]),
                "losses": [_num(c) for c in self.losses],
                "on": "all samples" if sample is None else f"sample {rows.start}",
                "moved": moved,
            }

    # ---------------------------------------------------------------- practice
    @staticmethod
    def practice(seed: Any) -> dict[str, Any]:
        """A practice problem (a fresh small network, a sample and one weight; seeded), with its
        numbers and without its answers: :func:`chainrule.practice.new_problem`."""
        from ..practice import new_problem

        return new_problem(as_int("seed", seed, low=0, high=2**53 - 1)).to_dict()

    @staticmethod
    def check(seed: Any, answers: dict[str, Any], reveal: bool = False) -> dict[str, Any]:
        """The learner's terms for problem ``seed`` checked to a tolerance, with feedback naming the
        wrong ones (the right values only with ``reveal``): :func:`chainrule.practice.check`."""
        from ..practice import check, new_problem

        problem = new_problem(as_int("seed", seed, low=0, high=2**53 - 1))
        return check(problem, **answers, reveal=reveal).to_dict()

    @staticmethod
    def worksheet(problems: Any, seed: Any, format: Any = "markdown", solutions: bool = False) -> dict[str, Any]:
        """A teacher's worksheet of ``problems`` problems (or its separate solutions sheet), as
        Markdown or LaTeX text with a file name: :func:`chainrule.practice.render_worksheet`."""
        from ..practice import render_solutions, render_worksheet, worksheet

        if format not in ("markdown", "latex"):
            raise ChainruleError(f"format must be markdown or latex; got {str(format)[:40]!r}")
        chosen = worksheet(as_int("problems", problems, low=1, high=100), as_int("seed", seed, low=0, high=2**53 - 1))
        text = (render_solutions if solutions else render_worksheet)(chosen, format)
        name = ("solutions" if solutions else "worksheet") + (".tex" if format == "latex" else ".md")
        return {"name": name, "text": text}

    def reset(self) -> dict[str, Any]:
        """Back to the initial weights."""
        with self.lock:
            self.net._flat[:] = self.initial
            self.steps = 0
            self.losses = [self._cost()]
            return {"steps": 0, "cost": _num(self.losses[0]), "losses": [_num(self.losses[0])]}


def _explanation_json(e: Explanation, every: Explanation, sample: int) -> dict[str, Any]:
    """The numbers of one sample's explanation, its LaTeX lines, and the mean over all samples."""
    l, j, k = e.layer, e.j, e.k
    hidden = [
        {
            "m": s.m,
            "w": _num(s.w),
            "delta": _num(s.delta[0]),
            "value": _num(s.value[0]),
            "g_prime": None if s.g_prime is None else _num(s.g_prime[0]),
            "dC0_da": _num(s.dC0_da[0]),
            "next": {"layer": l + 1, "j": s.m, "k": j},  # w_mj^(l+1): one layer closer to the loss
            "tex": tex.summand(l, j, s.m, s.w, s.delta[0], s.value[0]),
        }
        for s in e.hidden_sum
    ]
    # a wide next layer: its largest summands one by one, the others as one total (never 100 rows)
    shown = list(range(len(hidden)))
    rest = None
    if len(hidden) > HIDDEN_ROWS:
        shown = sorted(sorted(range(len(hidden)), key=lambda m: -abs(e.hidden_sum[m].value[0]))[: HIDDEN_ROWS - 2])
        others = [m for m in range(len(hidden)) if m not in set(shown)]
        total = float(sum(e.hidden_sum[m].value[0] for m in others))
        rest = {"count": len(others), "value": _num(total), "tex": tex.rest(l, j, len(others), total)}
    return {
        "layer": l,
        "j": j,
        "k": k,
        "bias": e.bias,
        "sample": sample,
        "n_samples": every.n,
        "describe": e.describe(),
        "weight": _num(e.weight),
        "activation": e.activation,
        "loss": e.loss.name,
        "term1": _num(e.term1[0]),
        "term2": None if e.term2 is None else _num(e.term2[0]),
        "term3": _num(e.term3[0]),
        "delta": _num(e.delta[0]),
        "product": _num(e.products[0]),
        "mean": _num(every.mean),
        "backprop": _num(every.backprop),
        "finite_difference": _num(every.finite_difference),
        "rel_error": _num(every.rel_error),
        "hidden_sum": hidden,
        "hidden_shown": shown,
        "hidden_rest": rest,
        "tex": tex.derivation(e, every),
    }
