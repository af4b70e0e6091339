"""Pictures (matplotlib, extra ``plot``): the network with one weight's gradient explained on it.

Layers are columns from the input layer 0 on the left to the output layer L on the right; every
weight ``w_jk^(l)`` is a line from node ``k`` of layer ``l-1`` to node ``j`` of layer ``l``. The
explained weight is drawn thick, and the values that enter its three chain-rule terms are written
beside the nodes they belong to. With ``color_by_gradient`` every line is coloured by its gradient
``dC/dw_jk^(l)`` (red positive, blue negative) and a colour bar gives the scale.
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


_DX = 3.0  # distance between layers, in node spacings


def _positions(sizes: tuple[int, ...]) -> list[np.ndarray]:
    """(x, y) of every node: layer l at x = l * _DX, nodes one unit apart, centred, node 0 on top."""
    return [
        np.column_stack([np.full(n, l * _DX), (n - 1) / 2 - np.arange(n, dtype=float)]) for l, n in enumerate(sizes)
    ]


def plot_explanation(
    e: Explanation,
    path: str | os.PathLike | None = None,
    *,
    color_by_gradient: bool = False,
    sample: int = 0,
) -> Any:
    """Draw the network with the explained weight highlighted; save to ``path`` (PNG, SVG, PDF by suffix).

    ``sample`` picks which explained sample's values label the nodes (the title gives the mean).
    Returns the matplotlib ``Figure``. A ``path`` with another suffix is refused before drawing;
    the file is written atomically.
    """
    require_explanation(e)
    target = picture_path(path)
    color_by_gradient = as_bool("color_by_gradient", color_by_gradient)
    try:
        sample = as_int("sample", sample, low=0, high=e.n - 1)
    except ChainruleError:
        raise ChainruleError(
            f"sample = {shown(sample)} is out of range: the explanation holds samples 0..{e.n - 1}"
        ) from None
    Figure = _matplotlib()
    import matplotlib
    from matplotlib import cm, colors

    sizes, l, j, k = e.sizes, e.layer, e.j, e.k
    pos = _positions(sizes)
    big = max(sizes)
    fig = Figure(figsize=(2.4 * len(sizes) + 3, min(14.0, max(4.5, 0.42 * big + 2.5))), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()

    vmax = max(float(np.abs(d).max()) for d in e.dW) or 1.0
    norm = colors.TwoSlopeNorm(vmin=-vmax, vcenter=0.0, vmax=vmax)
    cmap = matplotlib.colormaps["RdBu_r"]
    for m in range(1, len(sizes)):
        grad = e.dW[m - 1]
        for jj in range(sizes[m]):
            for kk in range(sizes[m - 1]):
                (x0, y0), (x1, y1) = pos[m - 1][kk], pos[m][jj]
                if color_by_gradient:
                    ax.plot(
                        [x0, x1],
                        [y0, y1],
                        color=cmap(norm(grad[jj, kk])),
                        lw=0.4 + 2.5 * abs(grad[jj, kk]) / vmax,
                        zorder=1,
                    )
                else:
                    ax.plot([x0, x1], [y0, y1], color="0.82", lw=0.6, zorder=1)
    # the explained weight (or, for a bias, the node it belongs to)
    (x1, y1) = pos[l][j]
    if k is not None:
        (x0, y0) = pos[l - 1][k]
        ax.plot([x0, x1], [y0, y1], color="tab:orange", lw=4, zorder=2, solid_capstyle="round")
        ax.text(
            x0 + 0.5 * (x1 - x0),
            y0 + 0.5 * (y1 - y0),
            rf"$w_{{{j},{k}}}^{{({l})}} = {e.weight:.4g}$",
            ha="center",
            va="center",
            color="tab:orange",
            fontsize=10,
            zorder=3,
            bbox={"boxstyle": "round", "fc": "white", "ec": "tab:orange"},
        )
    radius = 0.3
    for m, p in enumerate(pos):
        for node, (x, y) in enumerate(p):
            key = (m == l and node == j) or (k is not None and m == l - 1 and node == k)
            ax.add_patch(_circle(fig, (x, y), radius, "tab:orange" if key else "white"))
        ax.text(
            m * _DX,
            (big - 1) / 2 + 1.0,
            f"layer {m}" + (" (L)" if m == len(sizes) - 1 else ""),
            ha="center",
            fontsize=9,
            color="0.3",
        )
    i = sample
    right = [rf"$z_{{{j}}}^{{({l})}} = {e.z[i]:.4g}$", rf"$a_{{{j}}}^{{({l})}} = {e.a[i]:.4g}$"]
    if e.y is not None:
        right.append(rf"$y_{{{j}}} = {e.y[i]:.4g}$")
    right.append(rf"$\partial C_0/\partial a_{{{j}}}^{{({l})}} = {e.term1[i]:.4g}$")
    if e.term2 is not None:
        right.append(rf"$g^{{\prime({l})}}(z_{{{j}}}^{{({l})}}) = {e.term2[i]:.4g}$")
    ax.text(
        x1 + radius + 0.25,
        y1,
        "\n".join(right),
        va="center",
        fontsize=9,
        bbox={"boxstyle": "round", "fc": "ivory", "ec": "0.7"},
        zorder=3,
    )
    if k is not None:
        (x0, y0) = pos[l - 1][k]
        ax.text(
            x0 - radius - 0.25,
            y0,
            rf"$a_{{{k}}}^{{({l - 1})}} = {e.term3[i]:.4g}$",
            va="center",
            ha="right",
            fontsize=9,
            bbox={"boxstyle": "round", "fc": "ivory", "ec": "0.7"},
            zorder=3,
        )
    sym = rf"b_{{{j}}}^{{({l})}}" if k is None else rf"w_{{{j},{k}}}^{{({l})}}"
    t2 = f"{e.term2[i]:.6g}" if e.term2 is not None else r"\ldots"
    title = (
        rf"$\partial C_0/\partial {sym} = {e.term1[i]:.6g} \cdot {t2} \cdot {e.term3[i]:.6g} = {e.products[i]:.6g}$"
        + (f"  (sample {e.samples[i]})" if e.n > 1 else "")
    )
    if e.n > 1:
        title += "\n" + rf"mean over {e.n} samples: $\partial C/\partial {sym} = {e.mean:.6g}$"
    ax.set_title(title, fontsize=11)
    if color_by_gradient:
        sm = cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=ax, shrink=0.6, label=r"$\partial C/\partial w$")
    ax.set_aspect("equal")
    ax.set_xlim(-2.8, (len(sizes) - 1) * _DX + 3.6)
    ax.set_ylim(-(big - 1) / 2 - 0.8, (big - 1) / 2 + 1.5)
    _save(fig, target, 150)
    return fig


def _circle(fig: Any, xy: tuple[float, float], r: float, face: str) -> Any:
    from matplotlib.patches import Circle

    return Circle(xy, r, facecolor=face, edgecolor="0.25", lw=1.0, zorder=4)


def plot_history(history: Any, path: str | os.PathLike | None = None) -> Any:
    """Training and validation loss (and accuracy, for classification) per epoch; saved to ``path``.

    Returns the matplotlib ``Figure``. A ``path`` with another suffix than .png, .svg or .pdf is
    refused before drawing; the file is written atomically.
    """
    from .train import History

    if not isinstance(history, History):
        raise ChainruleError(f"history must be a History (what fit returns); got {type(history).__name__}")
    target = picture_path(path)
    if not history.loss:
        raise ChainruleError(f"the History has no epochs to draw (training {history.stopped or 'completed none'})")
    Figure = _matplotlib()
    panels = 2 if history.accuracy else 1
    fig = Figure(figsize=(5.5 * panels, 4), layout="constrained")
    epochs = np.arange(1, history.epochs + 1)
    ax = fig.add_subplot(1, panels, 1)
    # a loss near float's limit (a run that diverged) is drawn at 1e250: matplotlib's log axis overflows above
    loss, val_loss = (np.minimum(np.asarray(v, dtype=np.float64), 1e250) for v in (history.loss, history.val_loss))
    ax.plot(epochs, loss, label="training", marker="." if history.epochs < 30 else None)
    if history.val_loss:
        ax.plot(epochs, val_loss, label="validation")
    if history.best_epoch:
        ax.axvline(history.best_epoch, color="0.7", ls="--", lw=1, label=f"best epoch ({history.best_epoch})")
    clipped = bool(np.any(loss >= 1e250) or np.any(val_loss >= 1e250))
    ax.set(
        xlabel="epoch", ylabel="cost C (mean loss)", title="Loss" + (" (above 1e250 drawn at 1e250)" if clipped else "")
    )
    if min(history.loss + history.val_loss) > 0:
        ax.set_yscale("log")
    ax.legend()
    if panels == 2:
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.plot(epochs, history.accuracy, label="training")
        if history.val_accuracy:
            ax2.plot(epochs, history.val_accuracy, label="validation")
        ax2.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(None, 1.0))
        ax2.legend()
    _save(fig, target, 120)
    return fig
