"""The ``chainrule`` command.

    chainrule train       train a network (by default on the built-in digits) and save it
    chainrule predict     a saved model's predictions for a data file
    chainrule evaluate    a saved model's loss, accuracy and confusion matrix on a data file
    chainrule explain     one weight's gradient as the article's three chain-rule terms
    chainrule gradcheck   backprop against central finite differences, layer by layer
    chainrule explore     any weight's gradient in the browser (a local page on 127.0.0.1)
    chainrule worksheet   practice problems to compute by hand, and their solutions step by step

Without ``--model``, explain, gradcheck and explore work on the article's example network and sample. A
model trained with standardised inputs keeps the scaling in its file, and every command applies
it to the data it reads.

Exit statuses: 0 done; 1 a check failed (gradcheck) or training diverged (the last weights with a
finite loss are saved); 2 a user mistake, told in one line on standard error; 130 Ctrl-C, told in
one line, with whatever was finished kept.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from . import __version__
from ._files import atomic_write
from .activations import ACTIVATIONS
from .backprop import gradients
from .data import (
    DATASETS,
    MAX_GUESSED_CLASSES,
    Standardizer,
    article_example,
    load_dataset,
    load_inputs,
    load_xy,
    read_csv,
    train_test_split,
)
from .errors import ChainruleError
from .explain import explain
from .gradcheck import gradcheck
from .io import load_network_and_metadata
from .losses import LOSSES
from .network import Network, classes_of
from .optim import SGD, Adam
from .train import TrainingWarning, evaluate, fit

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        if len(message) > 300:  # argparse repeats the value it refused, however long
            message = message[:200] + " ... " + message[-60:]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.HelpFormatter):
    """Every option's help ends with its default (options whose default is None say theirs in words)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" not in text
            and not any(action.default is v for v in (None, False, argparse.SUPPRESS))
            and action.option_strings
            and action.nargs != 0
        ):
            text += " (default: %(default)s)"
        return text


def _number(
    kind: Callable[[str], Any], low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable:
    """An argparse type: a finite ``kind`` (int or float) within [low, high], each end open on request."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        if (
            not math.isfinite(value)
            or value < low
            or (low_open and value == low)
            or value > high
            or (high_open and value == high)
        ):
            rule = f"{'>' if low_open else '>='} {low:g}"
            rule += f" and {'<' if high_open else '<='} {high:g}" if high < math.inf else ""
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    parse.__name__ = "whole number" if kind is int else "number"
    return parse


def _fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _scaled(X: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """``X`` with the input scaling the model was trained with (kept in its metadata), if any."""
    scaling = meta.get("info", {}).get("input_scaling")
    return X if scaling is None else Standardizer.from_dict(scaling).transform(X)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    if any(n > 100_000 for n in sizes):
        raise argparse.ArgumentTypeError(f"a hidden layer of more than 100000 nodes is too large, got {text!r}")
    return sizes


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
    net, meta = load_network_and_metadata(args.model)
    X, Y = load_xy(args.data, net.sizes[0], args.target)
    return net, _scaled(np.asarray(X, dtype=np.float64), meta), Y, args.loss or meta.get("loss") or "squared_error"


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


def _explore(args: argparse.Namespace) -> int:
    from .explore import ExploreServer, Session

    if args.dataset is not None:
        if args.model is not None or args.data is not None:
            raise ChainruleError("give --dataset, or --model with --data, not both")
        X, y = load_dataset(args.dataset)
        X = Standardizer().fit(X).transform(X)
        sizes = [X.shape[1], *args.hidden, int(y.max()) + 1]
        net = Network(sizes, activation="sigmoid", output_activation="softmax", seed=args.seed)
        session = Session(
            net, X, y, args.loss or "cross_entropy", title=f"{args.dataset}, a fresh network", images=True
        )
    else:
        net, X, Y, loss = _model_and_data(args)
        title = "the article's example" if args.model is None else os.path.basename(args.model)
        # the inputs as in the data file, before the model's scaling, for the pictures of 8x8 / 28x28 inputs
        raw = None if args.model is None else load_xy(args.data, net.sizes[0], args.target)[0]
        session = Session(net, X, Y, loss, title=title, images=True, pictures=raw)
    server = ExploreServer(session, port=args.port)
    print(server.url, flush=True)  # the first line of standard output: scripts read it
    print("chainrule explore: serving on 127.0.0.1 only; Ctrl-C stops it", file=sys.stderr, flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("chainrule explore: stopped", file=sys.stderr)
    finally:
        server.httpd.server_close()
    return 0


def _explain(args: argparse.Namespace) -> int:
    if args.plot is not None:  # a path that cannot be drawn to is refused before any work
        from .plot import picture_path

        try:
            picture_path(args.plot)
        except ChainruleError as exc:
            raise ChainruleError(f"--plot: {exc}") from None
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

        # the inputs as in the data file, before the model's scaling: 64 or 784 of them are drawn as an image
        raw = X if args.model is None else load_xy(args.data, net.sizes[0], args.target)[0]
        plot_explanation(e, args.plot, color_by_gradient=args.color_by_gradient, x=raw)
        print(f"picture written to {args.plot}", file=sys.stderr)
    if args.html:
        from .explore.export import standalone_html
        from .explore.session import Session

        page = standalone_html(Session(net, X, Y, loss), layer, j, None if args.bias else k, args.sample or 0)
        atomic_write(args.html, lambda f: f.write(page.encode("utf-8")), name="--html")
        print(f"page written to {args.html}", file=sys.stderr)
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    net, X, Y, loss = _model_and_data(args)
    result = gradcheck(net, X, Y, loss=loss, tol=args.tol, max_checks=args.max_checks, seed=args.seed)
    _show(str(result))
    return 0 if result.ok else 1


_OUTPUTS = ("model.npz", "test.npz", "loss.png")


def _fresh_folder(stem: str) -> Path:
    """Make and return the first folder ``STEM-N`` (N = 1, 2, ...) that does not exist yet.

    ``mkdir`` either makes the folder or fails because it exists, so two runs started at the same
    moment never share one.
    """
    n = 1
    while True:
        folder = Path(f"{stem}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            n += 1


def _taken(out: Path) -> list[str]:
    return [name for name in _OUTPUTS if (out / name).exists()]


def _out_folder(args: argparse.Namespace) -> tuple[Path, bool]:
    """The folder ``train`` writes into, made now, and whether this run made it.

    ``--out`` or a new ``chainrule-run-N``. A folder that already holds one of the outputs is
    refused unless ``--force``, and a path that cannot be a folder fails here, before training.
    """
    if args.out is None:
        return _fresh_folder("chainrule-run"), True
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ChainruleError(f"--out {out} is a file, not a folder; give a folder for {', '.join(_OUTPUTS)}")
    taken = _taken(out)
    if taken and not args.force:
        raise ChainruleError(
            f"--out {out} already holds {', '.join(taken)}; give another folder, or --force to overwrite them"
        )
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return out, made


class _HoldCtrlC:
    """Ctrl-C while the results are written is held until they are written (then exit 130)."""

    def __init__(self) -> None:
        self.pressed = False
        self.old: Any = None

    def __enter__(self) -> _HoldCtrlC:
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, self._press)
        return self

    def _press(self, signum: int, frame: Any) -> None:
        self.pressed = True

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)


def _training_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """X, y and a description of where they come from (saying which column is the target)."""
    if args.data is None:
        if args.target is not None:
            raise ChainruleError("--target chooses a column of a CSV given with --data; the built-in data has none")
        X, y = load_dataset(args.dataset)
        return X, y, f"the built-in {args.dataset} data"
    if args.data.lower().endswith(".csv"):
        data = read_csv(args.data, args.target)  # refuses to guess a target that may be wrong
        return data.X, data.y, f"{args.data} (target: {data.target_text})"
    X, y = load_xy(args.data, 0, args.target)
    return X, y, args.data


def _train(args: argparse.Namespace) -> int:
    out, made = _out_folder(args)  # before anything is computed: a refusal costs nothing
    try:
        return _train_into(args, out)
    except BaseException:
        if made and not any(out.iterdir()):
            out.rmdir()  # a run that wrote nothing leaves no empty folder behind
        raise


def _train_into(args: argparse.Namespace, out: Path) -> int:
    X, y, source = _training_data(args)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    classes = None
    if args.task == "classification" or (
        args.task == "auto"
        and y.ndim == 1
        and np.array_equal(y, np.round(y))
        and np.unique(y).size <= MAX_GUESSED_CLASSES
    ):
        if y.ndim != 1:
            raise ChainruleError("classification needs one target column of class labels")
        classes, y = np.unique(y, return_inverse=True)  # any labels -> 0..K-1, kept in the model file
        if classes.size < 2:
            raise ChainruleError(f"the target has a single class ({classes[0]:g}): there is nothing to learn")
    n_out = classes.size if classes is not None else (1 if y.ndim == 1 else y.shape[1])
    X_train, X_test, y_train, y_test = train_test_split(X, y, args.test_fraction, seed=args.seed)
    scaler = None
    if not args.no_scale:
        scaler = Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    loss = args.loss or ("cross_entropy" if classes is not None else "squared_error")
    fitting = LOSSES[loss].output  # the output activation the loss needs, if any
    out_act = args.output_activation or (
        fitting.name if fitting is not None else "sigmoid" if classes is not None else "identity"
    )
    sizes = [X.shape[1], *args.layers, n_out]
    net = Network(sizes, activation=args.activation, output_activation=out_act, seed=args.seed)
    if args.optimizer == "adam":
        opt = Adam(lr=args.lr or 1e-3)
    else:
        opt = SGD(lr=args.lr or 0.05, momentum=args.momentum, nesterov=args.nesterov)
    hidden = ", ".join(map(str, args.layers)) or "none"
    print(
        f"training {'-'.join(map(str, sizes))} (inputs {sizes[0]}, hidden layers {hidden}, outputs {sizes[-1]}; "
        f"{args.activation}, {out_act} output, {loss}) on {source}: {len(X_train)} training and "
        f"{len(X_test)} test samples, {args.epochs} epoch{'s' if args.epochs != 1 else ''}, {opt!r}"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)  # printed below from the History, one line each
        history = fit(
            net,
            X_train,
            y_train,
            loss=loss,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=opt,
            seed=args.seed,
            validation_fraction=args.validation_fraction,
            early_stopping=args.early_stopping,
            verbose=0 if args.quiet else 1,
        )
    for text in history.warnings:  # a loss that exploded but stayed finite
        print(f"chainrule train: warning: {text}", file=sys.stderr)
    if history.stopped and history.status not in ("diverged", "interrupted"):
        print(f"training {history.stopped}")
    with _HoldCtrlC() as ctrl_c:  # training is over: what it made is written whole before Ctrl-C counts
        result = evaluate(net, X_test, y_test, loss=loss)
        line = f"after {history.epochs} epoch{'s' if history.epochs != 1 else ''}: "
        if history.last_loss is not None:
            line += f"training loss {history.last_loss:.4g}, "
        line += f"test loss {result['loss']:.4g}"
        if "accuracy" in result:
            hits = int(round(result["accuracy"] * result["n"]))
            line += f", test accuracy {result['accuracy']:.4f} ({hits}/{result['n']})"
        print(line)
        info = {"source": source, "epochs": history.epochs, "history": history.to_dict(), "test": _jsonable(result)}
        if classes is not None:
            info["classes"] = classes.tolist()
        if scaler is not None:
            info["input_scaling"] = scaler.to_dict()
        if args.out is not None and not args.force and _taken(out):
            moved = _fresh_folder(str(out))  # another run wrote there while this one trained: never overwrite it
            print(f"chainrule train: {out} was written by another run meanwhile; saving in {moved}", file=sys.stderr)
            out = moved
        model, test_file, plot_file = (out / name for name in _OUTPUTS)
        net.save(model, loss=loss, info=info)
        # the test targets as the network sees them (class numbers 0..K-1), the inputs unscaled
        X_plain = X_test if scaler is None else X_test * scaler.scale_ + scaler.mean_
        atomic_write(test_file, lambda fh: np.savez(fh, X=X_plain, Y=y_test))
        written = [f"{model.name} (the network)", f"{test_file.name} (the test samples, unscaled)"]
        if not args.no_plot and history.loss:
            try:
                from .plot import plot_history

                # the best epoch is marked where --early-stopping kept its weights; the test loss at the epoch kept
                plot_history(history, plot_file, restore_best=args.early_stopping is not None, test=result)
                written.append(f"{plot_file.name} (the loss curve)")
            except ChainruleError as exc:
                print(f"no loss curve: {exc}", file=sys.stderr)
        print(f"saved in {out}/: {', '.join(written)}")
    if ctrl_c.pressed and history.status != "interrupted":
        print(f"chainrule train: interrupted (Ctrl-C) after training; saved in {model}", file=sys.stderr)
        return 130
    if history.status == "diverged":
        print(f"chainrule train: training {history.stopped}; saved them in {model}", file=sys.stderr)
        return 1
    if history.status == "interrupted":
        print(f"chainrule train: training {history.stopped}; saved in {model}", file=sys.stderr)
        return 130
    # the output weight that the first test sample moves most: an explanation worth reading
    dW = gradients(net, X_test[:1], y_test[:1], loss=loss).dW[net.L]
    j, k = (int(i) for i in np.unravel_index(int(np.abs(dW).argmax()), dW.shape))
    print(
        f"explain one of its weights:\n  chainrule explain --model {model} --data {test_file} "
        f"--layer {net.L} --j {j} --k {k} --sample 0\n"
        f"or any of them in the browser:\n  chainrule explore --model {model} --data {test_file}"
    )
    return 0


def _jsonable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in result.items()}


def _predict(args: argparse.Namespace) -> int:
    net, meta = load_network_and_metadata(args.model)
    if args.target is None:
        X = load_inputs(args.data, net.sizes[0])
    else:
        X, _ = load_xy(args.data, net.sizes[0], args.target)
    a = net.predict(_scaled(np.asarray(X, dtype=np.float64), meta))
    classes = net.g[net.L].name in ("softmax", "sigmoid")
    header = (["prediction"] if classes else []) + [f"a{j}" for j in range(a.shape[1])]
    print(",".join(header))
    pred = classes_of(a) if classes else None
    labels = meta.get("info", {}).get("classes")
    for i, row in enumerate(a):
        label = None if pred is None else (labels[int(pred[i])] if labels else int(pred[i]))
        cells = [f"{label:g}" if isinstance(label, float) else str(label)] if pred is not None else []
        cells += [f"{v:.6g}" for v in row]
        print(",".join(cells))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    net, X, Y, loss = _model_and_data(args)
    r = evaluate(net, X, Y, loss=loss)
    print(f"samples: {r['n']}\nloss ({loss}): {r['loss']:.6g}")
    if "accuracy" in r:
        print(f"accuracy: {r['accuracy']:.4f}\nconfusion matrix (rows: true class, columns: predicted class):")
        width = max(3, len(str(int(r["confusion"].max()))) + 1)
        print("     " + "".join(f"{j:>{width}}" for j in range(r["confusion"].shape[1])))
        for i, row in enumerate(r["confusion"]):
            print(f"{i:>4} " + "".join(f"{v:>{width}}" for v in row))
    return 0


_WORKSHEET_SUFFIX = {"markdown": ".md", "latex": ".tex"}


def _worksheet(args: argparse.Namespace) -> int:
    """Write worksheet.md and solutions.md (or .tex) into --out, atomically, refusing to overwrite
    without --force, as train does; print their paths."""
    from .practice import render_solutions, render_worksheet, worksheet

    suffix = _WORKSHEET_SUFFIX[args.format]
    names = (f"worksheet{suffix}", f"solutions{suffix}")

    def taken(folder: Path) -> list[str]:
        return [name for name in names if (folder / name).exists()]

    out = None if args.out is None else Path(args.out)
    if out is not None:  # refused before any work, as train does
        if out.exists() and not out.is_dir():
            raise ChainruleError(f"--out {out} is a file, not a folder; give a folder for {', '.join(names)}")
        if taken(out) and not args.force:
            raise ChainruleError(
                f"--out {out} already holds {', '.join(taken(out))}; give another folder, or --force to overwrite them"
            )
    problems = worksheet(args.problems, args.seed)
    title = f"Backpropagation practice (seed {args.seed}, {args.problems} problem{'s' if args.problems != 1 else ''})"
    texts = (
        render_worksheet(problems, args.format, title=f"{title}: worksheet"),
        render_solutions(problems, args.format, title=f"{title}: solutions"),
    )
    if out is None:
        out, made = _fresh_folder("chainrule-worksheet"), True
    else:
        made = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        if taken(out) and not args.force:  # another run wrote there meanwhile: never overwrite it
            raise ChainruleError(f"another run wrote {', '.join(taken(out))} into --out {out} meanwhile; left as it is")
    new = [not (out / name).exists() for name in names]
    written: list[Path] = []
    try:
        with _HoldCtrlC() as ctrl_c:  # the two files are written whole before Ctrl-C counts
            for name, text in zip(names, texts):
                data = text.encode("utf-8")
                written.append(atomic_write(out / name, lambda fh, data=data: fh.write(data)))
    except BaseException:
        for path, fresh in zip(written, new):
            if fresh:  # a worksheet without its solutions (or the reverse) is not left behind
                path.unlink(missing_ok=True)
        if made and not any(out.iterdir()):
            out.rmdir()  # a run that wrote nothing leaves no empty folder behind
        raise
    for path in written:
        print(path)
    if ctrl_c.pressed:
        print("chainrule worksheet: interrupted (Ctrl-C) after writing both files", file=sys.stderr)
        return 130
    return 0


def _add_worksheet(sub: Any) -> None:
    ws = sub.add_parser(
        "worksheet",
        formatter_class=_Help,
        help="practice problems to compute by hand, and their solutions step by step",
        description="Write N problems (a small network, one sample, one weight: compute the three chain-rule "
        "terms of dC0/dw_{j,k}^(l) and their product) to worksheet.md, and every step of their solutions to "
        "solutions.md (.tex with --format latex). The same seed gives the same problems.",
    )
    ws.add_argument("--problems", type=_number(int, 1, 1000), default=5, metavar="N", help="how many problems")
    ws.add_argument("--seed", type=_number(int, 0, 2**53 - 1), default=0, help="the same seed gives the same problems")
    ws.add_argument("--format", choices=["markdown", "latex"], default="markdown", help="Markdown or a LaTeX document")
    ws.add_argument(
        "--out",
        metavar="FOLDER",
        help="the folder for the two files (default: a new chainrule-worksheet-N in the current folder)",
    )
    ws.add_argument("--force", action="store_true", help="overwrite those files in an existing --out (default: refuse)")
    ws.set_defaults(run=_worksheet)


def _parser() -> _Parser:
    parser = _Parser(prog="chainrule", description="Backpropagation done right: compute, explain and check gradients.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, required: bool = False, loss: bool = True) -> None:
        default = "" if required else " (default: the article's example)"
        p.add_argument("--model", metavar="FILE", required=required, help="a saved model" + default)
        p.add_argument(
            "--data",
            metavar="FILE",
            required=required,
            help="X and Y: .npz with arrays X and Y, or .csv (inputs then targets, or see --target)" + default,
        )
        p.add_argument(
            "--target",
            metavar="COLUMN",
            help="the CSV's target column, by name or index (default: the columns after the model's n_0 inputs)",
        )
        if loss:
            p.add_argument("--loss", choices=sorted(LOSSES), help="default: the model's own loss, else squared_error")

    tr = sub.add_parser(
        "train",
        formatter_class=_Help,
        help="train a network and save it (default: the built-in digits)",
        description="Train by minibatch gradient descent with the article's averaged gradient; print the test "
        "accuracy; save the model, the test samples and a loss curve; print the command to explain a weight.",
    )
    tr.add_argument("--dataset", choices=sorted(DATASETS), default="digits", help="built-in data")
    tr.add_argument(
        "--data",
        metavar="FILE",
        help="your own data: .csv (see --target) or .npz with X and Y (default: the built-in --dataset)",
    )
    tr.add_argument(
        "--target",
        metavar="COLUMN",
        help="the CSV's target column, by name or index (default: the last column when the file has no header "
        "row, or when its last column holds class labels; otherwise say which)",
    )
    tr.add_argument(
        "--task",
        choices=["auto", "classification", "regression"],
        default="auto",
        help="auto: classification when the target holds at most 50 distinct whole numbers",
    )
    tr.add_argument(
        "--layers",
        type=_sizes,
        default=[64],
        metavar="N,N,...",
        help="the HIDDEN layers' sizes; the input and output layers come from the data, so --layers 64,32 on "
        "4 features and 3 classes builds 4-64-32-3 (default: 64)",
    )
    tr.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu", help="hidden activation")
    tr.add_argument("--output-activation", choices=sorted(ACTIVATIONS), help="default: the one that fits the loss")
    tr.add_argument("--loss", choices=sorted(LOSSES), help="default: cross_entropy for classes, else squared_error")
    tr.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="the update rule")
    tr.add_argument(
        "--lr", type=_number(float, 0, low_open=True), help="learning rate (default: 0.05 for sgd, 0.001 for adam)"
    )
    tr.add_argument(
        "--momentum", type=_number(float, 0, 1, high_open=True), default=0.9, help="sgd momentum, 0 <= m < 1"
    )
    tr.add_argument("--nesterov", action="store_true", help="Nesterov momentum for sgd (default: off)")
    tr.add_argument("--epochs", type=_number(int, 1), default=30, help="passes over the training samples")
    tr.add_argument("--batch-size", type=_number(int, 1), default=32, help="samples per step")
    tr.add_argument("--seed", type=_number(int, 0, 2**63 - 1), default=0, help="seed for the split, weights, order")
    tr.add_argument("--test-fraction", type=_fraction, default=0.2, help="held out for the test accuracy")
    tr.add_argument(
        "--validation-fraction", type=_fraction, help="held out of the training part for validation (default: none)"
    )
    tr.add_argument(
        "--early-stopping",
        type=_number(int, 1),
        metavar="EPOCHS",
        help="patience in epochs; restores the best weights (default: off)",
    )
    tr.add_argument("--no-scale", action="store_true", help="do not standardise the inputs (default: standardise)")
    tr.add_argument(
        "--out",
        metavar="FOLDER",
        help="the folder for model.npz, test.npz and loss.png (default: a new chainrule-run-N in the current folder)",
    )
    tr.add_argument("--force", action="store_true", help="overwrite those files in an existing --out (default: refuse)")
    tr.add_argument("--no-plot", action="store_true", help="do not draw the loss curve (default: draw it)")
    tr.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (default: a bar on a terminal, a line per epoch or every few seconds in a log)",
    )
    tr.set_defaults(run=_train)

    pr = sub.add_parser(
        "predict",
        formatter_class=_Help,
        help="a saved model's predictions, as CSV on standard output",
        description="Predict every row of a data file (a CSV of inputs alone works too).",
    )
    common(pr, required=True, loss=False)
    pr.set_defaults(run=_predict)

    ev = sub.add_parser(
        "evaluate",
        formatter_class=_Help,
        help="a saved model's loss, accuracy and confusion matrix",
        description="Evaluate a saved model on a data file with targets.",
    )
    common(ev, required=True)
    ev.set_defaults(run=_evaluate)

    ex = sub.add_parser(
        "explain",
        formatter_class=_Help,
        help="one weight's gradient as the article's three chain-rule terms",
        description="Show dC/dw_jk^(l) = dC0/da_j^(l) * g'^(l)(z_j^(l)) * a_k^(l-1) with real numbers, "
        "the mean over the samples, and the checks against backprop and finite differences.",
    )
    common(ex)
    ex.add_argument("--layer", type=int, help="the article's layer number l, 1..L (default: L)")
    ex.add_argument("--j", type=int, help="node j of layer l (default: 1, as in the article's w_12)")
    ex.add_argument("--k", type=int, help="node k of layer l-1 (default: 2, as in the article's w_12)")
    ex.add_argument(
        "--sample",
        type=int,
        help="explain only this sample (row of the data, from 0) (default: every sample, then their mean)",
    )
    ex.add_argument("--bias", action="store_true", help="explain the bias b_j^(l) instead of a weight (default: off)")
    ex.add_argument("--format", choices=["text", "markdown", "latex"], default="text", help="how to show it")
    ex.add_argument("--max-samples", type=_number(int, 1), default=5, metavar="N", help="samples shown term by term")
    ex.add_argument("--plot", metavar="FILE", help="also draw the network to FILE, .png, .svg or .pdf (default: no)")
    ex.add_argument(
        "--html",
        metavar="FILE",
        help="also write the explanation as one self-contained HTML page (the explore page, offline) (default: no)",
    )
    ex.add_argument(
        "--color-by-gradient",
        action="store_true",
        help="with --plot, colour every weight by its gradient (default: all grey)",
    )
    ex.set_defaults(run=_explain)

    xp = sub.add_parser(
        "explore",
        formatter_class=_Help,
        help="any weight's gradient in the browser: click an edge, see the three terms; train step by step",
        description="Serve the explore page on 127.0.0.1 (a random token in the URL, printed on the first line) "
        "and open it in the browser. Without --model or --dataset: the article's example network.",
    )
    common(xp)
    xp.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        help="a built-in dataset with a fresh network (see --hidden) instead of --model/--data",
    )
    xp.add_argument("--hidden", type=_sizes, default=[16], metavar="N,N", help="with --dataset: hidden layer sizes")
    xp.add_argument("--seed", type=_number(int, 0, 2**63 - 1), default=0, help="with --dataset: the initial weights")
    xp.add_argument("--port", type=_number(int, 0, 65535), default=0, help="the port (default: a free one)")
    xp.add_argument("--no-browser", action="store_true", help="print the URL only, open no browser (default: open)")
    xp.set_defaults(run=_explore)

    gc = sub.add_parser(
        "gradcheck",
        formatter_class=_Help,
        help="backprop against central finite differences",
        description="Compare every gradient with central finite differences; exit 1 above the tolerance.",
    )
    common(gc)
    gc.add_argument(
        "--tol", type=_number(float, 0, low_open=True), default=1e-5, help="largest relative error that passes"
    )
    gc.add_argument("--max-checks", type=_number(int, 1), default=2000, metavar="N", help="entries checked per array")
    gc.add_argument(
        "--seed", type=_number(int, 0, 2**63 - 1), default=0, help="seed for the random subset of large arrays"
    )
    gc.set_defaults(run=_gradcheck)
    _add_worksheet(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chainrule`` command; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        return int(args.run(args))
    except KeyboardInterrupt:
        # Ctrl-C before training starts, after it ends or outside it: files are written atomically,
        # so what was saved is whole and what was not is absent
        command = f"chainrule {args.command}" if "args" in locals() else "chainrule"
        print(f"{command}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`chainrule predict ... | head`): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"chainrule {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except ChainruleError as exc:
        print(f"chainrule {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"chainrule {args.command}: error: out of memory; try a smaller network or less data", file=sys.stderr)
        return 2


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the command and exit with its status: the console script and ``python -m chainrule``.

    Once the command has finished, a late Ctrl-C changes nothing: it is ignored, so the exit status
    is the command's (Python would otherwise end the process by the signal while it shuts down).
    """
    try:
        status = main(argv)
    except KeyboardInterrupt:  # a second Ctrl-C while the first was being reported
        status = 130
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)
