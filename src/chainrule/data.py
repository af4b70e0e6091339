"""Data in: built-in datasets, CSV and NPZ files, and the small tools around them.

* :func:`load_dataset`: ``"digits"`` (scikit-learn's 8x8 handwritten digits), ``"iris"``
  (Fisher's iris; both ship inside scikit-learn, so they work offline) and ``"xor"``.
* :func:`read_csv`: a numeric table with the target column chosen by name or index (or the last
  column, when that is no guess); the result says which column it is.
* :func:`load_xy`: ``X`` and ``Y`` for a given network: ``.npz`` with arrays ``X`` and ``Y``
  (read by :mod:`chainrule._npz`, headers first, never unpickled), or ``.csv`` whose first ``n_0``
  columns are the inputs. :func:`load_inputs`: ``X`` alone.
* :func:`train_test_split`, :class:`Standardizer` (fitted on the training part only), :func:`one_hot`.

Data files are read only when they are regular files (never a device or a FIFO), CSV files as
UTF-8 (a byte-order mark is dropped), one line at a time. Whatever a file holds, reading it ends in
the arrays or in a :class:`~chainrule.errors.ChainruleError` (or an ``OSError`` naming the path).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import math
import numbers
import os
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._files import as_path, open_regular
from ._npz import read_data_arrays
from ._validation import as_int, as_numeric, as_seed, check_finite
from .errors import ChainruleError, shown
from .network import Network

__all__ = [
    "DATASETS",
    "CsvData",
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

    For a CSV file, ``target`` names the target column (by name or index, see :func:`read_csv`);
    without it the first ``n_inputs`` columns are the inputs and the rest the targets. ``target``
    with an ``.npz`` file is an error: its arrays ``X`` and ``Y`` already say what is what.

    ``X`` comes back 2-D, ``(n_samples, n_features)``, non-empty, real numbers (bool, int, uint or
    float), finite; ``Y`` 1-D (labels) or 2-D, numeric, finite, one row per sample.
    """
    path = as_path("path", path)
    n_inputs = as_int("n_inputs", n_inputs, low=0)
    if _suffix(path) == ".npz":
        if target is not None:
            raise ChainruleError(
                f"target (--target) picks a column of a CSV file; {path} is an .npz file, whose arrays X and Y "
                f"are the inputs and the targets: leave target out (got {shown(target)})"
            )
        arrays = read_data_arrays(path, ("X", "Y"))
        return _check_xy(path, arrays["X"], arrays["Y"])  # type: ignore[return-value]
    if target is not None:
        data = read_csv(path, target)
        return data.X, data.y
    if n_inputs < 1:
        raise ChainruleError(
            f"n_inputs must be >= 1 to split the columns of {path} into inputs and targets; got {n_inputs}"
        )
    return _load_csv(path, n_inputs)


def load_inputs(path: str | os.PathLike, n_inputs: int) -> np.ndarray:
    """Only the inputs ``X`` of a data file: array ``X`` of an ``.npz`` (``Y`` may be absent), or the
    first ``n_inputs`` columns of a ``.csv`` (which may hold nothing else). ``X`` is checked as in
    :func:`load_xy`."""
    path = as_path("path", path)
    n_inputs = as_int("n_inputs", n_inputs, low=1)
    if _suffix(path) == ".npz":
        return _check_xy(path, read_data_arrays(path, ("X",))["X"], None)[0]
    table, _ = _read_table(path)
    if table.shape[1] < n_inputs:
        raise ChainruleError(f"{path} has {table.shape[1]} columns; the network takes n_0 = {n_inputs} inputs")
    return table[:, :n_inputs]


def _suffix(path: Path) -> str:
    """``.npz`` or ``.csv`` (in any case), else an error naming what the file's suffix is."""
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        got = shown(path.suffix) if path.suffix else "no suffix"
        raise ChainruleError(f"{path}: data files are .npz (arrays X and Y) or .csv; got {got}")
    return suffix


# ----------------------------------------------------------------------------------------------
# .npz data files: read by chainrule._npz.read_data_arrays (the reader model files use too: a
# regular file only, each member's header checked before its data is read, so no zip bomb, huge
# declared shape, pickle, encrypted member or non-numeric dtype gets further; the CRC checked),
# then checked here.


def _check_xy(source: object, X: np.ndarray, Y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The checks an ``.npz`` data file's arrays pass after the reader has checked their dtypes (real
    numbers): ``X`` 2-D ``(n_samples, n_features)``, non-empty, finite; ``Y`` (when given) 1-D labels
    or 2-D, finite, one row per sample of ``X``. Returns them unchanged (no copy)."""
    if X.ndim == 1:
        raise ChainruleError(
            f"X in {source} is 1-D, shape {X.shape}; X must be 2-D, (n_samples, n_features): save "
            f"X.reshape(-1, 1) for one feature per sample, or X.reshape(1, -1) for a single sample"
        )
    if X.ndim != 2:
        raise ChainruleError(f"X in {source} has shape {X.shape}; X must be 2-D, (n_samples, n_features)")
    if X.shape[0] == 0 or X.shape[1] == 0:
        what = "samples (rows)" if X.shape[0] == 0 else "features (columns)"
        raise ChainruleError(f"X in {source} has no {what}: shape {X.shape}")
    if X.dtype.kind == "f":
        check_finite(f"X in {source}", X)
    if Y is None:
        return X, None
    if Y.ndim not in (1, 2) or (Y.ndim == 2 and Y.shape[1] == 0):
        raise ChainruleError(
            f"Y in {source} has shape {Y.shape}; Y must be 1-D (one label or value per sample) "
            f"or 2-D, (n_samples, n_outputs)"
        )
    if Y.shape[0] != X.shape[0]:
        raise ChainruleError(f"X in {source} has {X.shape[0]} samples (rows) but Y has {Y.shape[0]}; they must match")
    if Y.dtype.kind == "f":
        check_finite(f"Y in {source}", Y, ("row", "column") if Y.ndim == 2 else ("sample",))
    return X, Y


def _listed(names: list[str], most: int = 20) -> str:
    """Names for a message: each cut to 30 characters, at most ``most`` of them."""
    cut = [n if len(n) <= 30 else n[:27] + "..." for n in names[:most]]
    more = f", ... ({len(names)} in all)" if len(names) > most else ""
    return ", ".join(cut) + more


# ----------------------------------------------------------------------------------------------
# CSV files.

#: The most bytes one line of a CSV file may hold: a file without line breaks is not a table.
MAX_LINE_BYTES = 64 * 2**20

#: With a header row and no ``target``, the last column is taken as the target only when it holds
#: class labels: whole numbers, at most this many different ones.
MAX_GUESSED_CLASSES = 50

_MISSING = frozenset({"", "nan", "na", "n/a", "null", "none", "?"})
_INDEX = re.compile(r"[+-]?[0-9]+")


def _number(cell: str) -> float | None:
    """The value of a cell written as a plain ASCII number (``1``, ``-2.5e3``, ``.5``, ``inf``), else None.

    Python's ``float`` also takes ``1_000`` and digits of other scripts; a CSV number does not.
    """
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if cell.isascii() and "_" not in cell and cell.strip() == cell else None


def _is_missing(cell: str) -> bool:
    return len(cell) <= 4 and cell.lower() in _MISSING


def _not_utf8(path: Path, line: int, offset: int, byte: int) -> ChainruleError:
    return ChainruleError(
        f"{path}, line {line}: the byte 0x{byte:02x} at offset {offset} is not UTF-8 text; "
        f"save the file as UTF-8 (in a spreadsheet: CSV UTF-8)"
    )


def _text_lines(fh: IO[bytes], path: Path) -> Iterator[str]:
    """The lines of a binary file as text: UTF-8, a byte-order mark stripped, line ends kept (for
    the csv module); a line break is ``\\n``, ``\\r\\n`` or ``\\r``. One line is read at a time, and a
    line longer than :data:`MAX_LINE_BYTES` is an error, so memory stays bounded whatever the file."""
    offset, number = 0, 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise ChainruleError(
                f"{path}, line {number + 1}: longer than {MAX_LINE_BYTES // 2**20} MiB; "
                f"a CSV file is a table of numbers, one row per line"
            )
        if offset == 0:
            if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise ChainruleError(f"{path} is UTF-16 text; save it as UTF-8 (in a spreadsheet: CSV UTF-8)")
            if raw.startswith(codecs.BOM_UTF8):
                raw, offset = raw[len(codecs.BOM_UTF8) :], len(codecs.BOM_UTF8)
        for piece in raw.splitlines(keepends=True) if b"\r" in raw else (raw,):
            number += 1
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, number, offset + exc.start, piece[exc.start]) from None
            offset += len(piece)
            yield text


def _column(header: list[str] | None, j: int) -> str:
    """A column as messages name it: ``column 'name'`` with a header row, ``column j (counting from 0)`` without."""
    return f"column {shown(header[j])}" if header is not None else f"column {j} (counting from 0)"


def _is_header(cells: list[str]) -> tuple[bool, bool]:
    """Whether a first row is a header (some names, no numbers), and whether it mixes names and numbers.

    Empty cells and missing-value markers count as neither.
    """
    names = numbers = False
    for c in cells:
        if _is_missing(c):
            continue
        if _number(c) is None:
            names = True
        else:
            numbers = True
    return names and not numbers, names and numbers


def _read_table(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """A numeric CSV table (float64, finite, at least one row and column) and its header row (None
    when there is none).

    The first row is a header when its non-empty cells are all names (not numbers); empty header
    cells are named ``x<j>``. A first row that mixes names and numbers is data (so no row is ever
    dropped), and its names are errors. Blank lines are skipped. Every other cell must be a number:
    an empty cell (or ``NA``, ``nan``, ``?``, ...) is a missing value, which is an error naming the
    line and the column.
    """
    values = array("d")
    header: list[str] | None = None
    width = -1  # cells per row, once the first row is read
    mixed = False
    n_rows = 0
    with open_regular(path, "data file") as fh:
        reader = csv.reader(_text_lines(fh, path), skipinitialspace=True)
        try:
            for row in reader:
                cells = [c.strip() for c in row]
                if len(cells) <= 1 and not (cells and cells[0]):
                    continue  # a blank line
                line = reader.line_num
                if width < 0:
                    width = len(cells)
                    is_header, mixed = _is_header(cells)
                    if is_header:
                        header = [c or f"x{j}" for j, c in enumerate(cells)]
                        continue
                if len(cells) != width:
                    raise ChainruleError(f"{path}, line {line}: {len(cells)} columns, expected {width}")
                for j, c in enumerate(cells):
                    value = _number(c)
                    if value is None or not math.isfinite(value):
                        raise _bad_cell(path, line, _column(header, j), c, value, mixed and n_rows == 0)
                    values.append(value)
                n_rows += 1
        except csv.Error as exc:
            raise ChainruleError(f"{path}, line {reader.line_num}: not a well-formed CSV row ({exc})") from None
    if width < 0:
        raise ChainruleError(f"{path} is empty")
    if n_rows == 0:
        raise ChainruleError(f"{path} has a header but no rows")
    return np.frombuffer(values, dtype=np.float64).reshape(n_rows, width), header


def _bad_cell(path: Path, line: int, column: str, cell: str, value: float | None, mixed: bool) -> ChainruleError:
    where = f"{path}, line {line}, {column}"
    if _is_missing(cell):
        return ChainruleError(f"{where}: missing value {shown(cell)}; fill or drop it first")
    if value is not None:
        return ChainruleError(f"{where}: {shown(cell)} is not a finite number (every cell must be finite)")
    note = " (the first row mixes names and numbers, so it is data, not a header)" if mixed else ""
    return ChainruleError(f"{where}: {shown(cell)} is not a number (every cell must be numeric){note}")


def _load_csv(path: Path, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    table, _ = _read_table(path)
    if table.shape[1] <= n_inputs:
        raise ChainruleError(
            f"{path} has {table.shape[1]} columns; the network takes n_0 = {n_inputs} inputs, so it needs "
            f"at least {n_inputs + 1} (inputs first, then targets)"
        )
    X, Y = table[:, :n_inputs], table[:, n_inputs:]
    return X, (Y[:, 0] if Y.shape[1] == 1 else Y)


@dataclass(frozen=True, eq=False)
class CsvData:
    """What :func:`read_csv` returns. It unpacks as ``X, y, feature_names`` (and indexes like that
    tuple); the other fields say which column is the target and how it was chosen.

    ``target_text`` describes the choice for a person: ``column 'species' (the last)``.
    """

    X: np.ndarray  #: the inputs, ``(n_samples, n_features)``, float64
    y: np.ndarray  #: the target column, ``(n_samples,)``, float64
    feature_names: list[str]  #: the input columns' names (``x<j>`` without a header row)
    target_name: str  #: the target column's name (``x<j>`` without a header row)
    target_index: int  #: the target column's position, from 0
    has_header: bool  #: whether the file's first row is a header
    chosen: str  #: how the target was chosen: ``"name"``, ``"index"`` or ``"last"`` (no target given)

    def _tuple(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        return self.X, self.y, self.feature_names

    def __iter__(self) -> Iterator[Any]:
        return iter(self._tuple())

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> Any:
        return self._tuple()[i]

    @property
    def target_text(self) -> str:
        """``column 'species' (the last)``, ``column 'species'``, ``column 4 (the last; no header row)``, ..."""
        column = f"column {shown(self.target_name)}" if self.has_header else f"column {self.target_index}"
        if self.chosen == "last":
            return f"{column} (the last)" if self.has_header else f"{column} (the last; the file has no header row)"
        if self.chosen == "index" and self.has_header:
            return f"{column} (index {self.target_index})"
        return column


def read_csv(path: str | os.PathLike, target: str | int | None = None) -> CsvData:
    """Inputs, target and feature names from a numeric CSV file.

    The file is UTF-8 (a byte-order mark is dropped). Its first row is a header when its non-empty
    cells are all names (not numbers); a first row of numbers is data, even with an empty cell, and
    a first row that mixes names and numbers is data too (its names are then errors), so no row is
    ever lost. Every other cell is a finite number; an empty cell (or ``NA``, ``nan``, ``?``, ...)
    is a missing value, an error that names the line and the column. Blank lines are skipped.

    ``target`` picks the target column:

    * a column name (the file's first row is a header when its cells are names, not numbers);
    * an index, as an int or as a string of ASCII digits (``3``, ``"-1"``; negative counts from the
      end). Any other string (``"1.5"``, ``"²"``) is a name.
    * ``None``: without a header row, the last column. With a header row, the last column only when
      it holds class labels (whole numbers, at most :data:`MAX_GUESSED_CLASSES` different ones);
      otherwise the choice would be a guess, and it is an error that asks for ``target``.

    Returns a :class:`CsvData`, which unpacks as ``(X, y, feature_names)`` and says which column is
    the target (``target_name``, ``target_index``, ``target_text``).
    """
    path = as_path("path", path)
    table, header = _read_table(path)
    n = table.shape[1]
    if n < 2:
        raise ChainruleError(f"{path} has a single column: nothing is left for the inputs")
    names = header or [f"x{j}" for j in range(n)]
    if target is None:
        col, chosen = n - 1, "last"
        if header is not None:
            _check_labels(path, names, table[:, col])
    else:
        col, chosen = _target_column(path, target, header, n)
    keep = [j for j in range(n) if j != col]
    return CsvData(
        X=table[:, keep],
        y=table[:, col],
        feature_names=[names[j] for j in keep],
        target_name=names[col],
        target_index=col,
        has_header=header is not None,
        chosen=chosen,
    )


def _check_labels(path: Path, names: list[str], y: np.ndarray) -> None:
    """Refuse to guess: a last column that is not class labels may not be the target."""
    whole = np.round(y) == y
    if whole.all():
        k = np.unique(y).size
        if k <= MAX_GUESSED_CLASSES:
            return
        holds = f"{k} different whole numbers, more than class labels take ({MAX_GUESSED_CLASSES} at most)"
    else:
        holds = f"{y[np.argmin(whole)]:g}, not a class label (a whole number)"
    raise ChainruleError(
        f"which column is the target? {path} has a header row, and its last column {shown(names[-1])} holds "
        f"{holds}: give --target NAME (target=NAME in Python); columns: {_listed(names)}"
    )


def _target_column(path: Path, target: Any, header: list[str] | None, n: int) -> tuple[int, str]:
    """The index (from 0) of the column ``target`` picks, and ``"name"`` or ``"index"``."""
    if isinstance(target, str) and _INDEX.fullmatch(target):
        index = int(target) if len(target) < 20 else n  # a huge index is out of range, not an int() error
    elif isinstance(target, str):
        if header is None:
            raise ChainruleError(
                f"{path} has no header row, so target {shown(target)} cannot name a column; "
                f"give a column index 0..{n - 1} (-1: the last)"
            )
        found = [j for j, name in enumerate(header) if name == target]
        if not found:
            close = difflib.get_close_matches(target, header, n=1) if len(target) < 100 else []
            hint = f" Did you mean {shown(close[0])}?" if close else ""
            raise ChainruleError(f"{path} has no column {shown(target)}; its columns: {_listed(header)}.{hint}")
        if len(found) > 1:
            raise ChainruleError(
                f"{path} has {len(found)} columns named {shown(target)} (indices {', '.join(map(str, found))}); "
                f"give the target by index"
            )
        return found[0], "name"
    elif isinstance(target, numbers.Integral) and not isinstance(target, (bool, np.bool_)):
        index = int(target)
    else:
        raise ChainruleError(
            f"target must be a column name (str) or index (int); got {shown(target)} ({type(target).__name__})"
        )
    if not -n <= index < n:
        raise ChainruleError(
            f"target column {shown(target)} is out of range: {path} has columns 0..{n - 1} (-{n}..-1 from the end)"
        )
    return index % n, "index"


def one_hot(labels: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Class labels ``0..K-1`` as one-hot rows ``(n, K)``.

    >>> one_hot(np.array([0, 2, 1]))
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    labels = as_numeric("labels", labels, np.float64)
    if labels.ndim != 1 or labels.size == 0 or not (np.isfinite(labels).all() and (np.round(labels) == labels).all()):
        raise ChainruleError(
            f"labels must be a non-empty 1-D array of whole numbers >= 0; got shape {labels.shape}"
            + ("" if labels.ndim != 1 or labels.size == 0 else f", values such as {shown(labels[:6].tolist())}")
        )
    if labels.min() < 0:
        raise ChainruleError(f"labels must be whole numbers >= 0; got {labels.min():g}")
    top = int(labels.max())
    k = top + 1 if n_classes is None else as_int("n_classes", n_classes, low=1)
    if top >= k:
        raise ChainruleError(f"label {top} is out of range for n_classes = {k} (labels 0..{k - 1})")
    out = np.zeros((labels.shape[0], k))
    out[np.arange(labels.shape[0]), labels.astype(np.int64)] = 1
    return out


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int | np.random.Generator | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split: ``X_train, X_test, y_train, y_test``."""
    if not isinstance(test_fraction, numbers.Real) or isinstance(test_fraction, (bool, np.bool_)):
        raise ChainruleError(
            f"test_fraction must be between 0 and 1; got {shown(test_fraction)} ({type(test_fraction).__name__})"
        )
    if not 0 < test_fraction < 1:
        raise ChainruleError(f"test_fraction must be between 0 and 1, got {shown(test_fraction)}")
    rng = as_seed("seed", seed)
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ChainruleError(f"X and y must be arrays of samples; got shapes {X.shape} and {y.shape}")
    n = len(X)
    if len(y) != n:
        raise ChainruleError(f"X has {n} samples (rows) but y has {len(y)}")
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n_test >= n:
        raise ChainruleError(f"a test fraction of {test_fraction} of {n} samples leaves an empty part")
    order = rng.permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


_TINY = float(np.finfo(np.float64).tiny)  # the smallest normal float64: a scale below it overflows a division


class Standardizer:
    """Scale each feature to mean 0 and standard deviation 1, with statistics from the training part.

    Constant features keep a scale of 1 (they become 0), so nothing divides by zero. ``mean`` and
    ``scale`` (when given) are checked: 1-D, finite, the same length, every scale > 0.
    """

    def __init__(self, mean: Any = None, scale: Any = None) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        if mean is None and scale is None:
            return
        if mean is None or scale is None:
            raise ChainruleError("a Standardizer needs both mean and scale (or neither, then fit(X_train))")
        self.mean_ = _statistic("mean", mean)
        self.scale_ = _statistic("scale", scale)
        if self.mean_.shape != self.scale_.shape:
            raise ChainruleError(
                f"the Standardizer's mean has {self.mean_.size} values but its scale {self.scale_.size}; "
                f"both hold one value per feature"
            )
        if (self.scale_ < _TINY).any():  # 0, negative, or so small (subnormal) that dividing by it overflows
            j = int(np.argmax(self.scale_ < _TINY))
            raise ChainruleError(
                f"the Standardizer's scale must be > 0 (at least {_TINY:.3g}) for every feature; "
                f"got {self.scale_[j]:g} for feature {j}"
            )

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn each feature's mean and standard deviation from ``X`` ``(n_samples, n_features)``."""
        X = _features("X", X)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std >= _TINY, std, 1.0)
        if not (np.isfinite(self.mean_).all() and np.isfinite(self.scale_).all()):
            raise ChainruleError("X is too large to standardise: its mean or standard deviation overflows")
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean) / scale``, feature by feature."""
        if self.mean_ is None or self.scale_ is None:
            raise ChainruleError("the Standardizer is not fitted: call fit(X_train) first")
        X = _features("X", X)
        if X.shape[1] != self.mean_.shape[0]:
            raise ChainruleError(
                f"X has shape {X.shape}; the Standardizer was fitted on {self.mean_.shape[0]} features"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            out = (X - self.mean_) / self.scale_
        if not np.isfinite(out).all():
            r, c = np.argwhere(~np.isfinite(out))[0]
            raise ChainruleError(
                f"X scaled by the input scaling is not finite at row {r}, column {c} "
                f"(({X[r, c]:g} - {self.mean_[c]:g}) / {self.scale_[c]:g} overflows)"
            )
        return out

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready statistics (kept in a model file's metadata)."""
        if self.mean_ is None or self.scale_ is None:
            raise ChainruleError("the Standardizer is not fitted: call fit(X_train) first")
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: Any) -> Standardizer:
        """The Standardizer :meth:`to_dict` described (for example from a model file's metadata)."""
        if not isinstance(d, dict) or not {"mean", "scale"} <= d.keys():
            keys = f"keys {shown(sorted(map(str, d)))}" if isinstance(d, dict) else type(d).__name__
            raise ChainruleError(
                f"input scaling must be a dict with lists 'mean' and 'scale' (one number per feature); got {keys}"
            )
        return cls(d["mean"], d["scale"])


def _statistic(name: str, values: Any) -> np.ndarray:
    """A Standardizer statistic: a non-empty 1-D list of finite numbers."""
    if isinstance(values, (str, bytes, dict)):
        raise ChainruleError(f"the Standardizer's {name} must be a list of numbers; got {shown(values)}")
    arr = as_numeric(f"the Standardizer's {name}", values, np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ChainruleError(
            f"the Standardizer's {name} must be a non-empty list of numbers (one per feature); got shape {arr.shape}"
        )
    check_finite(f"the Standardizer's {name}", arr, ("feature",))
    return arr


def _features(name: str, X: Any) -> np.ndarray:
    """``X`` as a checked float64 ``(n_samples, n_features)`` array with at least one sample."""
    X = as_numeric(name, X, np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ChainruleError(
            f"{name} must be 2-D, (n_samples, n_features), with at least one of each; got shape {X.shape}"
        )
    check_finite(name, X)
    return X


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
