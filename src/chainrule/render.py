"""Renderings of an :class:`~chainrule.explain.Explanation`: plain text, Markdown and LaTeX.

All three are built from one list of rows ``(symbol, formula, numbers substituted, value)``, so
they always say the same thing. Numbers carry 10 significant digits, enough to recompute every
product by hand to the digits shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_bool, as_int
from .errors import ChainruleError
from .explain import RENDERINGS, Explanation

__all__ = ["render_latex", "render_markdown", "render_text"]


def num(x: float) -> str:
    """A number with 10 significant digits (no negative zero)."""
    return f"{float(x) + 0.0:.10g}"


def par(x: float) -> str:
    """A number for substitution into a formula: negative numbers in parentheses."""
    s = num(x)
    return f"({s})" if s.startswith("-") else s


class Notation:
    """The article's symbols as plain text (the LaTeX subclass overrides each)."""

    times = " * "

    def sup(self, base: str, l: int) -> str:
        return f"{base}^({l})"

    def node(self, base: str, idx: str, l: int) -> str:
        return self.sup(f"{base}_{idx}", l)

    def weight(self, j: Any, k: Any, l: int) -> str:
        """``w_{j,k}^(l)``: braces and a comma, so ``w_{6,12}`` never reads as ``w_{61,2}``."""
        return self.sup(f"w_{{{j},{k}}}", l)

    def d(self, num_: str, den: str) -> str:
        return f"d{num_}/d{den}"

    def C0(self) -> str:
        return "C0"

    def C(self) -> str:
        return "C"

    def g_prime(self, l: int, arg: str) -> str:
        return f"g'^({l})({arg})"

    def y(self, j: int) -> str:
        return f"y_{j}"

    def sum_m(self) -> str:
        return "sum_m "

    def mean(self, n: int) -> str:
        return f"(1/{n}) sum_i "

    def text(self, s: str) -> str:
        return s


class TexNotation(Notation):
    """The same symbols in LaTeX."""

    times = r" \cdot "

    def sup(self, base: str, l: int) -> str:
        return f"{base}^{{({l})}}"

    def node(self, base: str, idx: str, l: int) -> str:
        return f"{base}_{{{idx}}}^{{({l})}}"

    def weight(self, j: Any, k: Any, l: int) -> str:
        return f"w_{{{j},{k}}}^{{({l})}}"

    def d(self, num_: str, den: str) -> str:
        return rf"\frac{{\partial {num_}}}{{\partial {den}}}"

    def C0(self) -> str:
        return "C_0"

    def g_prime(self, l: int, arg: str) -> str:
        return rf"g^{{\prime({l})}}\left({arg}\right)"

    def y(self, j: int) -> str:
        return f"y_{{{j}}}"

    def sum_m(self) -> str:
        return r"\sum_{m} "

    def mean(self, n: int) -> str:
        return rf"\frac{{1}}{{{n}}}\sum_{{i}} "

    def text(self, s: str) -> str:
        return rf"\text{{{s}}}"


@dataclass(frozen=True)
class Row:
    """``symbol = formula = substituted = value``; empty parts are left out. ``summand`` rows are
    the terms ``m`` of a sum, shown indented under it."""

    symbol: str
    formula: str
    substituted: str
    value: str
    summand: bool = False


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


def _param(e: Explanation, t: Notation) -> str:
    return t.node("b", str(e.j), e.layer) if e.bias else t.weight(e.j, e.k, e.layer)


def require_explanation(e: Any) -> None:
    """The check at the edge of every rendering and picture: ``e`` is an :class:`Explanation`."""
    if not isinstance(e, Explanation):
        raise ChainruleError(f"e must be an Explanation (from chainrule.explain); got {type(e).__name__}")


def _check(e: Any, max_samples: Any) -> int:
    """The checks at the edge of every rendering: an Explanation, and ``max_samples >= 1``."""
    require_explanation(e)
    return as_int("max_samples", max_samples, low=1)


def _sections(e: Explanation, t: Notation, max_samples: int) -> list[Section]:
    """The heading and the rows of every section, in notation ``t``."""
    max_samples = _check(e, max_samples)
    l, j, k, L = e.layer, e.j, e.k, e.L
    a_j, z_j, w = t.node("a", str(j), l), t.node("z", str(j), l), _param(e, t)
    term_syms = [t.d(t.C0(), a_j), t.d(a_j, z_j), t.d(z_j, w)]
    a_k = "1" if e.bias else t.node("a", str(k), l - 1)
    params = dict(e.activation_params)
    gp_template = _g_prime_template(e, t)
    if l == L:
        loss_template = e.loss.dC0_da_tex if isinstance(t, TexNotation) else e.loss.dC0_da_text
        first = loss_template.format(a=a_j, y=t.y(j), n=e.sizes[-1])
    elif e.next_activation == "softmax":  # layer l+1's a_m depends on every z: its g' x dC0/da is delta_m
        first = "(" + t.sum_m() + t.weight("m", j, l + 1) + t.times + t.d(t.C0(), t.node("z", "m", l + 1)) + ")"
    else:
        first = (
            "("
            + t.sum_m()
            + t.weight("m", j, l + 1)
            + t.times
            + t.g_prime(l + 1, t.node("z", "m", l + 1))
            + t.times
            + t.d(t.C0(), t.node("a", "m", l + 1))
            + ")"
        )
    second = t.g_prime(l, z_j) if gp_template is None else gp_template.format(a=a_j, z=z_j, **params)
    first_factor = f"({first})" if l == L and (" / " in first or "frac" in first or first.startswith("-")) else first
    if e.term2 is not None:
        expanded = t.times.join([first_factor, t.g_prime(l, z_j), a_k])
    else:  # softmax: a_j depends on every z_m, so terms 1 x 2 are a sum over the layer's nodes
        softmax_sum = t.sum_m() + t.d(t.C0(), t.node("a", "m", l)) + t.times + t.d(t.node("a", "m", l), z_j)
        expanded = t.times.join([f"({softmax_sum})", a_k])
    symbolic = [Row(t.d(t.C0(), w), t.times.join(term_syms), "", ""), Row("", expanded, "", "")]
    sections = [Section("The chain rule", tuple(symbolic))]
    shown = min(e.n, max_samples)
    for i in range(shown):
        rows = []
        if e.y is not None:
            given = f"{z_j} = {num(e.z[i])}, {a_j} = {num(e.a[i])}, {t.y(j)} = {num(e.y[i])}"
        else:
            given = f"{z_j} = {num(e.z[i])}, {a_j} = {num(e.a[i])}"
        rows.append(Row(t.text("given"), given, "", ""))
        if l == L:
            loss_template = e.loss.dC0_da_tex if isinstance(t, TexNotation) else e.loss.dC0_da_text
            sub = loss_template.format(a=par(e.a[i]), y=par(e.y[i]), n=e.sizes[-1])  # type: ignore[index]
            rows.append(Row(term_syms[0], first, sub, num(e.term1[i])))
        else:
            rows.append(Row(term_syms[0], first, "", ""))
            for s in e.hidden_sum:
                a_m = t.node("a", str(s.m), l + 1)
                if s.g_prime is not None:
                    factors = [par(s.w), par(s.g_prime[i]), par(s.dC0_da[i])]
                    lhs = t.times.join(
                        [
                            t.weight(s.m, j, l + 1),
                            t.g_prime(l + 1, t.node("z", str(s.m), l + 1)),
                            t.d(t.C0(), a_m),
                        ]
                    )
                else:  # softmax in layer l+1: g' x dC0/da is its delta
                    factors = [par(s.w), par(s.delta[i])]
                    lhs = t.times.join([t.weight(s.m, j, l + 1), t.d(t.C0(), t.node("z", str(s.m), l + 1))])
                rows.append(Row(f"m = {s.m}", lhs, t.times.join(factors), num(s.value[i]), summand=True))
            rows.append(Row(term_syms[0], t.text("sum over m"), "", num(e.term1[i])))
        if e.term2 is not None:
            sub = "" if gp_template is None else gp_template.format(a=par(e.a[i]), z=par(e.z[i]), **params)
            rows.append(Row(term_syms[1], second, sub, num(e.term2[i])))
        else:  # softmax: a_j depends on every z_m of the layer
            delta_sym = t.d(t.C0(), z_j)
            rows.append(
                Row(
                    delta_sym,
                    t.sum_m() + t.d(t.C0(), t.node("a", "m", l)) + t.times + t.d(t.node("a", "m", l), z_j),
                    "",
                    "",
                )
            )
            for m in range(e.sizes[l]):
                rows.append(
                    Row(
                        f"m = {m}",
                        t.d(t.C0(), t.node("a", str(m), l)) + t.times + t.d(t.node("a", str(m), l), z_j),
                        par(e.layer_dC0_da[i, m]) + t.times + par(e.softmax_terms[i, m]),  # type: ignore[index]
                        num(e.layer_dC0_da[i, m] * e.softmax_terms[i, m]),  # type: ignore[index]
                        summand=True,
                    )
                )
            rows.append(Row(delta_sym, t.text("sum over m"), "", num(e.delta[i])))
        rows.append(Row(term_syms[2], a_k, "", num(e.term3[i])))
        factors = [par(e.term1[i]), par(e.term2[i])] if e.term2 is not None else [par(e.delta[i])]
        rows.append(
            Row(t.d(t.C0(), w), t.text("product"), t.times.join([*factors, par(e.term3[i])]), num(e.products[i]))
        )
        sections.append(Section(f"Sample {e.samples[i]}", tuple(rows)))
    if e.n > shown:
        sections.append(Section(f"... and {e.n - shown} more samples", ()))
    mean_rows = []
    if e.n > 1:
        terms = " + ".join(par(p) for p in e.products[:shown]) + (" + ..." if e.n > shown else "")
        mean_rows.append(Row(t.d(t.C(), w), t.mean(e.n) + t.d("C_i", w), f"(1/{e.n}) ({terms})", num(e.mean)))
    else:
        mean_rows.append(Row(t.d(t.C(), w), t.d(t.C0(), w), "", num(e.mean)))
    mean_rows.append(Row(t.text("backprop"), t.d(t.C(), w), "", num(e.backprop)))
    mean_rows.append(
        Row(
            t.text("finite difference"),
            t.text("(C(w + h) - C(w - h)) / 2h"),
            "",
            f"{num(e.finite_difference)}",
        )
    )
    sections.append(Section(f"Over the {e.n} sample{'s' if e.n > 1 else ''}", tuple(mean_rows)))
    return sections


def _g_prime_template(e: Explanation, t: Notation) -> str | None:
    from .activations import ACTIVATIONS

    cls = ACTIVATIONS.get(e.activation)  # a custom activation (not in the registry) has no formula to show
    if cls is None:
        return None
    template = cls.g_prime_tex if isinstance(t, TexNotation) else cls.g_prime_text
    return template or None


def _heading(e: Explanation, t: Notation) -> list[str]:
    what = "bias" if e.bias else "weight"
    net = "-".join(str(s) for s in e.sizes)
    if isinstance(t, TexNotation):
        loss = _tex_escape(e.loss.name)
        return [
            f"The {what} ${_param(e, t)} = {num(e.weight)}$: {e.describe()}.",
            f"Network {net}, ${t.sup('g', e.layer)}$ = {_tex_escape(e.activation)}, loss {loss}.",
        ]
    return [
        f"The {what} {e.symbol} = {num(e.weight)}: {e.describe()}.",
        f"Network {net}, g^({e.layer}) = {e.activation}, loss {e.loss.name}: C0 = {e.loss.C0_text}.",
    ]


def _verdict(e: Explanation) -> str:
    agree = "equals" if np.isclose(e.mean, e.backprop, rtol=1e-9, atol=1e-15) else "DIFFERS FROM"
    what = "mean of the products" if e.n > 1 else "product"
    return f"The {what} {agree} backprop's entry; the finite difference agrees to a relative {e.rel_error:.1e}."


def render_text(e: Explanation, max_samples: int = 5) -> str:
    """Plain text, aligned in columns."""
    sections = _sections(e, Notation(), max_samples)
    out = _heading(e, Notation())
    for sec in sections:
        out += ["", sec.title + ":"]
        labels = [("  " if r.summand else "") + r.symbol for r in sec.rows]
        width = max(map(len, labels), default=0)
        for r, label in zip(sec.rows, labels):
            parts = [p for p in (r.formula, r.substituted, r.value) if p]
            out.append(f"  {label:<{width}}" + ("" if not parts else (" = " if label else "   ") + " = ".join(parts)))
    out += ["", _verdict(e)]
    return "\n".join(out)


def render_markdown(e: Explanation, max_samples: int = 5) -> str:
    """Markdown: a heading, then one table per section."""
    sections = _sections(e, Notation(), max_samples)
    head = _heading(e, Notation())
    out = [f"### dC/d{e.symbol}", "", head[0], "", head[1]]
    for sec in sections:
        out += ["", f"**{sec.title}**"]
        if not sec.rows:
            continue
        out += ["", "| term | formula | numbers | value |", "| --- | --- | --- | --- |"]
        for r in sec.rows:
            cells = [f"`{c}`" if c else "" for c in (r.symbol, r.formula, r.substituted, r.value)]
            out.append("| " + " | ".join(cells) + " |")
    out += ["", _verdict(e), ""]
    return "\n".join(out)


def render_latex(e: Explanation, max_samples: int = 5, standalone: bool = True) -> str:
    """LaTeX with amsmath: an ``align*`` block per section; a full document when ``standalone``."""
    standalone = as_bool("standalone", standalone)
    sections = _sections(e, TexNotation(), max_samples)
    body = [*_heading(e, TexNotation())]
    body.insert(1, "")
    for sec in sections:
        body += ["", rf"\paragraph{{{_tex_escape(sec.title)}}}"]
        if not sec.rows:
            continue
        lines = []
        for r in sec.rows:
            lhs = rf"\quad \text{{{r.symbol}}}" if r.summand else (r.symbol or r"\quad")
            rhs = " = ".join(p for p in (r.formula, r.substituted, r.value) if p)
            lines.append(f"{lhs} &= {rhs}" if rhs else lhs)
        body += [r"\begin{align*}", " \\\\\n".join(lines), r"\end{align*}"]
    body += ["", _tex_escape(_verdict(e))]
    text = "\n".join(body)
    if not standalone:
        return text
    return "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage{amsmath}",
            r"\usepackage[margin=1in]{geometry}",
            r"\begin{document}",
            text,
            r"\end{document}",
            "",
        ]
    )


def _tex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("^", r"\^{}"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        s = s.replace(a, b)
    return s


RENDERINGS.update(text=render_text, markdown=render_markdown, latex=render_latex)
