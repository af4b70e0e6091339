"""Training: stochastic gradient descent with the article's averaged gradient.

Each step takes a minibatch, computes the mean gradient ``dC/dw`` over its samples by
backpropagation (a batch of all ``n`` samples is exactly the article's mean), and lets the
optimizer update the weights in place. :func:`fit` adds what a practitioner relies on:
seeded shuffling, validation, early stopping that restores the best weights, callbacks,
checkpoints, a progress bar, and safety: a NaN or inf loss stops training with the last good
weights kept, and Ctrl-C stops after the current batch.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import all_finite, check_finite
from .backprop import Workspace, _gradients, _prepare, workspace
from .errors import ChainruleError
from .losses import Loss
from .network import Network, classes_of, require_network
from .optim import SGD, Optimizer, get_optimizer

__all__ = ["Callback", "History", "StopTraining", "evaluate", "fit"]


class StopTraining(Exception):
    """Raise from a callback to end training after the current batch or epoch."""


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
    """Per-epoch training record; lists are indexed by epoch (the first entry is epoch 1)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped: str | None = None
    classification: bool = False

    @property
    def epochs(self) -> int:
        """The number of epochs completed."""
        return len(self.loss)

    def row(self, epoch: int) -> dict[str, Any]:
        """The numbers of one epoch (1-based)."""
        i = epoch - 1
        out: dict[str, Any] = {"epoch": epoch, "loss": self.loss[i], "lr": self.lr[i]}
        for name in ("accuracy", "val_loss", "val_accuracy"):
            values = getattr(self, name)
            if values:
                out[name] = values[i]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "lr": self.lr,
            "seconds": self.seconds,
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
        }


def _is_classification(Y_raw: Any, Y: np.ndarray) -> bool:
    """Class labels, or one-hot rows (or 0/1 targets for one output)."""
    raw = np.asarray(Y_raw)
    if raw.ndim == 1 and Y.shape[1] > 1:
        return True  # labels, made one-hot
    if Y.shape[1] == 1:
        return bool(np.isin(Y, (0, 1)).all())
    return bool(np.isin(Y, (0, 1)).all() and (Y.sum(axis=1) == 1).all())


def _hits(output: np.ndarray, Y: np.ndarray) -> int:
    """How many rows are classified right."""
    return int(np.count_nonzero(classes_of(output) == classes_of(Y)))


def evaluate(net: Network, X: Any, Y: Any, loss: str | Loss = "squared_error") -> dict[str, Any]:
    """The cost, and for class targets the accuracy and the confusion matrix (rows: true class,
    columns: predicted class).

    >>> net = Network.from_weights([[[1.0], [-1.0]]], [[0.0, 0.0]], activation="softmax")
    >>> r = evaluate(net, [[2.0], [-1.0], [3.0]], [0, 1, 1], loss="cross_entropy")
    >>> r["accuracy"], r["confusion"].tolist()
    (0.6666666666666666, [[1, 0], [1, 1]])
    """
    Xv, Yv, loss_, _ = _prepare(net, X, Y, loss)
    z, a = net._output(Xv, check=True)  # one forward pass serves the loss and the classes
    out: dict[str, Any] = {"loss": float(loss_.C0(a, Yv, z).mean()), "n": Xv.shape[0]}
    if _is_classification(Y, Yv):
        pred, true, k = classes_of(a), classes_of(Yv), max(2, Yv.shape[1])
        confusion = np.zeros((k, k), dtype=np.int64)
        np.add.at(confusion, (true, pred), 1)
        out["accuracy"] = float((pred == true).mean())
        out["confusion"] = confusion
    return out


class _Progress:
    """A rich progress bar over epochs, shown only on a terminal and with verbose > 0."""

    def __init__(self, epochs: int, verbose: int) -> None:
        self.bar = None
        if verbose and sys.stderr.isatty():
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
            except ImportError:
                return
            self.bar = Progress(
                TextColumn("epoch {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("{task.description}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.task = self.bar.add_task("", total=epochs)
            self.bar.start()

    def update(self, row: dict[str, Any]) -> None:
        if self.bar is not None:
            text = "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "lr"))
            self.bar.update(self.task, advance=1, description=text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _Interrupt:
    """Turns the first Ctrl-C into a flag checked after each batch (a second one interrupts at once)."""

    def __init__(self) -> None:
        self.flag = False
        self.old: Any = None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.flag:
            raise KeyboardInterrupt
        self.flag = True

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)


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
        Save the network there (atomically) every ``checkpoint_every`` epochs and at the end.
    verbose : int
        0: silent. 1: a progress bar when standard error is a terminal.
    """
    require_network(net)
    if int(epochs) < 1:
        raise ChainruleError(f"epochs must be >= 1, got {epochs}")
    if early_stopping is not None and int(early_stopping) < 1:
        raise ChainruleError(f"early_stopping (the patience in epochs) must be >= 1, got {early_stopping}")
    if validation_data is not None and validation_fraction is not None:
        raise ChainruleError("give validation_data or validation_fraction, not both")
    opt = SGD(lr=0.1) if optimizer is None else get_optimizer(optimizer)
    rng = np.random.default_rng(seed)
    Xt, Yt, loss_, _ = _prepare(net, X, Y, loss)
    classification = _is_classification(Y, Yt)
    Xv = Yv = None
    if validation_fraction is not None:
        if not 0 < validation_fraction < 1:
            raise ChainruleError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
        n_val = int(round(Xt.shape[0] * validation_fraction))
        if not 1 <= n_val < Xt.shape[0]:
            raise ChainruleError(
                f"validation_fraction {validation_fraction} of {Xt.shape[0]} samples leaves an empty part"
            )
        order = rng.permutation(Xt.shape[0])
        Xv, Yv, Xt, Yt = Xt[order[:n_val]], Yt[order[:n_val]], Xt[order[n_val:]], Yt[order[n_val:]]
    elif validation_data is not None:
        Xv, Yv, _, _ = _prepare(net, validation_data[0], validation_data[1], loss_)
    check_finite("X", Xt)
    if Xv is not None:
        check_finite("validation X", Xv)
    net.check()
    n = Xt.shape[0]
    bs = n if batch_size is None else int(batch_size)
    if bs < 1:
        raise ChainruleError(f"batch_size must be >= 1 or None, got {batch_size}")
    bs = min(bs, n)
    cbs = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
    if early_stopping is not None and restore_best is None:
        restore_best = True

    params = net._flat  # every weight and bias, as one vector
    previous = params.copy()  # the parameters before the latest step
    best = params.copy() if restore_best else None
    spaces: dict[int, Workspace] = {}  # buffers per batch size, reused by every step
    labels = classes_of(Yt) if classification else None  # each sample's class, for the accuracy
    best_value = np.inf
    wait = 0
    history = History(classification=classification)
    progress = _Progress(int(epochs), verbose)
    step = 0
    try:
        with _Interrupt() as interrupt:
            for epoch in range(1, int(epochs) + 1):
                start = time.perf_counter()
                opt.set_epoch(epoch - 1)
                order = rng.permutation(n) if shuffle else np.arange(n)
                total = hits = 0.0
                for b, first in enumerate(range(0, n, bs)):
                    idx = order[first : first + bs]
                    Xb, Yb = Xt[idx], Yt[idx]
                    space = spaces.get(len(idx))
                    if space is None:
                        space = spaces[len(idx)] = workspace(net, len(idx))
                    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught below
                        g = _gradients(net, Xb, Yb, loss_, per_sample=False, w=None, fused=True, out=space, teach=False)
                    if not np.isfinite(g.C):
                        history.stopped = (
                            f"diverged: the loss became {g.C} at epoch {epoch}, batch {b + 1}; "
                            "the weights of the last step with a finite loss are kept (try a smaller learning rate)"
                        )
                        break
                    total += g.C * len(idx)
                    if labels is not None:
                        hits += int(np.count_nonzero(classes_of(space.za[-1][1]) == labels[idx]))  # a^(L)
                    np.copyto(previous, params)
                    with np.errstate(over="ignore", invalid="ignore"):
                        opt.step_flat(net, space.flat)
                    step += 1
                    if not all_finite(params):
                        np.copyto(params, previous)
                        history.stopped = (
                            f"diverged: a weight became NaN or inf at epoch {epoch}, batch {b + 1}; "
                            "the weights before that step are kept (try a smaller learning rate)"
                        )
                        break
                    for cb in cbs:
                        cb.on_batch_end(step, {"epoch": epoch, "batch": b + 1, "loss": g.C})
                    if interrupt.flag:
                        history.stopped = f"interrupted (Ctrl-C) at epoch {epoch}, batch {b + 1}; the weights are kept"
                        break
                if history.stopped and history.stopped.startswith("diverged: the loss"):
                    np.copyto(params, previous)
                if history.stopped and not history.stopped.startswith("interrupted"):
                    break
                history.loss.append(total / max(1, min(n, (b + 1) * bs)))
                if classification:
                    history.accuracy.append(hits / max(1, min(n, (b + 1) * bs)))
                if Xv is not None:
                    r = evaluate(net, Xv, Yv, loss_)
                    history.val_loss.append(r["loss"])
                    if classification:
                        history.val_accuracy.append(r["accuracy"])
                history.lr.append(opt.current_lr)
                history.seconds.append(time.perf_counter() - start)
                monitored = history.val_loss[-1] if Xv is not None else history.loss[-1]
                if monitored < best_value - min_delta:
                    best_value, history.best_epoch, wait = monitored, epoch, 0
                    if best is not None:
                        np.copyto(best, params)
                else:
                    wait += 1
                row = history.row(epoch)
                progress.update(row)
                if checkpoint is not None and epoch % max(1, int(checkpoint_every)) == 0:
                    net.save(checkpoint, loss=loss_.name, info={"epoch": epoch, **_floats(row)})
                try:
                    for cb in cbs:
                        cb.on_epoch_end(epoch, row)
                except StopTraining as exc:
                    history.stopped = f"stopped by a callback at epoch {epoch}" + (f": {exc}" if str(exc) else "")
                if history.stopped:
                    break
                if early_stopping is not None and wait >= int(early_stopping):
                    history.stopped = (
                        f"early stopping at epoch {epoch}: no improvement for {early_stopping} epochs "
                        f"(best epoch {history.best_epoch})"
                    )
                    break
    except StopTraining as exc:
        history.stopped = "stopped by a callback" + (f": {exc}" if str(exc) else "")
    finally:
        progress.close()
    if best is not None and history.best_epoch is not None:
        np.copyto(params, best)
    if checkpoint is not None:
        net.save(checkpoint, loss=loss_.name, info={"epoch": history.epochs, "stopped": history.stopped})
    return history


def _floats(row: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in row.items()}
