"""Small HTML pieces for the notebook displays (the ``_repr_html_`` methods): escaped text,
numbers, one table builder and an inline SVG sparkline.

Every string that comes from an object passes through :func:`html.escape`; markup built here is
marked :class:`Html` so it is not escaped twice. The output is self-contained: no scripts, no
stylesheets, fonts or images from elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import numpy as np

#: The CSS class of every display's outer ``<div>``.
CLASS = "chainrule-repr"


class Html(str):
    """Text that is already HTML (built here from escaped pieces): :func:`esc` leaves it as is."""


def number(x: Any, digits: int = 6) -> str:
    """A number with ``digits`` significant digits (no negative zero); integers exactly."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return str(int(x))
    return f"{float(x) + 0.0:.{digits}g}"


def esc(value: Any) -> Html:
    """``value`` as HTML: :class:`Html` unchanged, None as an empty string, numbers by :func:`number`,
    anything else as its escaped ``str``."""
    if isinstance(value, Html):
        return value
    if value is None:
        return Html("")
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return Html(escape(number(value)))
    return Html(escape(str(value)))


def cat(*parts: Any) -> Html:
    """``parts`` one after the other, each through :func:`esc`."""
    return Html("".join(esc(p) for p in parts))


def tag(name: str, *content: Any, **attrs: Any) -> Html:
    """``<name attrs>content</name>``; attribute values are escaped, ``class_`` stands for ``class``."""
    attr = "".join(f' {k.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return Html(f"<{name}{attr}>{cat(*content)}</{name}>")


def sym(base: str, sub: Any = None, layer: Any = None) -> Html:
    """One of the article's symbols: ``base`` with subscript ``sub`` and superscript ``(layer)``."""
    return cat(base, None if sub is None else tag("sub", sub), None if layer is None else tag("sup", f"({layer})"))


def pair(j: Any, k: Any) -> str:
    """The subscript of ``w_jk``: ``jk``, or ``j,k`` when an index has more than one character."""
    return f"{j}{k}" if len(str(j)) == len(str(k)) == 1 else f"{j},{k}"


def d(num: Any, den: Any) -> Html:
    """The partial derivative ``∂num/∂den`` (``num`` and ``den`` escaped unless already :class:`Html`)."""
    return cat("∂", num, "/∂", den)


def table(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    caption: Any = None,
    max_rows: int | None = None,
) -> Html:
    """A ``<table>``: one header row, then ``rows`` (cells through :func:`esc`).

    With ``max_rows``, a longer table shows its first ``max_rows - max_rows // 2`` and last
    ``max_rows // 2`` rows around one row that says how many were left out.
    """
    rows = list(rows)
    head, gap = len(rows), ""
    if max_rows is not None and len(rows) > max_rows:
        head, tail = max_rows - max_rows // 2, max_rows // 2
        gap = tag("tr", tag("td", f"… {len(rows) - head - tail} more rows", colspan=len(header)))
        rows = rows[:head] + rows[len(rows) - tail :]
    trs = [tag("tr", *(tag("td", c) for c in row)) for row in rows]
    trs.insert(head, gap)
    lines = [tag("caption", caption)] if caption is not None else []
    lines.append(tag("thead", tag("tr", *(tag("th", h) for h in header))))
    lines.append(tag("tbody", Html("".join(trs))))
    return tag("table", Html("".join(lines)))


def block(*parts: Any) -> Html:
    """The outer ``<div>`` of a display, holding ``parts`` (escaped unless :class:`Html`)."""
    return tag("div", *parts, class_=CLASS)


def sparkline(series: dict[str, Sequence[float]], width: int = 240, height: int = 48) -> Html:
    """An inline SVG of one or more curves over their index (the first solid, the others dashed),
    on one shared scale; non-finite values are left out. Empty when there are no finite values."""
    finite = {name: [(i, float(v)) for i, v in enumerate(vs) if math.isfinite(float(v))] for name, vs in series.items()}
    points = [p for ps in finite.values() for p in ps]
    if not points:
        return Html("")
    n = max(len(vs) for vs in series.values())
    low, high = min(v for _, v in points), max(v for _, v in points)
    pad = 2.0

    def xy(i: int, v: float) -> str:
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = pad + (height - 2 * pad) * ((high - v) / (high - low) if high > low else 0.5)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for k, (name, ps) in enumerate(finite.items()):
        if not ps:
            continue
        dash = {} if k == 0 else {"stroke_dasharray": "4 3"}
        title = tag("title", f"{name}: {number(ps[0][1], 4)} → {number(ps[-1][1], 4)}")
        coords = " ".join(xy(i, v) for i, v in ps)
        lines.append(tag("polyline", title, points=coords, fill="none", stroke="currentColor", **dash))
    label = ", ".join(finite)
    return tag(
        "svg",
        Html("".join(lines)),
        width=width,
        height=height,
        viewBox=f"0 0 {width} {height}",
        role="img",
        aria_label=f"{label} per epoch, from {number(high, 4)} (top) to {number(low, 4)} (bottom)",
    )
