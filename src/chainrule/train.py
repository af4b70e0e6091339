"""Training: stochastic gradient descent with the article's averaged gradient.

Each step takes a minibatch, computes the mean gradient ``dC/dw`` over its samples by
backpropagation (a batch of all ``n`` samples is exactly the article's mean), and lets the
optimizer update the weights in place. :func:`fit` adds what a practitioner relies on:
seeded shuffling, validation, early stopping that restores the best weights, callbacks,
checkpoints, progress (a bar on a terminal, lines in a log, an updating line in Jupyter), and safety:

* a NaN or inf loss (or weight) stops training with the last weights that gave a finite loss
  (the initial ones when the very first step diverges), and the :class:`History` says so
  (``status == "diverged"``);
* a loss that grows far beyond its best value but stays finite raises one
  :class:`TrainingWarning` (and is recorded in ``History.warnings``);
* Ctrl-C stops after the current batch (a second one at once); either way the network keeps
  good weights, the History says ``"interrupted"``, and the previous SIGINT handler is restored.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from . import _html, article
from ._files import as_path
from ._validation import all_finite, as_bool, as_float, as_int, as_seed, check_finite
from .arrays import _to_numpy
from .backprop import _prepare
from .engine.paths import Workspace, _gradients, workspace
from .errors import ChainruleError, shown
from .losses import LOSSES, Loss
from .network import Network, classes_of, require_network
from .optim import SGD, Optimizer, get_optimizer

__all__ = ["Callback", "History", "StopTraining", "TrainingWarning", "evaluate", "fit"]

#: An epoch loss this many times the best one so far raises a :class:`TrainingWarning`.
GROWTH_FACTOR = 100.0

#: The values of :attr:`History.status`.
STATUSES = ("completed", "diverged", "interrupted", "early_stopping", "callback")


class StopTraining(Exception):
    """Raise from a callback to end training after the current batch or epoch."""


class TrainingWarning(RuntimeWarning):
    """Training went on but something looks wrong (a loss that exploded and stayed finite)."""


class Callback:
    """Hooks called by :func:`fit`; override the ones you need.

    ``logs`` holds the numbers of the moment: for a batch ``epoch``, ``batch``, ``loss``; for an
    epoch the :class:`History` row (``loss``, ``accuracy``, ``val_loss``, ...). Raise
    :class:`StopTraining` to stop.
    """

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        """After each optimizer step."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch (1-based), once the History has its row."""


@dataclass
class History:
    """Per-epoch training record; lists are indexed by epoch (the first entry is epoch 1).

    ``status`` says how training ended: ``"completed"``, ``"diverged"`` (a NaN or inf loss or
    weight), ``"interrupted"`` (Ctrl-C), ``"early_stopping"`` or ``"callback"`` (a
    :class:`StopTraining`). ``stopped`` is one line saying what happened and which weights the
    network kept (None when training completed). ``warnings`` holds the :class:`TrainingWarning`
    messages. The lists may be empty: training that diverges in its first epoch completes none.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped: str | None = None
    classification: bool = False
    status: str = "completed"
    warnings: list[str] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """The number of epochs completed."""
        return len(self.loss)

    @property
    def diverged(self) -> bool:
        """Whether training stopped on a NaN or inf loss or weight."""
        return self.status == "diverged"

    @property
    def interrupted(self) -> bool:
        """Whether training stopped on Ctrl-C (KeyboardInterrupt)."""
        return self.status == "interrupted"

    @property
    def last_loss(self) -> float | None:
        """The training loss of the last epoch completed; None when none was."""
        return self.loss[-1] if self.loss else None

    def row(self, epoch: int) -> dict[str, Any]:
        """The numbers of one epoch (1-based)."""
        i = as_int("epoch", epoch, low=1, high=max(1, self.epochs)) - 1
        if not self.loss:
            raise ChainruleError("epoch: this History has no epochs (training stopped in its first epoch)")
        out: dict[str, Any] = {"epoch": i + 1, "loss": self.loss[i], "lr": self.lr[i]}
        for name in ("accuracy", "val_loss", "val_accuracy"):
            values = getattr(self, name)
            if len(values) > i:
                out[name] = values[i]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {
            "loss": list(self.loss),
            "accuracy": list(self.accuracy),
            "val_loss": list(self.val_loss),
            "val_accuracy": list(self.val_accuracy),
            "lr": list(self.lr),
            "seconds": list(self.seconds),
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
            "status": self.status,
            "warnings": list(self.warnings),
        }

    def _repr_html_(self) -> str:
        """The History as HTML: the number of epochs and the status (with ``stopped``, the best epoch
        and any warnings), an inline SVG sparkline of the loss (and validation loss), and a table of
        every recorded number per epoch (the first and last epochs of a long run)."""
        columns = [name for name in _COLUMNS if getattr(self, name)]
        rows = [[i + 1, *(_at(getattr(self, name), i) for name in columns)] for i in range(self.epochs)]
        notes = [f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}, status {self.status}"]
        if self.stopped:
            notes.append(self.stopped)
        if self.best_epoch is not None:
            notes.append(f"best epoch {self.best_epoch}")
        curves = {name: getattr(self, name) for name in ("loss", "val_loss") if getattr(self, name)}
        return _html.block(
            _html.tag("p", _html.tag("strong", "History"), ": " + "; ".join(notes)),
            *(_html.tag("p", "warning: " + text) for text in self.warnings),
            _html.sparkline(curves),
            _html.table(["epoch", *columns], rows, max_rows=HTML_ROWS),
        )

    def _trim(self) -> None:
        """Cut the lists to the epochs fully recorded (after an interruption in the middle of a row)."""
        filled = [v for v in (self.loss, self.accuracy, self.val_loss, self.val_accuracy, self.lr, self.seconds) if v]
        n = min((len(v) for v in filled), default=0)
        for values in (self.loss, self.accuracy, self.val_loss, self.val_accuracy, self.lr, self.seconds):
            del values[n:]
        if self.best_epoch is not None and self.best_epoch > n:
            self.best_epoch = None


#: The per-epoch lists of a :class:`History`, in the order its HTML table shows them.
_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")

#: The most epochs the HTML display of a History lists (the first and the last ones).
HTML_ROWS = 20


def _at(values: list[float], i: int) -> float | None:
    """``values[i]``, or None when the list is shorter (a History filled by hand)."""
    return values[i] if i < len(values) else None


# ---------------------------------------------------------------- checks at the edge, shared with distributed.fit
def _epochs(epochs: Any) -> int:
    return as_int("epochs", epochs, low=1)


def _batch_size(batch_size: Any) -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, str):
        raise ChainruleError(f"batch_size must be a whole number >= 1 or None (all samples); got {shown(batch_size)}")
    return as_int("batch_size", batch_size, low=1)


def _optimizer(optimizer: Any) -> Optimizer:
    if optimizer is None:
        return SGD(lr=0.1)
    if not isinstance(optimizer, (str, Optimizer)):
        raise ChainruleError(
            f"optimizer must be None, 'sgd', 'adam' or an Optimizer (SGD(...), Adam(...)); "
            f"got {shown(optimizer)} ({type(optimizer).__name__})"
        )
    return get_optimizer(optimizer)


def _is_callback(obj: Any) -> bool:
    return isinstance(obj, Callback) or (
        callable(getattr(obj, "on_batch_end", None)) and callable(getattr(obj, "on_epoch_end", None))
    )


def _callbacks(callbacks: Any) -> list[Callback]:
    """A Callback, or an iterable of them, as a list."""
    if callbacks is None:
        return []
    if _is_callback(callbacks):
        return [callbacks]
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise ChainruleError(
            f"callbacks must be a Callback or a list of Callbacks; got {shown(callbacks)} ({type(callbacks).__name__})"
        )
    out = list(callbacks)
    for i, cb in enumerate(out):
        if not _is_callback(cb):
            raise ChainruleError(
                f"callbacks[{i}] must be a Callback (with on_batch_end and on_epoch_end); "
                f"got {shown(cb)} ({type(cb).__name__})"
            )
    return out


def _verbose(verbose: Any) -> int:
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return as_int("verbose", verbose, low=0)


def _checkpoint(checkpoint: Any) -> Path | None:
    """The checkpoint path, checked before any training: not a folder, in a folder that exists."""
    if checkpoint is None:
        return None
    path = as_path("checkpoint", checkpoint)
    if path.is_dir():
        raise IsADirectoryError(21, "checkpoint is a folder; give a file name to write", str(path))
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(2, "no folder for the checkpoint at this path", str(path))
    return path


# ---------------------------------------------------------------- what both training loops share
def _assign(target: Any, source: Any) -> None:
    """``target[...] = source`` in place, for NumPy's vectors and other libraries' alike."""
    if isinstance(target, np.ndarray):
        np.copyto(target, source)
    else:
        target[...] = source


def _clone(p: Any) -> Any:
    """A copy of the array ``p`` in its own library and on its device."""
    return p.copy() if isinstance(p, np.ndarray) else array_namespace(p).asarray(p, copy=True)


def _finite(p: Any) -> bool:
    """Whether every entry of the array ``p`` (of any library) is finite: a wait for its device."""
    if isinstance(p, np.ndarray):
        return all_finite(p)
    xp = array_namespace(p)
    return bool(xp.all(xp.isfinite(p)))


class _Guard:
    """The last good weights and how training ended, shared by :func:`fit` and ``distributed.fit``.

    The loop keeps ``previous``, the weights its latest step started from (the loss there was
    finite), copied before each step. Everything else here runs only at the end of an epoch or
    when training stops, never in the hot loop.
    """

    def __init__(self, net: Network, history: History, steps_per_epoch: int, restore_best: bool) -> None:
        self.params = net._flat if net._flat is not None else net._vector  # every weight and bias, as one vector
        self.previous = _clone(self.params)  # the weights the latest step started from
        self.best = _clone(self.params) if restore_best else None
        self.steps_per_epoch = steps_per_epoch
        self.history = history
        self.what: str | None = None  # what stopped training
        self.kept: str | None = None  # which weights the network holds then
        self.low = (math.inf, 0)  # the lowest epoch loss and its epoch, for the growth warning

    def _at(self, step: int) -> str:
        epoch, batch = divmod(step - 1, self.steps_per_epoch)
        return f"epoch {epoch + 1}, batch {batch + 1}"

    def _after(self, step: int) -> str:
        return "the initial weights" if step == 0 else f"the weights after {self._at(step)}"

    def diverged(self, what: str, step: int, last_loss: float) -> None:
        """Put back the weights the latest step (number ``step``, whose loss ``last_loss`` was finite) started from."""
        _assign(self.params, self.previous)
        self.history.status = "diverged"
        self.what = f"diverged: {what}"
        self.kept = (
            "the initial weights (the first step diverged)"
            if step == 0
            else f"the weights that gave the last finite loss ({last_loss:.4g} at {self._at(step)})"
        )

    def interrupted(self, where: str, done: int, pending: int) -> None:
        """Ctrl-C ``where``; ``done`` steps were made, and step ``pending`` (0: none) was under way."""
        if pending:
            _assign(self.params, self.previous)  # a step cut in the middle: the weights before it
            done = pending - 1
        if self.history.status not in ("diverged", "interrupted"):
            self.history.status = "interrupted"
            self.what = f"interrupted (Ctrl-C) {where}"
            self.kept = self._after(done)

    def stopped(self, status: str, what: str) -> None:
        """Early stopping, or a callback's StopTraining."""
        self.history.status, self.what = status, what

    def improved(self, epoch: int) -> None:
        """``epoch`` is the best so far: keep its weights (before saying so, in case of Ctrl-C in between)."""
        if self.best is not None:
            _assign(self.best, self.params)
        self.history.best_epoch = epoch

    def epoch_loss(self, epoch: int, loss: float) -> None:
        """Warn once per fit when the epoch loss exceeds ``GROWTH_FACTOR`` times its lowest value so far
        (and the first epoch's): an exploding loss that stays finite."""
        low, at = self.low
        if loss < low:
            self.low = (loss, epoch)
        elif loss > GROWTH_FACTOR * low and loss > self.history.loss[0] and not self.history.warnings:
            message = (
                f"the training loss grew from {low:.3g} (epoch {at}) to {loss:.3g} (epoch {epoch}), "
                f"more than {GROWTH_FACTOR:g}-fold: the learning rate is probably too large"
            )
            self.history.warnings.append(message)
            warnings.warn(message, TrainingWarning, stacklevel=4)  # the caller of fit

    def finish(self) -> None:
        """Restore the best epoch's weights (with ``restore_best``) and write ``History.stopped``;
        may run again (after a late Ctrl-C)."""
        h = self.history
        kept = self.kept
        if self.best is not None and h.best_epoch is not None:
            _assign(self.params, self.best)
            kept = f"the weights of epoch {h.best_epoch} (the best)"
        if self.what is None:
            return
        h.stopped = self.what if kept is None else f"{self.what}; {kept} are kept"
        if h.status == "diverged":
            h.stopped += " (try a smaller learning rate)"


def _where(phase: int, epoch: int, b: int) -> str:
    """Where training was, for a message: in batch ``b + 1`` of ``epoch`` (phase 1), at its end (2), or before."""
    if phase == 1:
        return f"at epoch {epoch}, batch {b + 1}"
    return f"at the end of epoch {epoch}" if phase == 2 else "before the first epoch"


def _save_checkpoint(net: Network, path: Path, loss: Loss, info: dict[str, Any]) -> None:
    """Write a checkpoint, never of non-finite weights."""
    if _finite(net._flat if net._flat is not None else net._vector):
        net.save(path, loss=loss.name, info=info)


def _is_classification(Y_raw: Any, Y: np.ndarray) -> bool:
    """Class labels, or one-hot rows (or 0/1 targets for one output)."""
    ndim = Y_raw.ndim if hasattr(Y_raw, "ndim") else np.ndim(Y_raw)
    if ndim == 1 and Y.shape[1] > 1:
        return True  # labels, made one-hot
    if Y.shape[1] == 1:
        return bool(np.isin(Y, (0, 1)).all())
    return bool(np.isin(Y, (0, 1)).all() and (Y.sum(axis=1) == 1).all())


def _hits(output: Any, Y: Any) -> int:
    """How many rows are classified right (outputs and targets of any one array library, counted there)."""
    right = classes_of(output) == classes_of(Y)
    if isinstance(right, np.ndarray):
        return int(np.count_nonzero(right))
    xp = array_namespace(right)
    return int(xp.sum(xp.astype(right, xp.int64)))


def evaluate(net: Network, X: Any, Y: Any, loss: str | Loss = "squared_error") -> dict[str, Any]:
    """The cost, and for class targets the accuracy and the confusion matrix (rows: true class,
    columns: predicted class).

    >>> net = Network.from_weights([[[1.0], [-1.0]]], [[0.0, 0.0]], activation="softmax")
    >>> r = evaluate(net, [[2.0], [-1.0], [3.0]], [0, 1, 1], loss="cross_entropy")
    >>> r["accuracy"], r["confusion"].tolist()
    (0.6666666666666666, [[1, 0], [1, 1]])
    """
    Xv, Yv, loss_, _ = _prepare(net, X, Y, loss, arrays=True)
    if net._flat is None:  # another library: the pass and the loss computed there, the classes counted here
        trace, xp = net.forward(Xv), net.xp
        out: dict[str, Any] = {
            "loss": float(xp.mean(loss_.C0_xp(trace.output, Yv, trace.z[net.L], xp))),
            "n": Xv.shape[0],
        }
        a, Yv = _to_numpy(trace.output), _to_numpy(Yv)  # (n, n_L): small beside the pass
    else:
        z, a = net._output(Xv, check=True)  # one forward pass serves the loss and the classes
        with np.errstate(over="ignore"):  # a huge but finite loss may sum to inf: that is the answer, not a warning
            out = {"loss": float(loss_.C0(a, Yv, z).mean()), "n": Xv.shape[0]}
    if _is_classification(Y, Yv):
        pred, true, k = classes_of(a), classes_of(Yv), max(2, Yv.shape[1])
        confusion = np.zeros((k, k), dtype=np.int64)
        np.add.at(confusion, (true, pred), 1)
        out["accuracy"] = float((pred == true).mean())
        out["confusion"] = confusion
    return out


#: Where standard error is no terminal (a log file, a pipe), at most one progress line per this many
#: seconds; the first epoch's line and the last one's always appear.
LOG_EVERY = 5.0

#: In a notebook, at most one update of the progress display per this many seconds (the last always).
NOTEBOOK_EVERY = 0.25


def _in_notebook() -> bool:
    """Whether this runs in an IPython kernel (Jupyter, VS Code, ...): rich output but no terminal."""
    if "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    try:
        shell = get_ipython() if callable(get_ipython) else None
    except Exception:  # noqa: BLE001 - an IPython that cannot say: no notebook display then
        return False
    return getattr(shell, "kernel", None) is not None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


def _duration(seconds: float) -> str:
    """``12.3s``, ``4m05s`` or ``1h02m03s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _numbers(row: dict[str, Any]) -> str:
    """An epoch's numbers as ``loss 0.1234  accuracy 0.9`` (all but the epoch and the learning rate)."""
    return "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "lr"))


def _line(epochs: int, row: dict[str, Any] | None, elapsed: float) -> str:
    """``epoch  3/10  loss 0.1234  accuracy 0.9  elapsed 1.2s``: one epoch's progress in words."""
    done = 0 if row is None else row["epoch"]
    numbers = "" if row is None else f"  {_numbers(row)}"
    return f"epoch {done:>{len(str(epochs))}}/{epochs}{numbers}  elapsed {_duration(elapsed)}"


class _Bar:
    """A rich progress bar on the terminal ``stream``."""

    every = 0.0  # rich redraws at most ten times a second by itself

    def __init__(self, epochs: int, stream: Any) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("epoch {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
            # prints during training go above the bar when they share its terminal, else where they were going
            redirect_stdout=_isatty(sys.stdout),
        )
        self.task = self.bar.add_task("", total=epochs)
        self.bar.start()

    def show(self, row: dict[str, Any], elapsed: float) -> None:
        self.bar.update(self.task, completed=row["epoch"], description=_numbers(row))

    def close(self) -> None:
        self.bar.stop()


class _Lines:
    """A plain line per shown epoch on ``stream`` (a log file, a pipe), flushed at once."""

    def __init__(self, epochs: int, stream: Any) -> None:
        self.epochs, self.stream = epochs, stream

    @property
    def every(self) -> float:
        return LOG_EVERY

    def show(self, row: dict[str, Any], elapsed: float) -> None:
        print(_line(self.epochs, row, elapsed), file=self.stream, flush=True)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _NotebookView:
    """What the notebook display holds: an HTML ``<progress>`` bar and the line of :class:`_Lines`
    (the line alone where only plain text is shown)."""

    epochs: int
    row: dict[str, Any] | None
    elapsed: float

    def __repr__(self) -> str:
        return _line(self.epochs, self.row, self.elapsed)

    def _repr_html_(self) -> str:
        done = 0 if self.row is None else self.row["epoch"]
        return _html.block(_html.tag("progress", value=done, max=self.epochs), " ", repr(self))


class _Notebook:
    """One output of the running Jupyter cell, replaced in place through an IPython display handle."""

    def __init__(self, epochs: int) -> None:
        from IPython.display import display

        self.epochs = epochs
        self.handle = display(_NotebookView(epochs, None, 0.0), display_id=True)
        if self.handle is None:
            raise ImportError("IPython gave no display handle")

    @property
    def every(self) -> float:
        return NOTEBOOK_EVERY

    def show(self, row: dict[str, Any], elapsed: float) -> None:
        self.handle.update(_NotebookView(self.epochs, row, elapsed))

    def close(self) -> None:
        pass


def _view(epochs: int, stream: Any) -> _Bar | _Lines | _Notebook | None:
    """How progress is shown: in place in a notebook, as a bar on a terminal, else as lines on ``stream``."""
    if _in_notebook():
        try:
            return _Notebook(epochs)
        except ImportError:
            pass
    if stream is None:  # no standard error at all (pythonw)
        return None
    if _isatty(stream):
        try:
            return _Bar(epochs, stream)
        except ImportError:
            pass
    return _Lines(epochs, stream)


class _Progress:
    """What ``verbose > 0`` shows while training, wherever it runs:

    * standard error a terminal: a rich progress bar over the epochs;
    * an IPython kernel (Jupyter): one output that updates in place, at most every
      :data:`NOTEBOOK_EVERY` seconds;
    * anything else (a log file, a pipe): a plain line per epoch on standard error, at most one every
      :data:`LOG_EVERY` seconds when epochs are fast.

    The first epoch and the last one recorded are always shown, also when training stops early.
    ``stream`` (standard error by default) and ``clock`` are there for tests.
    """

    def __init__(
        self, epochs: int, verbose: int, *, stream: Any = None, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.epochs, self.clock = epochs, clock
        self.start = clock()
        self.shown = -math.inf  # when the display last changed
        self.pending: dict[str, Any] | None = None  # the latest epoch not shown yet
        self.view = _view(epochs, sys.stderr if stream is None else stream) if verbose else None

    def update(self, row: dict[str, Any]) -> None:
        """Epoch ``row["epoch"]`` is done: show it now, or later if the last display was too recent."""
        if self.view is None:
            return
        self.pending = row
        now = self.clock()
        if now - self.shown >= self.view.every or row["epoch"] >= self.epochs:
            self._show(now)

    def _show(self, now: float) -> None:
        if self.pending is not None and self.view is not None:
            self.view.show(self.pending, now - self.start)
            self.pending, self.shown = None, now

    def close(self) -> None:
        """Show the last epoch if it is not shown yet, and end the display."""
        if self.view is not None:
            self._show(self.clock())
            self.view.close()
            self.view = None


class _Interrupt:
    """Turns the first Ctrl-C into a flag checked after each batch (a second one interrupts at once).

    On exit the SIGINT handler in place before is put back, whatever happened.
    """

    def __init__(self) -> None:
        self.flag = False
        self.old: Any = None
        self.installed = False

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self.old = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.flag:
            raise KeyboardInterrupt
        self.flag = True

    def __exit__(self, *exc: Any) -> None:
        if self.installed:
            # None: a handler not set from Python, which cannot be put back; Python's default then
            signal.signal(signal.SIGINT, signal.default_int_handler if self.old is None else self.old)
            self.installed = False


def fit(
    net: Network,
    X: Any,
    Y: Any,
    *,
    loss: str | Loss = "squared_error",
    epochs: int = 10,
    batch_size: int | None = 32,
    optimizer: Optimizer | str | None = None,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = 0,
    validation_data: tuple[Any, Any] | None = None,
    validation_fraction: float | None = None,
    early_stopping: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool | None = None,
    callbacks: Any = (),
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1,
    verbose: int = 1,
) -> History:
    """Train ``net`` in place by minibatch gradient descent; returns the :class:`History`.

    Parameters
    ----------
    net, X, Y, loss
        As for :func:`~chainrule.gradients`.
    epochs : int
        Passes over the training samples.
    batch_size : int or None
        Samples per step; None (or ``n``) uses all samples: the article's full mean.
    optimizer : Optimizer, "sgd" or "adam"
        Default ``SGD(lr=0.1)``.
    shuffle, seed
        Shuffle the sample order every epoch with a generator seeded by ``seed``; the same seed
        and data give bit-identical weights.
    validation_data : (X_val, Y_val), optional
    validation_fraction : float, optional
        Hold out this fraction of ``X, Y`` (a seeded random part) for validation instead.
    early_stopping : int, optional
        Stop when the validation loss (or the training loss, without validation) has not
        improved by ``min_delta`` for this many epochs.
    restore_best : bool
        End with the weights of the best epoch (default: True with early stopping).
    callbacks : Callback or a list of them
    checkpoint : path, optional
        Save the network there (atomically) every ``checkpoint_every`` epochs and at the end;
        never with a NaN or inf weight.
    verbose : int
        0: silent. 1: progress: a bar when standard error is a terminal; in Jupyter one output
        updated in place; otherwise (a log file, a pipe) a line per epoch on standard error with
        the epoch, its numbers and the time elapsed, at most one every 5 seconds (the first and
        the last epoch's always).

    Training never ends with NaN or inf weights. When the loss (training or validation) or a
    weight becomes NaN or inf, training stops with the last weights that gave a finite loss (the
    initial ones if the first step diverged; the best epoch's with ``restore_best``), and
    ``History.status`` is ``"diverged"``. Ctrl-C (or a KeyboardInterrupt from a callback) stops
    it with ``status == "interrupted"`` and whole steps' weights; the History records whole epochs
    only. ``History.stopped`` says which weights were kept. An epoch loss that grows over 100-fold
    beyond its lowest value warns once (:class:`TrainingWarning`, also in ``History.warnings``).
    """
    require_network(net, arrays=True)
    n_epochs = _epochs(epochs)
    bs_arg = _batch_size(batch_size)
    opt = _optimizer(optimizer)
    shuffle = as_bool("shuffle", shuffle)
    rng = as_seed("seed", seed)
    if validation_data is not None and (
        isinstance(validation_data, (str, bytes))
        or not isinstance(validation_data, (tuple, list))
        or len(validation_data) != 2
    ):
        raise ChainruleError(
            f"validation_data must be a pair (X_val, Y_val); got {shown(validation_data)} "
            f"({type(validation_data).__name__})"
        )
    if validation_fraction is not None:
        validation_fraction = as_float(
            "validation_fraction", validation_fraction, low=0, high=1, low_open=True, high_open=True
        )
    if validation_data is not None and validation_fraction is not None:
        raise ChainruleError("give validation_data or validation_fraction, not both")
    patience = (
        None if early_stopping is None else as_int("early_stopping (the patience in epochs)", early_stopping, low=1)
    )
    min_delta = as_float("min_delta", min_delta, low=0)
    restore_best = patience is not None if restore_best is None else as_bool("restore_best", restore_best)
    cbs = _callbacks(callbacks)
    checkpoint_path = _checkpoint(checkpoint)
    every = as_int("checkpoint_every", checkpoint_every, low=1)
    verbose = _verbose(verbose)
    if net._flat is None:  # parameters of another array library: the article's gradients, in it
        loss_, classification, n, batch, step, validate = _other_library_steps(
            net, X, Y, loss, opt, rng, validation_data, validation_fraction
        )
    else:
        Xt, Yt, loss_, _ = _prepare(net, X, Y, loss)
        classification = _is_classification(Y, Yt)
        Xv = Yv = None
        if validation_fraction is not None:
            held, kept = _validation_rows(Xt.shape[0], validation_fraction, rng)
            Xv, Yv, Xt, Yt = Xt[held], Yt[held], Xt[kept], Yt[kept]
        elif validation_data is not None:
            try:
                Xv, Yv, _, _ = _prepare(net, validation_data[0], validation_data[1], loss_)
            except ChainruleError as exc:
                raise ChainruleError(f"validation_data: {exc}") from None
        check_finite("X", Xt)
        if Xv is not None:
            check_finite("validation X", Xv)
        net.check()
        n = Xt.shape[0]

        spaces: dict[int, Workspace] = {}  # buffers per batch size, reused by every step
        labels = classes_of(Yt) if classification else None  # each sample's class, for the accuracy
        current: list[Workspace] = []  # the workspace of the batch whose gradient is computed

        def batch(idx: np.ndarray) -> tuple[float, int]:
            space = spaces.get(len(idx))
            if space is None:
                space = spaces[len(idx)] = workspace(net, len(idx))
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught by the loop
                g = _gradients(net, Xt[idx], Yt[idx], loss_, per_sample=False, w=None, out=space, teach=False)
            current[:] = [space]
            a_L = space.za[-1][1]
            hits = int(np.count_nonzero(classes_of(a_L) == labels[idx])) if labels is not None else 0
            return g.C, hits

        def step() -> None:
            opt.step_flat(net, current[0].flat)

        def validate() -> dict[str, float]:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught by the loop
                r = evaluate(net, Xv, Yv, loss_)
            return {"val_loss": r["loss"], **({"val_accuracy": r["accuracy"]} if classification else {})}

        validate = None if Xv is None else validate  # type: ignore[assignment]
    if checkpoint_path is not None and LOSSES.get(loss_.name) is None:
        raise ChainruleError(
            f"checkpoint: a model file names its loss, and {shown(loss_.name)} ({type(loss_).__name__}) is not one "
            f"of chainrule's losses ({', '.join(sorted(LOSSES))}); train without a checkpoint and save the network"
        )
    return _train_loop(
        net,
        opt,
        History(classification=classification),
        n=n,
        bs=n if bs_arg is None else min(bs_arg, n),
        epochs=n_epochs,
        order=(lambda: rng.permutation(n)) if shuffle else (lambda: np.arange(n)),
        batch=batch,
        step=step,
        validate=validate,
        restore_best=restore_best,
        min_delta=min_delta,
        patience=patience,
        checkpoint=None if checkpoint_path is None else (checkpoint_path, loss_, every),
        callbacks=cbs,
        verbose=verbose,
    )


def _validation_rows(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The rows held out for validation (a seeded random ``fraction`` of ``n``) and the rows kept to train on."""
    n_val = int(round(n * fraction))
    if not 1 <= n_val < n:
        raise ChainruleError(f"validation_fraction {fraction} of {n} samples leaves an empty part")
    order = rng.permutation(n)
    return order[:n_val], order[n_val:]


def _other_library_steps(
    net: Any,
    X: Any,
    Y: Any,
    loss: str | Loss,
    opt: Optimizer,
    rng: np.random.Generator,
    validation_data: Any,
    validation_fraction: float | None,
) -> tuple[Loss, bool, int, Callable, Callable, Callable | None]:
    """What :func:`fit`'s loop needs for a network of another array library (:mod:`chainrule.arrays`):
    the loss, whether it classifies, the number of training rows, and ``batch`` (each batch's gradient
    by :func:`chainrule.article.gradients`, in that library and on its device), ``step`` (the
    optimizer steps the network's own parameter vector there) and ``validate`` (None without validation)."""
    Xt, Yt, loss_, _ = _prepare(net, X, Y, loss, arrays=True)
    classification = _is_classification(Y, _to_numpy(Yt))  # as the NumPy branch decides it
    xp = net.xp
    Xv = Yv = None
    if validation_fraction is not None:
        held, kept = (xp.asarray(r, device=net.device) for r in _validation_rows(Xt.shape[0], validation_fraction, rng))
        Xv, Yv = xp.take(Xt, held, axis=0), xp.take(Yt, held, axis=0)
        Xt, Yt = xp.take(Xt, kept, axis=0), xp.take(Yt, kept, axis=0)
    elif validation_data is not None:
        Xv = net.inputs(validation_data[0], "validation X")
        Yv = net.targets(validation_data[1], Xv.shape[0])
    Ws, bs_, gs = net.W.to_list(), None if net.b is None else net.b.to_list(), net.g.to_list()
    current: list[Any] = []

    def batch(idx: np.ndarray) -> tuple[float, int]:
        rows = xp.asarray(idx, device=net.device)
        Xb, Yb = xp.take(Xt, rows, axis=0), xp.take(Yt, rows, axis=0)
        g = article.gradients(Ws, bs_, gs, Xb, Yb, loss_)
        current[:] = [net.flat_gradient(g.dW, g.db)]
        return float(g.C), _hits(g.a[-1], Yb) if classification else 0

    def step() -> None:
        opt.step_flat(net, current[0])

    def validate() -> dict[str, float]:
        g = article.gradients(Ws, bs_, gs, Xv, Yv, loss_)
        row = {"val_loss": float(g.C)}
        if classification:
            row["val_accuracy"] = _hits(g.a[-1], Yv) / Xv.shape[0]
        return row

    return loss_, classification, Xt.shape[0], batch, step, None if Xv is None else validate


def _train_loop(
    net: Network,
    opt: Optimizer,
    history: History,
    *,
    n: int,
    bs: int,
    epochs: int,
    order: Callable[[], np.ndarray],
    batch: Callable[[np.ndarray], tuple[float, int]],
    step: Callable[[], None],
    callbacks: list[Callback],
    verbose: int,
    validate: Callable[[], dict[str, float]] | None = None,
    restore_best: bool = False,
    min_delta: float = 0.0,
    patience: int | None = None,
    checkpoint: tuple[Path, Loss, int] | None = None,
) -> History:
    """The training loop of :func:`fit` and ``distributed.fit``: epochs of minibatch steps, the
    History, the best epoch, early stopping, checkpoints, callbacks and every way training stops.

    Each epoch visits the samples in ``order()``, ``bs`` at a time: ``batch(rows)`` computes the
    mean gradient of those rows (in memory or on a cluster) and returns their mean loss and correct
    classifications; ``step()`` lets the optimizer apply that gradient. ``validate()`` (optional)
    gives an epoch's validation numbers; the monitored loss is the validation loss when there is
    one, else the training loss. ``checkpoint`` is ``(path, loss, every)``.
    """
    guard = _Guard(net, history, -(-n // bs), restore_best)
    params, previous = guard.params, guard.previous
    best_value = math.inf
    wait = done_steps = pending = 0
    last_loss = math.nan
    epoch = b = phase = 0  # phase 1: in the batches of an epoch; 2: at its end (for messages only)
    with _Interrupt() as interrupt:
        progress = None
        try:
            progress = _Progress(epochs, verbose)
            for epoch in range(1, epochs + 1):
                start = time.perf_counter()
                opt.set_epoch(epoch - 1)
                rows = order()
                total = hits = 0.0
                b, phase = 0, 1
                for b, first in enumerate(range(0, n, bs)):
                    idx = rows[first : first + bs]
                    C, right = batch(idx)
                    if not math.isfinite(C):
                        guard.diverged(f"the loss became {C} at epoch {epoch}, batch {b + 1}", done_steps, last_loss)
                        break
                    last_loss = C
                    total += C * len(idx)
                    hits += right
                    _assign(previous, params)
                    pending = done_steps + 1
                    with np.errstate(over="ignore", invalid="ignore"):
                        step()
                    done_steps += 1
                    pending = 0
                    if not _finite(params):
                        guard.diverged(
                            f"a weight became NaN or inf in the step of epoch {epoch}, batch {b + 1}",
                            done_steps,
                            last_loss,
                        )
                        break
                    for cb in callbacks:
                        cb.on_batch_end(done_steps, {"epoch": epoch, "batch": b + 1, "loss": C})
                    if interrupt.flag:
                        guard.interrupted(_where(1, epoch, b), done_steps, 0)
                        break
                if history.status in ("diverged", "interrupted"):  # a part epoch is no epoch: not recorded
                    break
                phase = 2
                done = min(n, (b + 1) * bs)
                row: dict[str, Any] = {"loss": total / done}
                if not math.isfinite(row["loss"]):  # finite batch losses whose sum overflows
                    guard.diverged(f"the mean loss of epoch {epoch} became {row['loss']}", done_steps, last_loss)
                    break
                if history.classification:
                    row["accuracy"] = hits / done
                if validate is not None:
                    row.update(validate())
                    if not math.isfinite(row["val_loss"]):
                        guard.diverged(
                            f"the validation loss became {row['val_loss']} at epoch {epoch}", done_steps, last_loss
                        )
                        break
                for name, value in row.items():
                    getattr(history, name).append(value)
                history.lr.append(opt.current_lr)
                history.seconds.append(time.perf_counter() - start)
                guard.epoch_loss(epoch, row["loss"])
                monitored = row["val_loss"] if validate is not None else row["loss"]
                if monitored < best_value - min_delta:
                    best_value, wait = monitored, 0
                    guard.improved(epoch)
                else:
                    wait += 1
                row = history.row(epoch)
                progress.update(row)
                if checkpoint is not None and epoch % checkpoint[2] == 0:
                    _save_checkpoint(net, checkpoint[0], checkpoint[1], {"epoch": epoch, **_floats(row)})
                try:
                    for cb in callbacks:
                        cb.on_epoch_end(epoch, row)
                except StopTraining as exc:
                    guard.stopped(
                        "callback", f"stopped by a callback at epoch {epoch}" + (f": {exc}" if str(exc) else "")
                    )
                if interrupt.flag:
                    guard.interrupted(_where(2, epoch, b), done_steps, 0)
                if history.status != "completed":
                    break
                if patience is not None and wait >= patience:
                    guard.stopped(
                        "early_stopping",
                        f"early stopping at epoch {epoch}: no improvement for {patience} epochs "
                        f"(best epoch {history.best_epoch})",
                    )
                    break
        except StopTraining as exc:
            guard.stopped(
                "callback", f"stopped by a callback {_where(phase, epoch, b)}" + (f": {exc}" if str(exc) else "")
            )
        except KeyboardInterrupt:
            history._trim()
            guard.interrupted(_where(phase, epoch, b), done_steps, pending)
        finally:
            if progress is not None:
                progress.close()
        if history.status == "diverged":
            opt.reset()  # its momenta saw the NaN or inf: a later fit with this optimizer starts clean
        try:
            guard.finish()
            if interrupt.flag:
                guard.interrupted("at the end of training", done_steps, 0)
                guard.finish()
            if checkpoint is not None:
                info = {"epoch": history.epochs, "status": history.status, "stopped": history.stopped}
                _save_checkpoint(net, checkpoint[0], checkpoint[1], info)
        except KeyboardInterrupt:  # a second Ctrl-C while saving: the checkpoint file is the previous one, whole
            guard.interrupted("while saving the checkpoint", done_steps, 0)
            guard.finish()
    return history


def _floats(row: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in row.items()}
