"""Pictures (matplotlib, extra ``plot``): the network with one weight's gradient explained on it.

Layers are columns from the input layer 0 on the left to the output layer L on the right, nodes
numbered from 0 at the top; every weight ``w_{j,k}^(l)`` is a line from node ``k`` of layer
``l-1`` to node ``j`` of layer ``l``. A wide layer (64 or 784 nodes) is drawn as a neighbourhood
of the explained weight's nodes, with "... N more" for the rest, and an input of 64 or 784 values
can be drawn as its 8x8 or 28x28 image. The explained weight is drawn thick, and the values that
enter its three chain-rule terms are written beside the nodes they belong to, placed where they
cover no node and no other label; the title gives the chain rule with the three numbers and their
product. With ``color_by_gradient`` every line is coloured by its gradient ``dC/dw_{j,k}^(l)``
(red positive, blue negative) and a colour bar gives the scale.

The loss curve (:func:`plot_history`) shows the training, validation and test losses per epoch,
and marks the best epoch only where early stopping or ``restore_best`` selected one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import as_path, atomic_write
from ._validation import as_bool, as_int
from .errors import ChainruleError, shown
from .render import require_explanation

if TYPE_CHECKING:
    from .explain import Explanation

__all__ = ["FORMATS", "picture_path", "plot_explanation", "plot_history"]


def _matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ChainruleError("plots need matplotlib: pip install 'chainrule[plot]'") from None
    return Figure


#: the picture formats a plot is saved in, by the path's suffix
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def picture_path(path: Any) -> tuple[Path, str] | None:
    """``(path, format)`` for a path to save a picture to, checked before anything is drawn (and
    before anything is computed, when a caller such as the CLI checks it first); None for None.

    >>> picture_path("net.SVG")[1]
    'svg'
    """
    if path is None:
        return None
    path = as_path("path", path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ChainruleError(
            f"path {shown(str(path))} has the suffix {shown(path.suffix or '(none)')}; a picture is saved as "
            f"{', '.join(FORMATS)} (the suffix chooses the format)"
        )
    return path, fmt


def _save(fig: Any, target: tuple[Path, str] | None, dpi: int) -> None:
    """Write ``fig`` atomically (a temporary file beside the target, then a rename)."""
    if target is not None:
        path, fmt = target
        try:
            atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi))
        except (OverflowError, ValueError, RuntimeError) as exc:  # matplotlib failing on extreme values
            if isinstance(exc, ChainruleError):
                raise
            raise ChainruleError(f"matplotlib could not draw {path}: {type(exc).__name__}: {shown(str(exc))}") from None


_WHOLE = 12  # a layer with at most this many nodes is drawn whole (the default of max_nodes)
_NEIGHBOURHOOD = 9  # the most rows (nodes and "... more" marks) of a layer drawn as a neighbourhood
_BOX = {"boxstyle": "round,pad=0.3", "fc": "ivory", "ec": "0.6", "lw": 0.8}
_BOX_PAD = 0.3  # the boxes' pad, in font sizes


def _shown(n: int, keys: Any, extra: Any, budget: int) -> list[int]:
    """The nodes of an ``n``-node layer to draw: all of them when ``n <= budget``; otherwise the
    first and the last, the ``keys`` and their neighbours, the ``extra`` nodes, then the nodes
    nearest the keys until the rows (nodes plus one "... more" mark per run left out) fill ``budget``.
    """
    if n <= budget:
        return list(range(n))
    keys = sorted(set(keys))
    keep = {0, n - 1, *keys, *extra}
    for key in keys:
        keep |= {i for i in (key - 1, key + 1) if 0 <= i < n}

    def rows(nodes: set[int]) -> int:
        s = sorted(nodes)
        return len(s) + sum(1 for a, b in zip(s, s[1:]) if b > a + 1)

    centres = keys or [0]
    for i in sorted(range(n), key=lambda i: (min(abs(i - c) for c in centres), i)):
        if rows(keep) >= budget:
            break
        if i not in keep and rows(keep | {i}) <= budget:
            keep.add(i)
    return sorted(keep)


def _rows(shown: list[int]) -> list[tuple[int | None, int]]:
    """The rows of a column: ``(node, 0)`` for a node, ``(None, count)`` for a run of ``count`` left out."""
    out: list[tuple[int | None, int]] = []
    for a, b in zip([-1, *shown], shown):
        if b > a + 1 and a >= 0:
            out.append((None, b - a - 1))
        out.append((b, 0))
    return out


def _side(n: int) -> int | None:
    """The side of the square image an ``n``-value input is (16 values at least), else None."""
    side = int(round(n**0.5))
    return side if n >= 16 and side * side == n else None


def _tex(x: float, digits: int) -> str:
    """A number in mathtext with ``digits`` significant digits: ``-4.833 \\times 10^{-5}``, not ``-4.833e-05``."""
    s = f"{float(x) + 0.0:.{digits}g}"
    if "e" in s:
        mantissa, exponent = s.split("e")
        s = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return s


def _p(x: float, digits: int) -> str:
    """A number for a formula (mathtext): negative numbers in parentheses."""
    s = _tex(x, digits)
    return f"({s})" if s.startswith("-") else s


class _Board:
    """The axes, in inches (one data unit is one inch, both ways), and what is already drawn on
    it that a label must not cover: the node circles and the boxes of the labels and images."""

    def __init__(self, fig: Any, ax: Any) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)  # a renderer to measure text with
        self.fig, self.ax = fig, ax
        self.renderer = fig.canvas.get_renderer()
        self.circles: list[tuple[float, float, float]] = []
        self.rects: list[tuple[float, float, float, float]] = []

    def rect(self, text: Any) -> tuple[float, float, float, float]:
        """The box ``(x0, y0, x1, y1)`` that ``text`` (with its bbox patch, if any) covers, in inches."""
        bb = text.get_window_extent(self.renderer).transformed(self.ax.transData.inverted())
        pad = (_BOX_PAD * text.get_fontsize() / 72 + 0.02) if text.get_bbox_patch() is not None else 0.0
        return bb.x0 - pad, bb.y0 - pad, bb.x1 + pad, bb.y1 + pad

    def free(self, r: tuple[float, float, float, float], gap: float = 0.06) -> bool:
        x0, y0, x1, y1 = r[0] - gap, r[1] - gap, r[2] + gap, r[3] + gap
        for cx, cy, cr in self.circles:
            dx, dy = max(x0 - cx, 0.0, cx - x1), max(y0 - cy, 0.0, cy - y1)
            if dx * dx + dy * dy < cr * cr:
                return False
        return all(x1 <= a0 or a1 <= x0 or y1 <= b0 or b1 <= y0 for a0, b0, a1, b1 in self.rects)

    def place(self, text: Any, anchors: Any, lines: Any = ()) -> tuple[float, float]:
        """Move ``text`` to the best of ``anchors``, ``(x, y, ha, cost)``, where it covers no node
        and no other label, and mark its box as taken. A box that crosses one of ``lines``
        (segments the reader follows) costs 10 more; with no free anchor it goes below everything.
        Returns the anchor used."""
        best: tuple[float, tuple[float, float], str] | None = None
        for x, y, ha, cost in anchors:
            if best is not None and cost >= best[0]:
                continue
            text.set_ha(ha)
            text.set_position((x, y))
            r = self.rect(text)
            if not self.free(r):
                continue
            cost += 10 * sum(_crosses(seg, r) for seg in lines)
            if best is None or cost < best[0]:
                best = (cost, (x, y), ha)
        if best is None:
            x, _ = text.get_position()
            text.set_position((x, 0.0))
            r = self.rect(text)
            bottom = min([c[1] - c[2] for c in self.circles] + [q[1] for q in self.rects])
            best = (0.0, (x, bottom - 0.25 - r[3]), text.get_ha())  # its top 0.25 in below the lowest thing drawn
        text.set_ha(best[2])
        text.set_position(best[1])
        self.rects.append(self.rect(text))
        return best[1]

    def extent(self) -> tuple[float, float, float, float]:
        xs0 = [c[0] - c[2] for c in self.circles] + [r[0] for r in self.rects]
        ys0 = [c[1] - c[2] for c in self.circles] + [r[1] for r in self.rects]
        xs1 = [c[0] + c[2] for c in self.circles] + [r[2] for r in self.rects]
        ys1 = [c[1] + c[2] for c in self.circles] + [r[3] for r in self.rects]
        return min(xs0), min(ys0), max(xs1), max(ys1)


def _crosses(seg: Any, r: tuple[float, float, float, float]) -> bool:
    """Whether the segment ``((x0, y0), (x1, y1))`` passes through the box ``r`` (Liang-Barsky)."""
    (x0, y0), (x1, y1) = seg
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0 - r[0]), (dx, r[2] - x0), (-dy, y0 - r[1]), (dy, r[3] - y0)):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
    return True


def _input_row(e: Explanation, x: Any, sample: int) -> np.ndarray | None:
    """The input of the drawn sample, from ``x`` (that sample's input, or the X given to explain);
    only drawn, so it may be the input before any scaling."""
    if x is None:
        return None
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ChainruleError(f"x must be an array of numbers (the input of the sample drawn); got {shown(x)}") from None
    n0, row = e.sizes[0], e.samples[sample]
    if arr.ndim == 1 and arr.shape[0] == n0:
        out = arr
    elif arr.ndim == 2 and arr.shape[1] == n0 and arr.shape[0] == e.n:
        out = arr[sample]  # the explained rows
    elif arr.ndim == 2 and arr.shape[1] == n0 and arr.shape[0] > row:
        out = arr[row]  # the X given to explain
    else:
        raise ChainruleError(
            f"x has the shape {arr.shape}; give the drawn sample's {n0} inputs, or the X given to explain "
            f"(rows of {n0} values, holding row {row})"
        )
    return out


def _title(e: Explanation, i: int) -> list[str]:
    """The chain rule with the sample's numbers: every factor and the product (and the mean)."""
    l, j, k = e.layer, e.j, e.k
    w = rf"b_{{{j}}}^{{({l})}}" if k is None else rf"w_{{{j},{k}}}^{{({l})}}"
    a, z = rf"a_{{{j}}}^{{({l})}}", rf"z_{{{j}}}^{{({l})}}"
    dz = rf"\partial {z}/\partial {w}"
    lhs = rf"\partial C_0/\partial {w}"
    which = f"   (sample {e.samples[i]})" if e.n > 1 else ""
    if e.term2 is not None:
        lines = [
            rf"${lhs} = \partial C_0/\partial {a} \cdot \partial {a}/\partial {z} \cdot {dz}$",
            rf"$= {_p(e.term1[i], 6)} \cdot {_p(e.term2[i], 6)} \cdot {_p(e.term3[i], 6)}"
            rf" = {_tex(e.products[i], 6)}$" + which,
        ]
    else:  # softmax: a_j depends on every z_m of the layer, so terms 1 and 2 are one sum
        m = rf"a_m^{{({l})}}"
        lines = [
            rf"${lhs} = \partial C_0/\partial {z} \cdot {dz}$",
            rf"$= \left(\sum_m \partial C_0/\partial {m} \cdot \partial {m}/\partial {z}\right) \cdot {dz}$"
            + f"   (softmax: $a^{{({l})}}$ depends on every $z^{{({l})}}$)",
            rf"$= {_p(e.delta[i], 6)} \cdot {_p(e.term3[i], 6)} = {_tex(e.products[i], 6)}$" + which,
        ]
    if e.n > 1:
        lines.append(rf"mean over the {e.n} samples: $\partial C/\partial {w} = {_tex(e.mean, 6)}$")
    return lines


def _node_box(e: Explanation, i: int) -> str:
    """What node ``j`` of layer ``l`` holds, and the chain rule's terms computed there."""
    l, j, L = e.layer, e.j, e.L
    a, z = rf"a_{{{j}}}^{{({l})}}", rf"z_{{{j}}}^{{({l})}}"
    lines = []
    if e.bias:
        lines.append(rf"$b_{{{j}}}^{{({l})}} = {_tex(e.weight, 4)}$")
    lines += [rf"${z} = {_tex(e.z[i], 4)}$", rf"${a} = g^{{({l})}}({z}) = {_tex(e.a[i], 4)}$"]
    if e.y is not None:
        lines.append(rf"$y_{{{j}}} = {_tex(e.y[i], 4)}$")
    lines.append(rf"term 1: $\partial C_0/\partial {a} = {_tex(e.term1[i], 4)}$")
    if l < L:
        lines.append(f"    (a sum over the {e.sizes[l + 1]} nodes of layer {l + 1}, dashed)")
    if e.term2 is not None:
        lines.append(rf"term 2: $g^{{\prime({l})}}({z}) = {_tex(e.term2[i], 4)}$")
    else:
        lines.append(rf"terms 1, 2: $\partial C_0/\partial {z} = {_tex(e.delta[i], 4)}$")
        lines.append(f"    (softmax: a sum over the {e.sizes[l]} nodes of layer {l})")
    if e.bias:
        lines.append(rf"term 3: $\partial {z}/\partial b_{{{j}}}^{{({l})}} = 1$")
    return "\n".join(lines)


def plot_explanation(
    e: Explanation,
    path: str | os.PathLike | None = None,
    *,
    color_by_gradient: bool = False,
    sample: int = 0,
    x: Any = None,
    max_nodes: int = _WHOLE,
) -> Any:
    """Draw the network with the explained weight highlighted; save to ``path`` (PNG, SVG, PDF by suffix).

    Layers are numbered 0 (the input) to L (the output) and nodes 0, 1, ... from the top, as in
    the article. A layer of more than ``max_nodes`` nodes is drawn as a neighbourhood: its first
    and last node, the explained weight's node and a few around it, and "... N more" for the rest;
    lines are drawn between the nodes shown. ``sample`` picks which explained sample's values
    label the nodes; the title gives the chain rule with that sample's three factors and their
    product (and the mean over the samples). ``x``, the input of that sample (or the ``X`` given
    to :func:`~chainrule.explain`), draws an input of a square number of values (64, 784) as its
    8x8 or 28x28 image, with the input node of a layer-1 weight marked on it; it is only drawn, so
    it may be the input before scaling (as in the data file), which looks more like a picture.

    Returns the matplotlib ``Figure``. A ``path`` with another suffix is refused before drawing;
    the file is written atomically.
    """
    require_explanation(e)
    target = picture_path(path)
    color_by_gradient = as_bool("color_by_gradient", color_by_gradient)
    max_nodes = as_int("max_nodes", max_nodes, low=3)
    try:
        sample = as_int("sample", sample, low=0, high=e.n - 1)
    except ChainruleError:
        raise ChainruleError(
            f"sample = {shown(sample)} is out of range: the explanation holds samples 0..{e.n - 1}"
        ) from None
    x_row = _input_row(e, x, sample)
    Figure = _matplotlib()
    import matplotlib
    from matplotlib import colors
    from matplotlib.patches import Circle, Rectangle

    i = sample
    sizes, l, j, k, L = e.sizes, e.layer, e.j, e.k, e.L
    # which nodes each layer shows
    keys: list[list[int]] = [[] for _ in sizes]
    extra: list[list[int]] = [[] for _ in sizes]
    keys[l].append(j)
    if k is not None:
        keys[l - 1].append(k)
    if l < L:  # the largest summands of term 1's sum over layer l+1
        order = sorted(e.hidden_sum, key=lambda s: -abs(float(s.value[i])))
        extra[l + 1] = [s.m for s in order[:2]]
    budget = min(_NEIGHBOURHOOD, max_nodes)
    shown_nodes = [_shown(n, keys[m], extra[m], max_nodes if n <= max_nodes else budget) for m, n in enumerate(sizes)]
    rows = [_rows(s) for s in shown_nodes]
    most = max(len(r) for r in rows)
    S = float(np.clip(3.6 / most, 0.5, 1.0))  # row spacing, inches
    R = min(0.3, 0.32 * S)  # node radius

    # one data unit is one inch; the figure is sized to the drawing at the end (text is measured
    # wherever it lies, so a small canvas will do, and its renderer's buffer stays small)
    fig = Figure(figsize=(4, 4), dpi=150)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-2, 2)
    ax.set_ylim(-2, 2)
    ax.set_axis_off()
    board = _Board(fig, ax)

    # the labels first, to space the layers so that they fit between them
    node_box = ax.text(
        0, 0, _node_box(e, i), ha="left", va="center", multialignment="left", fontsize=9, zorder=6, bbox=_BOX
    )
    k_lines = []
    if k is not None:
        k_lines.append(rf"term 3: $a_{{{k}}}^{{({l - 1})}} = {_tex(e.term3[i], 4)}$")
        if l == 1:
            k_lines[0] += rf"  (the input $x_{{{k}}}$)"
    k_box = ax.text(
        0, 0, "\n".join(k_lines), ha="right", va="center", multialignment="left", fontsize=9, zorder=6, bbox=_BOX
    )
    w_label = None
    if k is not None:  # a bias has its value in the node's box
        w_label = ax.text(
            0,
            0,
            rf"$w_{{{j},{k}}}^{{({l})}} = {_tex(e.weight, 4)}$",
            ha="center",
            va="center",
            color="tab:orange",
            fontsize=10,
            zorder=6,
            bbox={"boxstyle": f"round,pad={_BOX_PAD}", "fc": "white", "ec": "tab:orange"},
        )
    labels = [t for t in (node_box, k_box, w_label) if t is not None]
    G = max(2.4, 2 * R + 0.5 + max(board.rect(t)[2] - board.rect(t)[0] for t in labels))  # between layers
    if k is None:
        k_box.remove()

    # the nodes, row by row, node 0 on top; "... N more" where a run is left out
    pos: list[dict[int, tuple[float, float]]] = []
    top = (most - 1) / 2 * S
    for m, col in enumerate(rows):
        xm, y0 = m * G, (len(col) - 1) / 2 * S
        here = {}
        for r, (node, count) in enumerate(col):
            y = y0 - r * S
            if node is None:
                t = ax.text(xm, y, f"\u22ee\n{count} more", ha="center", va="center", fontsize=7.5, color="0.35")
                board.rects.append(board.rect(t))
            else:
                here[node] = (xm, y)
        pos.append(here)
        n = sizes[m]
        act = _activation(e, m)
        head = f"layer {m}" + (": input" if m == 0 else " = L: output" if m == L else "")
        head += f"\n{n} node{'s' if n != 1 else ''}" + (f", $g^{{({m})}}$ = {act}" if act else "")
        t = ax.text(xm, top + R + 0.25, head, ha="center", va="bottom", fontsize=9, color="0.25", linespacing=1.3)
        board.rects.append(board.rect(t))

    # lines between the nodes shown
    vmax = max(float(np.abs(d).max()) for d in e.dW) or 1.0
    norm = colors.TwoSlopeNorm(vmin=-vmax, vcenter=0.0, vmax=vmax)
    cmap = matplotlib.colormaps["RdBu_r"]
    for m in range(1, len(sizes)):
        grad = e.dW[m - 1]
        for jj, (x1, y1) in pos[m].items():
            for kk, (x0, y0) in pos[m - 1].items():
                if color_by_gradient:
                    g = float(grad[jj, kk])
                    ax.plot([x0, x1], [y0, y1], color=cmap(norm(g)), lw=0.4 + 2.5 * abs(g) / vmax, zorder=1)
                else:
                    ax.plot([x0, x1], [y0, y1], color="0.8", lw=0.6, zorder=1)
    xj, yj = pos[l][j]
    followed = []  # the lines the reader follows: labels avoid covering them
    if l < L:  # term 1 sums over the nodes of layer l+1 (the "back" of backprop)
        for xm_, ym_ in pos[l + 1].values():
            ax.plot([xj, xm_], [yj, ym_], color="tab:orange", lw=1.3, ls=(0, (4, 3)), alpha=0.8, zorder=2)
            followed.append(((xj, yj), (xm_, ym_)))
    if k is not None:
        xk, yk = pos[l - 1][k]
        ax.plot([xk, xj], [yk, yj], color="tab:orange", lw=4, zorder=3, solid_capstyle="round")

    # the nodes, numbered as in the article
    for m, here in enumerate(pos):
        for node, (xn, yn) in here.items():
            key = (m == l and node == j) or (k is not None and m == l - 1 and node == k)
            # the other nodes that term 1 (or, for a softmax, terms 1 and 2) sums over
            summand = (l < L and m == l + 1) or (e.term2 is None and m == l and node != j)
            face = "tab:orange" if key else "#fde3c8" if summand else "white"
            ax.add_patch(Circle((xn, yn), R, facecolor=face, edgecolor="0.25", lw=1.0, zorder=4, gid="node"))
            board.circles.append((xn, yn, R))
            digits = len(str(node))
            ax.text(
                xn,
                yn,
                str(node),
                ha="center",
                va="center",
                fontsize=min(9.0, 150 * R / max(2, digits)),
                zorder=5,
                gid="node-number",
                fontweight="bold" if key else "normal",
            )

    # the labels: the weight on its line, node j's values beside it, node k's beside it
    if k is not None:
        along = (0.5, 0.4, 0.6, 0.3, 0.7, 0.25, 0.75, 0.2, 0.8)
        board.place(
            w_label,
            [(xk + t * (xj - xk), yk + t * (yj - yk), "center", abs(t - 0.5)) for t in along],
            followed,
        )
        followed.append(((xk, yk), (xj, yj)))
    steps = [0.0] + [s * h * S / 2 for h in range(1, 9) for s in (1, -1)]

    def beside(text: Any, xn: float, yn: float, side: int) -> None:
        """Beside its node on ``side`` (1: right), else on the other side; up or down if need be."""
        gap = R + 0.15 + _BOX_PAD * 9 / 72
        anchors = [
            (xn + d * gap, yn + dy, "left" if d > 0 else "right", abs(dy) / S + (0 if d == side else 1.5))
            for d in (side, -side)
            for dy in steps
        ]
        xa, ya = board.place(text, anchors, followed)
        if abs(ya - yn) > 1e-9:  # moved up or down: a leader line from the node to its box
            ax.plot([xn + np.sign(xa - xn) * R, xa], [yn, ya], color="0.5", lw=0.8, zorder=3)

    beside(node_box, xj, yj, 1)
    image = _side(sizes[0]) if x_row is not None else None
    if k is not None and not (l == 1 and image):
        beside(k_box, xk, yk, -1)
    elif k is not None:
        k_box.remove()

    # the input as an image, with a layer-1 weight's input node marked on it
    if image:
        side = image
        size = float(np.clip(0.08 * side, 1.4, 2.4))
        cap = [f"layer 0: the input as a {side}\u00d7{side} image"]
        if l == 1 and k is not None:
            r_, c_ = divmod(k, side)
            cap.append(rf"node {k} = row {r_}, column {c_}; term 3: $a_{{{k}}}^{{(0)}} = {_tex(e.term3[i], 4)}$")
        caption = ax.text(0, 0, "\n".join(cap), ha="center", va="bottom", fontsize=8.5, zorder=6, bbox=_BOX)
        x0c, y_mid = pos[0][min(pos[0])][0], (pos[0][k][1] if l == 1 and k is not None else 0.0)
        spot = None
        for dx in np.arange(0.0, 8.0, 0.25):
            for dy in steps:
                right = x0c - R - 0.6 - dx
                rect = (right - size, y_mid + dy - size / 2, right, y_mid + dy + size / 2)
                caption.set_position(((rect[0] + rect[2]) / 2, rect[3] + 0.12))
                cr = board.rect(caption)
                both = (min(rect[0], cr[0]), rect[1], max(rect[2], cr[2]), cr[3])
                if board.free(both):
                    spot = rect
                    break
            if spot is not None:
                break
        if spot is None:  # below everything drawn
            bottom = board.extent()[1]
            spot = (x0c - size / 2, bottom - 0.6 - size, x0c + size / 2, bottom - 0.6)
            caption.set_position((x0c, spot[3] + 0.12))
        board.rects += [spot, board.rect(caption)]
        ax.imshow(
            x_row.reshape(side, side),
            extent=(spot[0], spot[2], spot[1], spot[3]),
            cmap="gray_r",
            interpolation="nearest",
            zorder=2,
        )
        ax.add_patch(Rectangle(spot[:2], size, size, fill=False, ec="0.4", lw=0.8, zorder=3))
        if l == 1 and k is not None:
            px = size / side
            r_, c_ = divmod(k, side)
            cx, cy = spot[0] + (c_ + 0.5) * px, spot[3] - (r_ + 0.5) * px
            ax.add_patch(Rectangle((cx - px / 2, cy - px / 2), px, px, fill=False, ec="tab:orange", lw=2, zorder=4))
            ax.plot([cx + px / 2, xk - R], [cy, yk], color="tab:orange", lw=1.2, ls=(0, (4, 3)), zorder=2)

    # the title: the chain rule with this sample's numbers
    ax.set_title("\n".join(_title(e, i)), fontsize=11, linespacing=1.7)
    title_bb = ax.title.get_window_extent(board.renderer)
    title_w, title_h = title_bb.width / fig.dpi, title_bb.height / fig.dpi

    # the figure: just the drawing (with a margin), wide enough for the title, and the colour bar
    pad = 0.25
    x0, y0, x1, y1 = board.extent()
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    if title_w + 2 * pad > x1 - x0:
        grow = (title_w + 2 * pad - (x1 - x0)) / 2
        x0, x1 = x0 - grow, x1 + grow
    bar = 1.3 if color_by_gradient else 0.0
    W, H = x1 - x0 + bar, y1 - y0 + title_h + 0.35
    fig.set_size_inches(W, H)
    ax.set_position((0, 0, (x1 - x0) / W, (y1 - y0) / H))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("auto")  # one unit is one inch both ways already (imshow asked for "equal")
    if color_by_gradient:
        from matplotlib import cm

        cax = fig.add_axes(((x1 - x0 + 0.3) / W, 0.15 * (y1 - y0) / H, 0.18 / W, 0.7 * (y1 - y0) / H))
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, label=r"$\partial C/\partial w$")
    _save(fig, target, 150)
    return fig


def _activation(e: Explanation, m: int) -> str:
    """The activation of layer ``m``, as far as the Explanation knows it (layers l and l+1)."""
    if m == e.layer:
        return e.activation
    if m == e.layer + 1 and e.next_activation:
        return e.next_activation
    return ""


def plot_history(
    history: Any,
    path: str | os.PathLike | None = None,
    *,
    restore_best: bool | None = None,
    test: dict[str, Any] | None = None,
) -> Any:
    """Training, validation (and test) loss, and accuracy for classification, per epoch; saved to ``path``.

    The validation curves are drawn when the History has them (``validation_data`` or
    ``validation_fraction``), and test curves when it carries ``test_loss``/``test_accuracy``.
    The best epoch is marked only where one was selected: with ``restore_best=True`` (fit kept
    that epoch's weights; fit's default with ``early_stopping``), or when early stopping ended
    training. ``restore_best=None`` judges from the History alone, which records only the
    latter: :func:`~chainrule.fit` notes the lowest loss of every run in ``best_epoch``, and
    that is no selection. ``test``, :func:`~chainrule.evaluate`'s result for held-out samples, is
    drawn as one point at the epoch whose weights were evaluated (the best one when restored,
    else the last).

    Returns the matplotlib ``Figure``. A ``path`` with another suffix than .png, .svg or .pdf is
    refused before drawing; the file is written atomically.
    """
    from .train import History

    if not isinstance(history, History):
        raise ChainruleError(f"history must be a History (what fit returns); got {type(history).__name__}")
    target = picture_path(path)
    if restore_best is not None:
        restore_best = as_bool("restore_best", restore_best)
    if test is not None and (not isinstance(test, dict) or "loss" not in test):
        raise ChainruleError(f"test must be evaluate's result (a dict with 'loss'); got {shown(test)}")
    if not history.loss:
        raise ChainruleError(f"the History has no epochs to draw (training {history.stopped or 'completed none'})")
    Figure = _matplotlib()
    n = history.epochs
    best = history.best_epoch if history.best_epoch is not None and 1 <= history.best_epoch <= n else None
    restored = bool(restore_best) and best is not None
    selected = best if restored or history.status == "early_stopping" else None
    kept = best if restored else n  # the epoch whose weights the network holds
    marker = "." if n < 30 else None

    def curves(name: str) -> list[tuple[str, np.ndarray, dict[str, Any]]]:
        """(label, values, style) for the training, validation and test values of ``name``."""
        out = []
        for prefix, label, style in (
            ("", "training", {"color": "tab:blue"}),
            ("val_", "validation", {"color": "tab:orange"}),
            ("test_", "test", {"color": "tab:green", "ls": "--"}),
        ):
            values = list(getattr(history, prefix + name, None) or [])[:n]
            if values:
                # a loss near float's limit (a diverged run) is drawn at 1e250: a log axis overflows above it
                out.append((label, np.minimum(np.asarray(values, dtype=np.float64), 1e250), style))
        return out

    panels = [("loss", "Loss", "cost C (mean loss)"), ("accuracy", "Accuracy", "accuracy")]
    panels = [p for p in panels if curves(p[0])]
    fig = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    monitored = "validation" if history.val_loss else "training"
    for number, (name, title, ylabel) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), number)
        drawn = curves(name)
        for label, values, style in drawn:
            ax.plot(np.arange(1, len(values) + 1), values, label=label, marker=marker, **style)
        if selected is not None:
            why = f"lowest {monitored} loss" + ("; its weights are kept" if restored else "; early stopping")
            ax.axvline(selected, color="0.35", ls=":", lw=1.3, label=f"best epoch {selected} ({why})", zorder=0)
        if test is not None and name in test:
            ax.plot(
                [kept],
                [min(float(test[name]), 1e250)],
                marker="D",
                ms=7,
                color="tab:green",
                ls="none",
                label=f"test ({test.get('n', '?')} samples), the weights of epoch {kept}",
                zorder=5,
            )
        if name == "loss":
            shown_values = np.concatenate([v for _, v, _ in drawn])
            clipped = bool(np.any(shown_values >= 1e250))
            title += " (above 1e250 drawn at 1e250)" if clipped else ""
            if shown_values.min() > 0 and (test is None or float(test["loss"]) > 0):
                ax.set_yscale("log")
        else:
            ax.set_ylim(None, 1.0)
        ax.set(xlabel="epoch", ylabel=ylabel, title=title)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
    _save(fig, target, 120)
    return fig
