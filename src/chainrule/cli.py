"""The ``chainrule`` command.

    chainrule explain     one weight's gradient as the article's three chain-rule terms
    chainrule gradcheck   backprop against central finite differences, layer by layer

Without ``--model`` both work on the article's example network and sample. User mistakes print
one line on standard error and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from . import __version__
from .data import article_example, load_xy
from .errors import ChainruleError
from .explain import explain
from .gradcheck import gradcheck
from .io import read_metadata
from .losses import LOSSES
from .network import Network

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _model_and_data(args: argparse.Namespace) -> tuple[Network, np.ndarray, np.ndarray, str]:
    """The network, X, Y and loss name the command works on."""
    if args.model is None:
        if args.data is not None:
            raise ChainruleError(
                "--data needs --model (without --model the article's example network and sample are used)"
            )
        net, X, Y = article_example()
        return net, X, Y, args.loss or "squared_error"
    if args.data is None:
        raise ChainruleError("--model needs --data: a .npz with arrays X and Y, or a .csv of inputs then targets")
    net = Network.load(args.model)
    X, Y = load_xy(args.data, net.sizes[0])
    return net, X, Y, args.loss or read_metadata(args.model).get("loss") or "squared_error"


def _show(text: str) -> None:
    """Print, through rich when it is installed and the output is a terminal."""
    if sys.stdout.isatty():
        try:
            from rich.console import Console
        except ImportError:
            pass
        else:
            Console().print(text, markup=False, highlight=True)
            return
    print(text)


def _explain(args: argparse.Namespace) -> int:
    net, X, Y, loss = _model_and_data(args)
    L = net.L
    layer = L if args.layer is None else args.layer
    if not 1 <= layer <= L:
        raise ChainruleError(f"--layer {layer} is out of range: weights live in layers 1..{L}")
    j = args.j if args.j is not None else min(1, net.sizes[layer] - 1)
    k = args.k if args.k is not None else min(2, net.sizes[layer - 1] - 1)
    e = explain(net, X, Y, layer=layer, j=j, k=None if args.bias else k, loss=loss, bias=args.bias, sample=args.sample)
    if args.format == "markdown":
        _show(e.to_markdown(args.max_samples))
    elif args.format == "latex":
        print(e.to_latex(args.max_samples))
    else:
        _show(e.to_text(args.max_samples))
    if args.plot:
        from .plot import plot_explanation

        plot_explanation(e, args.plot, color_by_gradient=args.color_by_gradient)
        print(f"picture written to {args.plot}", file=sys.stderr)
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    net, X, Y, loss = _model_and_data(args)
    result = gradcheck(net, X, Y, loss=loss, tol=args.tol, max_checks=args.max_checks, seed=args.seed)
    _show(str(result))
    return 0 if result.ok else 1


def _parser() -> _Parser:
    parser = _Parser(prog="chainrule", description="Backpropagation done right: compute, explain and check gradients.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--model", metavar="FILE", help="a model saved with Network.save (default: the article's example)"
        )
        p.add_argument(
            "--data", metavar="FILE", help="X and Y: .npz with arrays X and Y, or .csv of inputs then targets"
        )
        p.add_argument("--loss", choices=sorted(LOSSES), help="default: the model's own loss, else squared_error")

    ex = sub.add_parser(
        "explain",
        help="one weight's gradient as the article's three chain-rule terms",
        description="Show dC/dw_jk^(l) = dC0/da_j^(l) * g'^(l)(z_j^(l)) * a_k^(l-1) with real numbers, "
        "the mean over the samples, and the checks against backprop and finite differences.",
    )
    common(ex)
    ex.add_argument("--layer", type=int, help="the article's layer number l, 1..L (default: L)")
    ex.add_argument("--j", type=int, help="node j of layer l (default: 1, as in the article's w_12)")
    ex.add_argument("--k", type=int, help="node k of layer l-1 (default: 2, as in the article's w_12)")
    ex.add_argument(
        "--sample", type=int, help="explain only this row of the data (default: every row, then their mean)"
    )
    ex.add_argument("--bias", action="store_true", help="explain the bias b_j^(l) instead of a weight")
    ex.add_argument("--format", choices=["text", "markdown", "latex"], default="text")
    ex.add_argument("--max-samples", type=int, default=5, metavar="N", help="samples shown term by term (default 5)")
    ex.add_argument("--plot", metavar="FILE", help="also draw the network to FILE (.png, .svg or .pdf)")
    ex.add_argument("--color-by-gradient", action="store_true", help="with --plot, colour every weight by its gradient")
    ex.set_defaults(run=_explain)

    gc = sub.add_parser(
        "gradcheck",
        help="backprop against central finite differences",
        description="Compare every gradient with central finite differences; exit 1 above the tolerance.",
    )
    common(gc)
    gc.add_argument("--tol", type=float, default=1e-5, help="largest relative error that passes (default 1e-5)")
    gc.add_argument(
        "--max-checks", type=int, default=2000, metavar="N", help="entries checked per array (default 2000)"
    )
    gc.add_argument("--seed", type=int, default=0, help="seed for the random subset of large arrays")
    gc.set_defaults(run=_gradcheck)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chainrule`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ChainruleError, OSError) as exc:
        print(f"chainrule {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _entry() -> Any:  # pragma: no cover - the console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
