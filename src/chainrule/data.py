"""Data in: built-in datasets, CSV and NPZ files, and the small tools around them.

* :func:`load_dataset`: ``"digits"`` (scikit-learn's 8x8 handwritten digits), ``"iris"``
  (Fisher's iris; both ship inside scikit-learn, so they work offline) and ``"xor"``.
* :func:`read_csv`: a numeric table with the target column chosen by name or index.
* :func:`load_xy`: ``X`` and ``Y`` for a given network: ``.npz`` with arrays ``X`` and ``Y``
  (read with ``allow_pickle=False``), or ``.csv`` whose first ``n_0`` columns are the inputs.
* :func:`train_test_split`, :class:`Standardizer` (fitted on the training part only), :func:`one_hot`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .errors import ChainruleError
from .network import Network

__all__ = [
    "DATASETS",
    "Standardizer",
    "article_example",
    "load_dataset",
    "load_inputs",
    "load_xy",
    "one_hot",
    "read_csv",
    "train_test_split",
]


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


def load_xy(path: str | os.PathLike, n_inputs: int, target: str | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read ``X`` and ``Y`` from an ``.npz`` or ``.csv`` file (see the module docstring).

    For a CSV file, ``target`` names the target column (by name or index); without it the first
    ``n_inputs`` columns are the inputs and the rest the targets.
    """
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
        if target is not None:
            X, y, _ = read_csv(path, target)
            return X, y
        return _load_csv(path, n_inputs)
    raise ChainruleError(f"{path}: data files are .npz (arrays X and Y) or .csv; got {path.suffix or 'no suffix'!r}")


def load_inputs(path: str | os.PathLike, n_inputs: int) -> np.ndarray:
    """Only the inputs ``X`` of a data file: array ``X`` of an ``.npz``, or the first ``n_inputs``
    columns of a ``.csv`` (which may hold nothing else)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return load_xy(path, n_inputs)[0]
    if not path.exists():
        raise ChainruleError(f"no data file at {path}")
    table, _ = _read_table(path)
    if table.shape[1] < n_inputs:
        raise ChainruleError(f"{path} has {table.shape[1]} columns; the network takes n_0 = {n_inputs} inputs")
    return table[:, :n_inputs]


def _load_csv(path: Path, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    table, _ = _read_table(path)
    if table.shape[1] <= n_inputs:
        raise ChainruleError(
            f"{path} has {table.shape[1]} columns; the network takes n_0 = {n_inputs} inputs, so it needs "
            f"at least {n_inputs + 1} (inputs first, then targets)"
        )
    X, Y = table[:, :n_inputs], table[:, n_inputs:]
    return X, (Y[:, 0] if Y.shape[1] == 1 else Y)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_table(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """A numeric CSV table and its header (None when the first row is numbers)."""
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ChainruleError(f"{path} is empty")
    first = [c.strip() for c in lines[0].split(",")]
    header = None if all(_is_number(c) for c in first if c) and "" not in first else first
    rows = lines[1:] if header else lines
    if not rows:
        raise ChainruleError(f"{path} has a header but no rows")
    names = header or [str(i) for i in range(len(first))]
    table = []
    for i, line in enumerate(rows, start=2 if header else 1):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(names):
            raise ChainruleError(f"{path}, line {i}: {len(cells)} columns, expected {len(names)}")
        row = []
        for col, c in zip(names, cells):
            if c == "" or c.lower() in ("nan", "na", "n/a", "null", "none", "?"):
                raise ChainruleError(f"{path}, line {i}, column {col!r}: missing value {c!r}; fill or drop it first")
            if not _is_number(c):
                raise ChainruleError(
                    f"{path}, line {i}, column {col!r}: {c!r} is not a number (every cell must be numeric)"
                )
            row.append(float(c))
        table.append(row)
    data = np.array(table)
    if not np.isfinite(data).all():
        r, c = np.argwhere(~np.isfinite(data))[0]
        raise ChainruleError(f"{path}, column {names[c]!r}: {data[r, c]} at data row {r} is not a finite number")
    return data, header


def read_csv(path: str | os.PathLike, target: str | int = -1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Inputs, target and feature names from a numeric CSV file.

    ``target`` is a column name (when the file has a header row, which is detected) or an index
    (negative counts from the end; default: the last column). Returns ``(X, y, feature_names)``.
    """
    path = Path(path)
    if not path.exists():
        raise ChainruleError(f"no data file at {path}")
    table, header = _read_table(path)
    names = header or [f"x{i}" for i in range(table.shape[1])]
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        if header is None or target not in header:
            known = ", ".join(header) if header else "none: the file has no header row"
            raise ChainruleError(f"{path} has no column {target!r}; its columns: {known}")
        col = header.index(target)
    else:
        col = int(target)
        if not -table.shape[1] <= col < table.shape[1]:
            raise ChainruleError(f"target column {col} is out of range: {path} has columns 0..{table.shape[1] - 1}")
        col %= table.shape[1]
    if table.shape[1] < 2:
        raise ChainruleError(f"{path} has a single column: nothing is left for the inputs")
    keep = [i for i in range(table.shape[1]) if i != col]
    return table[:, keep], table[:, col], [names[i] for i in keep]


def one_hot(labels: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Class labels ``0..K-1`` as one-hot rows ``(n, K)``.

    >>> one_hot(np.array([0, 2, 1]))
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    labels = np.asarray(labels)
    as_int = labels.astype(np.int64)
    if labels.ndim != 1 or not np.array_equal(as_int, labels) or (as_int < 0).any():
        raise ChainruleError("one_hot needs a 1-D array of whole numbers >= 0")
    k = int(as_int.max()) + 1 if n_classes is None else n_classes
    if as_int.max() >= k:
        raise ChainruleError(f"label {as_int.max()} is out of range for {k} classes")
    out = np.zeros((labels.shape[0], k))
    out[np.arange(labels.shape[0]), as_int] = 1
    return out


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int | np.random.Generator | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split: ``X_train, X_test, y_train, y_test``."""
    if not 0 < test_fraction < 1:
        raise ChainruleError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    n = len(X)
    if len(y) != n:
        raise ChainruleError(f"X has {n} samples (rows) but y has {len(y)}")
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n_test >= n:
        raise ChainruleError(f"a test fraction of {test_fraction} of {n} samples leaves an empty part")
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


class Standardizer:
    """Scale each feature to mean 0 and standard deviation 1, with statistics from the training part.

    Constant features keep a scale of 1 (they become 0), so nothing divides by zero.
    """

    def __init__(self, mean: np.ndarray | None = None, scale: np.ndarray | None = None) -> None:
        self.mean_ = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale_ = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise ChainruleError("the Standardizer is not fitted: call fit(X_train) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_.shape[0]:
            raise ChainruleError(
                f"X has shape {X.shape}; the Standardizer was fitted on {self.mean_.shape[0]} features"
            )
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready statistics (kept in a model file's metadata)."""
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}  # type: ignore[union-attr]

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> Standardizer:
        return cls(d["mean"], d["scale"])


def _xor() -> tuple[np.ndarray, np.ndarray]:
    return np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([0, 1, 1, 0])


def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn import datasets
    except ImportError:
        raise ChainruleError(
            f"the {name!r} dataset ships with scikit-learn: pip install 'chainrule[sklearn]'"
        ) from None
    bunch = getattr(datasets, f"load_{name}")()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


#: Built-in datasets, name -> loader returning (X, class labels).
DATASETS = {
    "digits": lambda: _sklearn("digits"),
    "iris": lambda: _sklearn("iris"),
    "xor": _xor,
}


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A built-in dataset as ``(X, y)`` with class labels ``y``: digits (1797 x 64, 10 classes),
    iris (150 x 4, 3 classes) or xor (4 x 2, 2 classes).

    >>> X, y = load_dataset("xor")
    >>> X.shape, y.tolist()
    ((4, 2), [0, 1, 1, 0])
    """
    loader = DATASETS.get(str(name).lower())
    if loader is None:
        from .errors import unknown_name

        raise unknown_name("dataset", str(name), DATASETS)
    return loader()
