"""Checks at the public edge. Everything past them trusts its inputs.

Each check raises :class:`~chainrule.errors.ChainruleError` with a message that names the array
or layer, what was expected, and what came.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .errors import ChainruleError, shown

__all__ = [
    "all_finite",
    "as_bool",
    "as_float",
    "as_inputs",
    "as_int",
    "as_numeric",
    "as_sample_weight",
    "as_seed",
    "as_targets",
    "check_finite",
]


#: what a NumPy dtype kind holds, for messages about arrays that are not real numbers
KIND_NAMES = {
    "c": "complex numbers",
    "M": "dates and times",
    "m": "time deltas",
    "U": "strings",
    "S": "bytes",
    "O": "Python objects",
    "V": "structured records",
}


def not_real_numbers(name: str, source: object, dtype: np.dtype) -> ChainruleError:
    """The error for an array ``name`` (in ``source``) whose dtype is not bool, int, uint or float."""
    text = str(dtype)
    text = text if len(text) <= 60 else text[:57] + "..."
    return ChainruleError(
        f"{name} in {source} has dtype {text} ({KIND_NAMES.get(dtype.kind, 'not numbers')}); "
        f"{name} must hold real numbers (bool, int, uint or float)"
    )


def undefined_methods(cls: type, base: type, names: tuple[str, ...]) -> list[str]:
    """The methods among ``names`` that subclass ``cls`` leaves as ``base`` has them (unimplemented)."""
    return [m for m in names if getattr(cls, m) is getattr(base, m)]


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


def as_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]``; a clear error for ``None``, ``1.5``, ``"abc"``, ``True``.

    >>> as_int("epochs", 3, low=1)
    3
    >>> as_int("epochs", 1.5, low=1)
    Traceback (most recent call last):
    ...
    chainrule.errors.ChainruleError: epochs must be a whole number >= 1; got 1.5 (float)
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if not ok and isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        ok, value = True, int(value)  # 10.0 is a whole number
    rule = _bounds(low, high, False, False)
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        raise ChainruleError(
            f"{name} must be a whole number{' ' + rule if rule else ''}; got {shown(value)} ({type(value).__name__})"
        )
    return int(value)


def as_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite Python float within the bounds (open or closed at each end).

    >>> as_float("lr", "a", low=0, low_open=True)
    Traceback (most recent call last):
    ...
    chainrule.errors.ChainruleError: lr must be a finite number > 0; got 'a' (str)
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    try:
        x = float(value) if ok else math.nan
    except (OverflowError, ValueError, TypeError):  # an int beyond float's range, a broken __float__
        x = math.nan
    bad = (
        not math.isfinite(x)
        or (low is not None and (x < low or (low_open and x == low)))
        or (high is not None and (x > high or (high_open and x == high)))
    )
    if bad:
        rule = _bounds(low, high, low_open, high_open)
        raise ChainruleError(
            f"{name} must be a finite number{' ' + rule if rule else ''}; got {shown(value)} ({type(value).__name__})"
        )
    return x


def as_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (or NumPy bool); ``"no"`` or ``0.5`` are errors, not truthy."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ChainruleError(f"{name} must be True or False; got {shown(value)} ({type(value).__name__})")


def as_seed(name: str, seed: Any) -> np.random.Generator:
    """A NumPy Generator from ``seed``: None, a whole number >= 0, a SeedSequence or a Generator."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ChainruleError(
        f"{name} must be None, a whole number >= 0 or a numpy Generator; got {shown(seed)} ({type(seed).__name__})"
    )


def as_numeric(name: str, values: Any, dtype: np.dtype) -> np.ndarray:
    """``values`` as an array of ``dtype``; a clear error for strings, objects, complex numbers."""
    try:
        arr = np.asarray(values)
    except RecursionError:  # a list nested thousands deep
        raise ChainruleError(f"{name} could not be read as a numeric array: it is nested too deeply") from None
    except MemoryError:
        raise ChainruleError(f"{name} could not be read as a numeric array: it does not fit in memory") from None
    except Exception as exc:  # noqa: BLE001 - ragged nested lists, a broken __len__ or __array__, ...
        raise ChainruleError(
            f"{name} could not be read as a numeric array: {type(exc).__name__}: {shown(str(exc))}"
        ) from None
    if arr.dtype.kind == "O":
        for i, v in zip(np.ndindex(arr.shape), arr.flat):
            if isinstance(
                v, (str, bytes, complex, np.complexfloating, np.timedelta64, np.datetime64)
            ) or not isinstance(v, (int, float, np.number)):
                where = ", ".join(map(str, i))
                raise ChainruleError(
                    f"{name} must be numeric; it holds {shown(v)} ({type(v).__name__}) at [{where}], not a number"
                )
        try:
            arr = arr.astype(np.float64)
        except OverflowError:  # a Python int beyond float's range
            i = next(i for i, v in zip(np.ndindex(arr.shape), arr.flat) if abs(v) > 1.7976931348623157e308)
            where = ", ".join(map(str, i))
            raise ChainruleError(
                f"{name} holds {shown(arr[i])} at [{where}], too large for a floating-point number"
            ) from None
    if arr.dtype.kind not in "biuf":
        raise ChainruleError(
            f"{name} must be numeric (bool, int or float); got dtype {arr.dtype} "
            f"({KIND_NAMES.get(arr.dtype.kind, 'not numbers')})"
        )
    if arr.dtype == dtype:
        return arr
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf: the finiteness checks name it
        return arr.astype(dtype)


def _all_finite(arr: np.ndarray) -> bool:
    """Whether every value of ``arr`` is finite (the caller silences overflow warnings).

    A sum of squares is finite exactly when every term is finite unless it overflows, and a BLAS
    dot product computes it several times faster than an elementwise test; the elementwise test
    runs only when the dot product is not finite.
    """
    flat = arr.reshape(-1)
    return bool(np.isfinite(np.dot(flat, flat))) or bool(np.isfinite(arr).all())


def all_finite(arr: np.ndarray) -> bool:
    """Whether every value of ``arr`` is finite."""
    if arr.size <= 4096:  # small: the elementwise test costs less than silencing the dot's warnings
        return bool(np.isfinite(arr).all())
    with np.errstate(over="ignore", invalid="ignore"):
        return _all_finite(arr)


def check_finite(name: str, arr: np.ndarray, index_names: tuple[str, ...] = ("row", "column")) -> None:
    """Raise if ``arr`` holds NaN or inf, naming the first place where it does."""
    if not all_finite(arr):
        raise_non_finite(name, arr, index_names)


def raise_non_finite(name: str, arr: np.ndarray, index_names: tuple[str, ...]) -> None:
    """Raise the error for the first NaN or inf in ``arr``."""
    where = np.unravel_index(int(np.argmax(~np.isfinite(arr))), arr.shape)
    place = ", ".join(f"{n} {i}" for n, i in zip(index_names, where))
    raise ChainruleError(f"{name} contains {arr[where]} (NaN or inf) at {place}; all values must be finite")


def as_inputs(X: Any, n_0: int, dtype: np.dtype, finite: bool = True) -> np.ndarray:
    """``X`` as a ``(n_samples, n_0)`` array of ``dtype``, checked.

    A 1-D ``X`` is one sample when it has ``n_0`` values (and ``n_0 > 1``), or one value per
    sample when ``n_0 == 1``. ``finite=False`` leaves the NaN/inf scan to the caller (the
    network's checked forward pass finds them in ``z^(1)`` for less).
    """
    X = as_numeric("X", X, dtype)
    if X.ndim == 1:
        if n_0 == 1:
            X = X[:, None]
        elif X.shape[0] == n_0:
            X = X[None, :]
        else:
            raise ChainruleError(
                f"X has {X.shape[0]} values but layer 0 (the input layer) has n_0 = {n_0} nodes; "
                f"expected one sample of {n_0} values or a 2-D array of shape (n_samples, {n_0})"
            )
    if X.ndim != 2:
        raise ChainruleError(f"X must be 2-D, (n_samples, n_0 = {n_0}); got shape {X.shape}")
    if X.shape[1] != n_0:
        raise ChainruleError(
            f"X has {X.shape[1]} columns but layer 0 (the input layer) has n_0 = {n_0} nodes; "
            f"expected shape (n_samples, {n_0}), got {X.shape}"
        )
    if X.shape[0] == 0:
        raise ChainruleError(
            "X has no samples (an empty batch): the cost and its gradient are means over at least one sample"
        )
    if finite:
        check_finite("X", X)
    return X


def as_targets(
    Y: Any,
    n_samples: int,
    n_L: int,
    dtype: np.dtype,
    target_range: tuple[float, float] | None = None,
    finite: bool = True,
) -> np.ndarray:
    """``Y`` as a ``(n_samples, n_L)`` array of ``dtype``, checked.

    ``finite=False`` leaves the NaN/inf scan of target rows to the caller (a non-finite target
    always makes the cost non-finite, so a gradient tests ``C`` and only then scans ``Y``).

    Class labels are accepted where the output layer has several nodes: a 1-D array (or one
    column) of integers ``0..n_L-1`` becomes one-hot rows. A 1-D ``Y`` with ``n_L == 1`` is one
    target per sample. For a single sample, a 1-D ``Y`` of ``n_L`` values is its target row.
    """
    if not isinstance(Y, np.ndarray):
        try:
            Y = np.asarray(Y)
        except Exception:  # noqa: BLE001 - ragged, too deep, a broken container: as_numeric says which
            Y = as_numeric("Y", Y, np.float64)
    Y = as_numeric("Y", Y, Y.dtype if Y.dtype.kind in "biuf" else np.float64)
    if Y.ndim == 0:
        Y = Y.reshape(1)
    if Y.ndim == 1:
        if n_samples == 1 and Y.shape[0] == n_L and n_L > 1:
            Y = Y[None, :]
        elif Y.shape[0] == n_samples and n_L == 1:
            Y = Y[:, None]
        elif Y.shape[0] == n_samples:
            return _one_hot(Y, n_L, dtype)
        else:
            raise ChainruleError(
                f"Y has {Y.shape[0]} values but X has {n_samples} samples (rows); "
                f"expected one label or target per sample, or shape ({n_samples}, {n_L})"
            )
    if Y.ndim != 2:
        raise ChainruleError(f"Y must be 1-D (labels) or 2-D (n_samples, n_L = {n_L}); got shape {Y.shape}")
    if Y.shape[0] != n_samples:
        raise ChainruleError(f"X has {n_samples} samples (rows) but Y has {Y.shape[0]}; they must match")
    if Y.shape[1] == 1 and n_L > 1:
        return _one_hot(Y[:, 0], n_L, dtype)
    if Y.shape[1] != n_L:
        raise ChainruleError(
            f"Y has {Y.shape[1]} columns but the output layer L has n_L = {n_L} nodes; "
            f"expected shape ({n_samples}, {n_L}), got {Y.shape}"
        )
    Y = Y.astype(dtype, copy=False)
    if finite or target_range is not None:
        check_finite("Y", Y)
    if target_range is not None:
        lo, hi = target_range
        if Y.min() < lo or Y.max() > hi:
            bad = np.argwhere((Y < lo) | (Y > hi))[0]
            raise ChainruleError(
                f"Y holds {Y[tuple(bad)]} at row {bad[0]}, column {bad[1]}: this loss needs targets in [{lo:g}, {hi:g}]"
            )
    return Y


def _one_hot(labels: np.ndarray, n_L: int, dtype: np.dtype) -> np.ndarray:
    check_finite("Y", labels.astype(np.float64, copy=False), ("row",))
    if labels.dtype.kind == "f":
        fractional = np.floor(labels) != labels
        if fractional.any():
            i = int(np.argmax(fractional))
            raise ChainruleError(
                f"Y is read as class labels (one per sample, {n_L} output nodes) but holds "
                f"{labels[i]} at row {i}, not a whole number; give labels 0..{n_L - 1} or targets of "
                f"shape (n_samples, {n_L})"
            )
    out_of_range = (labels < 0) | (labels >= n_L)  # before the cast: 1e300 has no int64
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        label = int(labels[i]) if abs(labels[i]) < 2**63 else labels[i]
        raise ChainruleError(
            f"Y holds class label {label} at row {i}, out of range: the output layer has "
            f"n_L = {n_L} nodes, so labels must be 0..{n_L - 1}"
        )
    as_int = labels.astype(np.int64)
    Y = np.zeros((labels.shape[0], n_L), dtype=dtype)
    Y[np.arange(labels.shape[0]), as_int] = 1
    return Y


def as_sample_weight(sample_weight: Any, n_samples: int, dtype: np.dtype) -> np.ndarray:
    """``sample_weight`` as a ``(n_samples,)`` array of non-negative weights with a positive sum,
    scaled so that the largest weight is 1.

    A weighted mean ``sum_i w_i x_i / sum_i w_i`` does not change when every weight is divided by
    the same number; divided by the largest, the weights lie in ``[0, 1]`` and their sum in
    ``[1, n]``, so neither overflows (equal weights of 1e308 give the plain mean, not a zero
    gradient) nor underflows to 0 (weights of 1e-320). The scaling happens in float64 before the
    cast to ``dtype``, so float32 networks take weights beyond float32's range too.
    """
    w = as_numeric("sample_weight", sample_weight, np.float64)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ChainruleError(f"sample_weight must have shape ({n_samples},), one weight per sample; got {w.shape}")
    check_finite("sample_weight", w, ("sample",))
    if (w < 0).any():
        i = int(np.argmax(w < 0))
        raise ChainruleError(f"sample_weight holds {w[i]} at sample {i}; weights must be >= 0")
    top = w.max()
    if not top > 0:
        raise ChainruleError("sample_weight sums to zero: a weighted mean needs at least one positive weight")
    return (w / top).astype(dtype, copy=False)
