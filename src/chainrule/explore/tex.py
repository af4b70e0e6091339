r"""The explore page's derivation as LaTeX lines (typeset in the page by KaTeX).

Subscripts are unambiguous: ``w_{6,12}^{(2)}`` is the weight from node 12 of layer 1 to node 6
of layer 2. Each line is one step of the article's chain rule: the three terms as symbols, as
formulas, with the sample's numbers, and their product; then the mean over the samples and the
two independent values it must equal (backprop's entry and the central finite difference).
"""

from __future__ import annotations

import math
from typing import Any

from ..explain import Explanation
from ..render import TexNotation, _g_prime_template

__all__ = ["derivation", "moved", "number", "rest", "summand"]


def number(x: Any) -> str:
    """``x`` in LaTeX with 6 significant digits: ``-0.0123457``, ``1.5 \\times 10^{-7}``."""
    x = float(x)
    if not math.isfinite(x):
        return r"\text{" + str(x) + "}"
    text = f"{x:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def _p(x: Any) -> str:
    """A number in parentheses when negative, for products."""
    s = number(x)
    return rf"\left({s}\right)" if float(x) < 0 else s


_TEX = TexNotation()  # the symbols of chainrule's LaTeX explanations (render.py), shared
_d = _TEX.d


def _w(l: int, j: int, k: int | None) -> str:
    return _TEX.node("b", str(j), l) if k is None else _TEX.weight(j, k, l)


def moved(l: int, j: int, k: int | None, before: float, lr: float, gradient: float, after: float) -> str:
    """The step of one parameter: ``w <- w - lr dC/dw`` with its numbers."""
    w = _w(l, j, k)
    return (
        rf"{w} \leftarrow {w} - \eta\,{_d('C', w)} = {number(before)} - {number(lr)} \cdot {_p(gradient)}"
        rf" = {number(after)}"
    )


def rest(l: int, j: int, count: int, total: float) -> str:
    """The row that stands for the smaller terms of a wide hidden sum."""
    terms = rf"w_{{m,{j}}}^{{({l + 1})}}\,\delta_m^{{({l + 1})}}"
    return rf"\text{{the other {count} terms }} {terms} \text{{ add up to }} {number(total)}"


def summand(l: int, j: int, m: int, w: float, delta: float, value: float) -> str:
    """One row of the hidden sum: ``w_{m,j}^{(l+1)} \\delta_m^{(l+1)} = ...``."""
    return rf"w_{{{m},{j}}}^{{({l + 1})}}\,\delta_{{{m}}}^{{({l + 1})}} = {_p(w)} \cdot {_p(delta)} = {number(value)}"


def derivation(e: Explanation, every: Explanation) -> dict[str, Any]:
    """The lines of the derivation for one sample (``e``) and the mean over all (``every``)."""
    l, j, k, L = e.layer, e.j, e.k, e.L
    a, z = rf"a_{{{j}}}^{{({l})}}", rf"z_{{{j}}}^{{({l})}}"
    w = _w(l, j, k)
    third = "1" if k is None else rf"a_{{{k}}}^{{({l - 1})}}"
    lines: dict[str, Any] = {"symbol": w}
    if e.term2 is not None:
        lines["chain"] = rf"{_d('C_0', w)} = {_d('C_0', a)}\,{_d(a, z)}\,{_d(z, w)}"
        # the formulas each activation and loss carries for explaining (render.py shows the same)
        loss_tex = e.loss.dC0_da_tex.format(a=a, y=_TEX.y(j), n=e.sizes[-1]) if e.loss.dC0_da_tex else _d("C_0", a)
        first = loss_tex if l == L else rf"\sum_m w_{{m,{j}}}^{{({l + 1})}}\,\delta_m^{{({l + 1})}}"
        template = _g_prime_template(e, _TEX)
        g_prime = _TEX.g_prime(l, z) if template is None else template.format(a=a, z=z, **e.activation_params)
        lines["formulas"] = rf"= {first} \cdot {g_prime} \cdot {third}"
        lines["numbers"] = rf"= {_p(e.term1[0])} \cdot {_p(e.term2[0])} \cdot {_p(e.term3[0])}"
    else:  # softmax: a_j depends on every z_m, the first two terms come as delta = sum_m dC0/da_m da_m/dz_j
        lines["chain"] = (
            rf"{_d('C_0', w)} = \delta_{{{j}}}^{{({l})}}\,{_d(z, w)}, \quad "
            rf"\delta_{{{j}}}^{{({l})}} = \sum_m {_d('C_0', f'a_m^{{({l})}}')}\,{_d(f'a_m^{{({l})}}', z)}"
        )
        shortcut = (
            rf"\quad (= {a} - {_TEX.y(j)}\ \text{{for softmax with cross-entropy}})"
            if e.loss.name == "cross_entropy"
            else ""
        )
        lines["formulas"] = rf"= \delta_{{{j}}}^{{({l})}} \cdot {third}{shortcut}"
        lines["numbers"] = rf"= {_p(e.delta[0])} \cdot {_p(e.term3[0])}"
    lines["product"] = rf"= {number(e.products[0])}"
    if e.hidden_sum:
        top = e.sizes[l + 1] - 1
        summands = rf"w_{{m,{j}}}^{{({l + 1})}}\,\delta_m^{{({l + 1})}}"
        lines["hidden"] = rf"{_d('C_0', a)} = \sum_{{m=0}}^{{{top}}} {summands} = {number(e.term1[0])}"
    n = every.n
    lines["mean"] = (
        rf"{_d('C', w)} = \frac{{1}}{{{n}}}\sum_{{i=0}}^{{{n - 1}}} {_d('C_{0,i}', w)} = {number(every.mean)}"
    )
    whole, entry = (f"b^{{({l})}}", f"{j}") if k is None else (f"W^{{({l})}}", f"{j},{k}")
    lines["backprop"] = rf"\text{{backprop: }} \left({_d('C', whole)}\right)_{{{entry}}} = {number(every.backprop)}"
    lines["finite_difference"] = rf"\frac{{C({w} + h) - C({w} - h)}}{{2h}} = {number(every.finite_difference)}"
    return lines
