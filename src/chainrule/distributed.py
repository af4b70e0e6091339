"""The article's mean over all n samples, computed and trained on a Dask cluster (extra ``dask``).

``dC/dw = (1/n) sum_i dC_i/dw`` is a map and a reduce. Here X and Y are dask arrays partitioned by
rows (or a dask DataFrame with named target columns); each partition returns, computed on the
workers, the *sum* of its per-sample gradients, costs (and correct classifications) with its row
count; the sums are added in a tree; the result is divided by n. Any partitioning, uneven or of
single rows, gives the in-memory gradient to float rounding.

The network goes to the workers once per step (``client.scatter(..., broadcast=True)``), and every
task refers to that one copy. Partitions are computed from the dask graph as they are needed, so a
dataset larger than the workers' memory streams through them (persist it first when it fits, to
read it once); a partition lost with a worker is recomputed by Dask from the graph, and a step's
result does not change.

Without a client, a :class:`distributed.LocalCluster` is started on this machine (and kept for the
process); pass ``client=Client("tcp://scheduler:8786")`` to use any cluster.
"""

from __future__ import annotations

import atexit
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError("chainrule.distributed needs dask: pip install 'chainrule[dask]'") from exc

from ._validation import as_bool, as_seed, as_targets
from .engine.paths import _gradients
from .errors import ChainruleError, shown
from .layers import LayerList
from .losses import Loss, get_loss
from .network import Network, require_network
from .optim import Optimizer
from .train import (
    History,
    _batch_size,
    _callbacks,
    _epochs,
    _hits,
    _is_classification,
    _optimizer,
    _train_loop,
    _verbose,
)

__all__ = ["DistributedGradients", "fit", "get_client", "gradients"]

_LOCAL: dict[str, Any] = {}
_RETRIES = 5


def get_client(client: Client | None = None) -> Client:
    """``client`` itself, or a client of a LocalCluster on this machine (started once per process)."""
    if client is not None:
        if not isinstance(client, Client):
            raise ChainruleError(
                f"client must be a distributed.Client or None (a local cluster); "
                f"got {shown(client)} ({type(client).__name__})"
            )
        return client
    if "client" not in _LOCAL:
        cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None)
        _LOCAL["cluster"], _LOCAL["client"] = cluster, Client(cluster)
        atexit.register(_close_local)
    return _LOCAL["client"]


def _close_local() -> None:
    for key in ("client", "cluster"):
        obj = _LOCAL.pop(key, None)
        if obj is not None:
            obj.close()


@dataclass(frozen=True)
class DistributedGradients:
    """``dW[l]``, ``db[l]`` (means over the ``n`` samples, like :class:`~chainrule.Gradients`), the cost ``C``."""

    dW: LayerList[np.ndarray]
    db: LayerList[np.ndarray] | None
    C: float
    n: int
    hits: int


def _as_dask(X: Any, Y: Any, target: Any) -> tuple[da.Array, da.Array, Any]:
    """Dask arrays X (n, n_0) and Y from arrays, or from a dask DataFrame and its target columns."""
    Y_raw = Y
    if target is not None and not (
        isinstance(target, str)
        or (isinstance(target, (list, tuple)) and target and all(isinstance(t, str) for t in target))
    ):
        raise ChainruleError(
            f"target must be a column name or a list of them (str); got {shown(target)} ({type(target).__name__})"
        )
    if hasattr(X, "to_dask_array") and hasattr(X, "columns"):  # a dask DataFrame
        if target is None:
            raise ChainruleError("with a dask DataFrame, name the target column(s): target='y' or target=['y1', 'y2']")
        if Y is not None:
            raise ChainruleError("with a dask DataFrame X, give the targets by target=..., not Y")
        names = [target] if isinstance(target, str) else list(target)
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ChainruleError(
                f"the DataFrame has no column {missing[0]!r}; its columns: {', '.join(map(str, X.columns))}"
            )
        inputs = [c for c in X.columns if c not in names]
        frame = X
        X = frame[inputs].to_dask_array(lengths=True)
        Y = frame[names].to_dask_array(lengths=True)
        if len(names) == 1:
            Y = Y[:, 0]
        Y_raw = Y
    elif target is not None:
        raise ChainruleError(
            f"target names columns of a dask DataFrame X; X is {type(X).__name__}: give the targets as Y"
        )
    elif Y is None:
        raise ChainruleError("Y is missing: give the targets as Y (or X as a dask DataFrame with target=...)")
    if not isinstance(X, da.Array):
        X = da.asarray(X)
    if not isinstance(Y, da.Array):
        Y = da.asarray(Y)
    for name, arr in (("X", X), ("Y", Y)):
        if arr.dtype.kind not in "biufO":
            raise ChainruleError(f"{name} must be numeric (bool, int or float); got dtype {arr.dtype}")
    if X.ndim != 2:
        raise ChainruleError(f"X must be 2-D, (n_samples, n_0); got shape {X.shape}")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in Y.chunks[0]):
        X, Y = X.compute_chunk_sizes(), Y.compute_chunk_sizes()
    if X.shape[0] != Y.shape[0]:
        raise ChainruleError(f"X has {X.shape[0]} samples (rows) but Y has {Y.shape[0]}; they must match")
    if X.shape[0] == 0:
        raise ChainruleError(
            "X has no samples (an empty batch): the cost and its gradient are means over at least one sample"
        )
    Y = Y.rechunk({0: X.chunks[0], **({1: -1} if Y.ndim == 2 else {})})
    return X, Y, Y_raw


def _prepare_dask(net: Network, X: Any, Y: Any, loss: str | Loss, target: Any) -> tuple[Loss, da.Array, da.Array, Any]:
    """Everything checked at the edge, before any task runs: the network, the loss, the shapes."""
    require_network(net)
    loss = get_loss(loss)
    loss.check_output(net.g[net.L])
    net.check()
    Xd, Yd, Y_raw = _as_dask(X, Y, target)
    _check_columns(net, Xd, Yd)
    return loss, Xd, Yd, Y_raw


def _check_columns(net: Network, X: da.Array, Y: da.Array) -> None:
    """The same errors as in memory, before any task runs."""
    n_0, n_L = net.sizes[0], net.sizes[-1]
    if X.shape[1] != n_0:
        raise ChainruleError(
            f"X has {X.shape[1]} columns but layer 0 (the input layer) has n_0 = {n_0} nodes; "
            f"expected shape (n_samples, {n_0}), got {X.shape}"
        )
    if Y.ndim == 2 and Y.shape[1] != n_L and not (Y.shape[1] == 1 and n_L > 1):
        raise ChainruleError(
            f"Y has {Y.shape[1]} columns but the output layer L has n_L = {n_L} nodes; "
            f"expected shape (n_samples, {n_L}), got {Y.shape}"
        )


_ROW = re.compile(r"\brow (\d+)")


def _global_rows(exc: ChainruleError, offset: int, rows: np.ndarray | None) -> ChainruleError:
    """``exc`` with every "row i" of a partition (or of the rows taken from it) as the row of the whole array."""

    def whole(match: re.Match[str]) -> str:
        i = int(match.group(1))
        if rows is not None and i < len(rows):
            i = int(rows[i])
        return f"row {offset + i}"

    return ChainruleError(_ROW.sub(whole, str(exc)))


def _partition_sums(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    loss: Loss,
    classification: bool,
    rows: np.ndarray | None = None,
    offset: int = 0,
) -> list[Any]:
    """On a worker: ``[sum_i dC_i/dW^(1), ..., sum_i dC_i/db^(L) ..., sum_i C_i, hits, count]`` for
    one partition (or the given rows of it). ``offset`` is the partition's first row in the whole
    array: errors name rows of the whole array."""
    from ._validation import as_inputs

    if rows is not None:
        X, Y = X[rows], Y[rows]
    n = X.shape[0]
    if n == 0:
        return [0.0] * (2 * net.L + 2) + [0]
    try:
        Xv = as_inputs(X, net.sizes[0], net.dtype)
        Yv = as_targets(Y, n, net.sizes[-1], net.dtype, loss.target_range)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging loss is caught by fit
            g = _gradients(net, Xv, Yv, loss, per_sample=False, w=None, check=True)
    except ChainruleError as exc:
        raise _global_rows(exc, offset, rows) from None
    sums: list[Any] = [d * n for d in g.dW]
    sums += [d * n for d in g.db] if g.db is not None else [0.0] * net.L
    hits = _hits(g.trace.output, Yv) if classification else 0
    return [*sums, g.C * n, hits, n]


def _add(*parts: list[Any]) -> list[Any]:
    """Add partition sums elementwise (a node of the reduction tree)."""
    return [sum(items[1:], start=items[0]) for items in zip(*parts)]


def _tree(parts: list[Any], fan_in: int = 4) -> Any:
    add = dask.delayed(_add, pure=True)
    while len(parts) > 1:
        parts = [
            add(*parts[i : i + fan_in]) if len(parts[i : i + fan_in]) > 1 else parts[i]
            for i in range(0, len(parts), fan_in)
        ]
    return parts[0]


def _step_sums(
    client: Client,
    net: Network,
    xs: list[Any],
    ys: list[Any],
    loss: Loss,
    classification: bool,
    offsets: np.ndarray,
    rows: list[np.ndarray | None] | None = None,
) -> list[Any]:
    """Broadcast the network once, map over the partitions, reduce as a tree, gather the sums.

    A worker lost in the middle is handled by Dask, which recomputes its partitions from the
    graph; when the loss breaks the broadcast or the step itself, the step is run again (the same
    weights and rows give the same sums).
    """
    task = dask.delayed(_partition_sums, pure=True)
    for attempt in range(_RETRIES):
        try:
            net_future = client.scatter(net, broadcast=True, hash=False)
            parts = [
                task(net_future, x, y, loss, classification, None if rows is None else rows[i], int(offsets[i]))
                for i, (x, y) in enumerate(zip(xs, ys))
                if rows is None or rows[i] is not None
            ]
            future = client.compute(_tree(parts))
            try:
                return future.result()
            except KeyboardInterrupt:
                future.cancel()  # Ctrl-C: the cluster stops working on this step
                raise
        except (CommClosedError, FutureCancelledError, OSError, KilledWorker):
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))  # let the cluster replace the lost worker
    raise AssertionError("unreachable")  # pragma: no cover


def _blocks(X: da.Array, Y: da.Array) -> tuple[list[Any], list[Any]]:
    return list(X.to_delayed().ravel()), list(Y.to_delayed().ravel())


def _result(net: Network, sums: list[Any]) -> DistributedGradients:
    L = net.L
    n = int(sums[-1])
    dW = [s / n for s in sums[:L]]
    db = [s / n for s in sums[L : 2 * L]] if net.b is not None else None
    return DistributedGradients(
        dW=LayerList([np.asarray(d, dtype=net.dtype) for d in dW], first=1, name="dW"),
        db=None if db is None else LayerList([np.asarray(d, dtype=net.dtype) for d in db], first=1, name="db"),
        C=float(sums[2 * L]) / n,
        n=n,
        hits=int(sums[2 * L + 1]),
    )


def gradients(
    net: Network,
    X: Any,
    Y: Any = None,
    loss: str | Loss = "squared_error",
    *,
    target: str | list[str] | None = None,
    client: Client | None = None,
) -> DistributedGradients:
    """The mean gradient over all samples of dask arrays ``X`` and ``Y`` (or a dask DataFrame
    ``X`` with ``target`` columns), computed on the workers of ``client``.

    Equals :func:`chainrule.gradients` on the same data to float rounding, for any partitioning.
    """
    if client is not None:
        get_client(client)  # checked before any work
    loss, Xd, Yd, _ = _prepare_dask(net, X, Y, loss, target)
    xs, ys = _blocks(Xd, Yd)
    return _result(net, _step_sums(get_client(client), net, xs, ys, loss, False, _offsets(Xd)))


def _offsets(X: da.Array) -> np.ndarray:
    """The first row of each partition, and the number of rows at the end."""
    return np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)


def fit(
    net: Network,
    X: Any,
    Y: Any = None,
    *,
    loss: str | Loss = "squared_error",
    target: str | list[str] | None = None,
    epochs: int = 10,
    batch_size: int | None = None,
    optimizer: Optimizer | str | None = None,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = 0,
    callbacks: Any = (),
    verbose: int = 1,
    client: Client | None = None,
) -> History:
    """Train ``net`` in place on dask data; returns a :class:`~chainrule.History` like in-memory ``fit``.

    ``batch_size=None`` is full-batch gradient descent: one step per epoch with the gradient over
    all ``n`` samples. Otherwise every epoch visits the samples in a seeded random order, and each
    minibatch takes its rows from whichever partitions hold them.

    As in memory, a NaN or inf loss or weight stops training with the last weights that gave a
    finite loss (``History.status == "diverged"``), Ctrl-C stops it with whole steps' weights
    (``"interrupted"``), and a loss that grows over 100-fold warns once. Bad data found by a
    worker raises :class:`~chainrule.ChainruleError` naming the row of the whole array; the
    network then holds the weights of the last step made.
    """
    require_network(net)
    n_epochs = _epochs(epochs)
    bs_arg = _batch_size(batch_size)
    opt = _optimizer(optimizer)
    shuffle = as_bool("shuffle", shuffle)
    rng = as_seed("seed", seed)
    cbs = _callbacks(callbacks)
    verbose = _verbose(verbose)
    if client is not None:
        get_client(client)  # checked before any work
    loss_, Xd, Yd, _ = _prepare_dask(net, X, Y, loss, target)
    client = get_client(client)
    xs, ys = _blocks(Xd, Yd)
    bounds = _offsets(Xd)
    n = int(bounds[-1])
    bs = n if bs_arg is None else min(bs_arg, n)
    first = Yd[: min(n, 64)].compute()
    classification = _is_classification(first, as_targets(first, first.shape[0], net.sizes[-1], net.dtype))

    current: list[DistributedGradients] = []  # the gradient of the batch being stepped on

    def batch(idx: np.ndarray) -> tuple[float, int]:
        if bs == n:
            rows = None
        else:
            idx = np.sort(idx)
            part = np.searchsorted(bounds, idx, side="right") - 1
            rows = [idx[part == p] - bounds[p] if (part == p).any() else None for p in range(len(xs))]
        g = _result(net, _step_sums(client, net, xs, ys, loss_, classification, bounds, rows))
        current[:] = [g]
        return g.C, g.hits

    def step() -> None:
        opt.step(net, current[0].dW, current[0].db)

    return _train_loop(
        net,
        opt,
        History(classification=classification),
        n=n,
        bs=bs,
        epochs=n_epochs,
        order=(lambda: rng.permutation(n)) if shuffle and bs < n else (lambda: np.arange(n)),
        batch=batch,
        step=step,
        callbacks=cbs,
        verbose=verbose,
    )
