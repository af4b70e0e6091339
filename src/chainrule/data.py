"""Data in: inputs ``X`` and targets ``Y`` from files, and the article's example.

* ``.npz``: arrays named ``X`` and ``Y`` (read with ``allow_pickle=False``).
* ``.csv``: numbers separated by commas, an optional header row; the first ``n_0`` columns are
  the inputs and the rest the targets (``n_L`` columns, or one column of class labels).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .errors import ChainruleError
from .network import Network

__all__ = ["article_example", "load_xy"]


def article_example() -> tuple[Network, np.ndarray, np.ndarray]:
    """The article's picture as a network: 2 inputs, 3 nodes in layer L-1, 2 in layer L, sigmoid,
    no biases, with one training sample ``x`` and its target ``y``.

    The article's weight ``w_12^(L)`` (from node 2 of layer 1 to node 1 of layer 2) exists in it.

    >>> net, x, y = article_example()
    >>> net.sizes, x.shape, y.shape
    ((2, 3, 2), (1, 2), (1, 2))
    """
    W1 = np.array([[0.1, -0.2], [0.4, 0.3], [-0.5, 0.6]])
    W2 = np.array([[0.7, -0.1, 0.2], [-0.3, 0.8, 0.5]])
    net = Network.from_weights([W1, W2], activation="sigmoid")
    return net, np.array([[0.9, -0.4]]), np.array([[0.0, 1.0]])


def load_xy(path: str | os.PathLike, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Read ``X`` and ``Y`` from an ``.npz`` or ``.csv`` file (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise ChainruleError(f"no data file at {path}")
    if path.suffix.lower() == ".npz":
        if not zipfile.is_zipfile(path):
            raise ChainruleError(f"{path} is not an .npz archive (or it is truncated)")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = {"X", "Y"} - set(data.files)
                if missing:
                    raise ChainruleError(f"{path} needs arrays named X and Y; it has {', '.join(data.files) or 'none'}")
                return data["X"], data["Y"]
        except ValueError as exc:
            if "pickle" in str(exc):
                raise ChainruleError(f"{path} holds pickled Python objects; chainrule never unpickles") from None
            raise ChainruleError(f"{path} cannot be read: {exc}") from None
    if path.suffix.lower() == ".csv":
        return _load_csv(path, n_inputs)
    raise ChainruleError(f"{path}: data files are .npz (arrays X and Y) or .csv; got {path.suffix or 'no suffix'!r}")


def _load_csv(path: Path, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ChainruleError(f"{path} is empty")

    def numeric(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    header = not all(numeric(c) for c in lines[0].split(","))
    rows = lines[1:] if header else lines
    table = []
    for i, line in enumerate(rows, start=2 if header else 1):
        cells = [c.strip() for c in line.split(",")]
        try:
            table.append([float(c) for c in cells])
        except ValueError:
            bad = next(c for c in cells if not numeric(c))
            raise ChainruleError(f"{path}, line {i}: {bad!r} is not a number (every cell must be numeric)") from None
    widths = {len(r) for r in table}
    if len(widths) != 1:
        raise ChainruleError(f"{path}: rows have different numbers of columns ({sorted(widths)})")
    data = np.array(table)
    if data.shape[1] <= n_inputs:
        raise ChainruleError(
            f"{path} has {data.shape[1]} columns; the network takes n_0 = {n_inputs} inputs, so it needs "
            f"at least {n_inputs + 1} (inputs first, then targets)"
        )
    X, Y = data[:, :n_inputs], data[:, n_inputs:]
    return X, (Y[:, 0] if Y.shape[1] == 1 else Y)
