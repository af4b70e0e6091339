"""Which engine computes a mean gradient: the compiled kernels (numba) or NumPy.

Both compute the same equations (see :mod:`chainrule.backprop`); the tests run on each. The
compiled kernel does a whole forward and backward pass in one call, which is what makes a small
network's gradient fast: there the time goes to the Python around ~30 NumPy calls, not to
arithmetic. Large networks spend their time in matrix products, which NumPy's BLAS does; compiled
loops then do only the work between the products, in fewer passes.

Backends:

* ``"auto"`` (default when numba is installed): the whole pass compiled for networks and
  batches up to :data:`COMPILED_WORK` multiply-adds per product sweep; above, NumPy's BLAS does
  the matrix products and compiled loops do everything between them in one pass per layer
  (bias, activation and NaN test; loss; ``delta``; the mean and ``db``) instead of NumPy's
  several; per-sample gradients write their outer products with the threaded kernel;
* ``"numba"``: the whole pass compiled wherever the kernel applies (every built-in activation
  and loss but ``exp`` and ``poisson``: a network with either, like one with a custom activation
  or loss, is computed by NumPy on every backend);
* ``"numpy"``: NumPy only (default without numba).

The environment variable ``CHAINRULE_BACKEND`` sets the backend at import.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import os
import sys
import warnings
import weakref
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from ..activations import _LOG_MAX, ACTIVATIONS
from ..errors import ChainruleError, shown
from ..losses import LOSSES, Loss
from .codes import ACTIVATION_CODES, LOSS_CODES


def _numba_installed() -> bool:
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError, AttributeError):
        return False


_installed = _numba_installed()  # looked up, not imported: importing numba takes 0.15 s
_kernels: Any = None  # chainrule.engine.kernels, imported on first use

__all__ = ["BACKENDS", "backend", "get_backend", "set_backend"]

BACKENDS = ("auto", "numba", "numpy")

#: activation and loss names the compiled kernels know, with their codes for them (the one table:
#: chainrule.engine.kernels reads its constants from here)

#: ``n_samples x sum_l n_l n_(l-1)`` at or below which "auto" uses the compiled kernel. Up to
#: here every matrix product of the kernel stays below OpenBLAS's threading threshold
#: (m n k = 4 x 65536), so its BLAS (SciPy's) never wakes worker threads, which would spin on
#: the cores beside NumPy's own BLAS threads; above it, products dominate and NumPy does them.
COMPILED_WORK = 1 << 18

#: the process-wide default (what :func:`set_backend` sets) and the choice of the current context
#: (what ``with backend(...)`` sets): a ContextVar, so threads and asyncio tasks each see their own
_default = ["auto" if _installed else "numpy"]
_choice: contextvars.ContextVar[str | None] = contextvars.ContextVar("chainrule_backend", default=None)


def _current() -> str:
    """The backend in force here: the context's choice, else the process default."""
    choice = _choice.get()
    return _default[0] if choice is None else choice


_announced = [False]  # whether the one line about compiling has been printed in this process


def _cache_is_warm(module: Any) -> bool:
    """Whether numba's cache holds the main kernels compiled for this source (no compiling ahead).

    Reads numba's cache index (in ``__pycache__`` beside ``_kernels.py``, or ``NUMBA_CACHE_DIR``);
    an index written for an older source counts as empty, as numba itself treats it. Anything
    unexpected (a numba without these internals) counts as warm: better no word than a wrong one.
    """
    try:
        for kernel in (module.mean_gradient, module.layer_forward, module.layer_backward):
            if not kernel._cache._cache_file._load_index():
                return False
    except Exception:  # noqa: BLE001 - numba internals: never let the check itself fail
        return True
    return True


def _announce_compiling(module: Any) -> None:
    """Say once per process, on stderr, that the kernels are being compiled (about 10 s) when
    numba's cache is cold; later runs load them from the cache and print nothing."""
    if _announced[0]:
        return
    _announced[0] = True
    if not _cache_is_warm(module) and sys.stderr is not None:
        try:
            sys.stderr.write(
                "chainrule: compiling the fast kernels once (about 10 s); later runs load them from the cache\n"
            )
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed or broken stderr: the notice is only a courtesy
            pass


def _load() -> bool:
    """Import the compiled kernels (once); False, and NumPy from then on, when that fails: numba
    not importable (a NumPy newer than the installed numba supports, for example), or no writable
    place for numba's cache of compiled kernels."""
    global _kernels, _installed
    if _kernels is None and _installed:
        try:
            from . import kernels as kernels_module
        except Exception as exc:  # noqa: BLE001 - any failure here leaves the NumPy path, which always works
            _installed = False
            if _default[0] == "auto":
                _default[0] = "numpy"
            warnings.warn(
                f"the compiled kernels could not be loaded ({exc}); chainrule computes on NumPy", RuntimeWarning, 2
            )
        else:
            _announce_compiling(kernels_module)
            _kernels = kernels_module
    return _kernels is not None


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or name not in BACKENDS:
        raise ChainruleError(f"unknown backend {shown(name)}; the backends are {', '.join(BACKENDS)}")
    if name == "numba" and not _load():
        raise ChainruleError("the numba backend needs numba: pip install numba (or pip install 'chainrule[fast]')")
    return name


def set_backend(name: str) -> str:
    """Use backend ``name`` (``"auto"``, ``"numba"`` or ``"numpy"``) from now on; returns the previous one.

    Sets the process-wide default, which every thread sees unless it is inside a
    ``with backend(...)`` block; inside such a block it also changes the block's choice (until
    the block ends).
    """
    name = _check_name(name)
    previous = _current()
    _default[0] = name
    if _choice.get() is not None:
        _choice.set(name)
    return previous


def get_backend() -> str:
    """The backend in use in this thread (or asyncio task)."""
    return _current()


@contextlib.contextmanager
def backend(name: str) -> Iterator[str]:
    """Use backend ``name`` inside a ``with`` block.

    The choice belongs to the current context (thread or asyncio task): blocks in two threads
    entered and left in any order each see their own backend and leave the default as it was.
    A new thread starts from the default (:func:`set_backend`); to carry the block's choice into
    worker threads, run them in ``contextvars.copy_context()``.

    >>> import chainrule as cr
    >>> with cr.backend("numpy"):
    ...     cr.get_backend()
    'numpy'
    """
    token = _choice.set(_check_name(name))
    try:
        yield name
    finally:
        _choice.reset(token)


if os.environ.get("CHAINRULE_BACKEND"):
    set_backend(os.environ["CHAINRULE_BACKEND"])


class Plan(NamedTuple):
    """What the compiled kernel needs to know of a network, as arrays."""

    activations: tuple  # the network's activation objects this plan was made for
    sizes: np.ndarray
    codes: np.ndarray
    alphas: np.ndarray
    layers: tuple  # (code, alpha) per layer as Python numbers, for calls from Python
    work: int
    pad: int
    logmax: float


_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _plan_for(net: Any) -> Plan | None:
    gs = net.g._values
    codes = []
    for g in gs:
        code = ACTIVATION_CODES.get(g.name)
        if code is None or type(g) is not ACTIVATIONS[g.name]:  # a custom activation: NumPy computes it
            return None
        codes.append(code)
    sizes = net.sizes
    return Plan(
        activations=tuple(gs),
        sizes=np.array(sizes, dtype=np.int64),
        codes=np.array(codes, dtype=np.int64),
        alphas=np.array([getattr(g, "alpha", 0.0) for g in gs]),
        layers=tuple((code, float(getattr(g, "alpha", 0.0))) for code, g in zip(codes, gs)),
        work=sum(sizes[l] * sizes[l - 1] for l in range(1, len(sizes))),
        pad=64 // net.dtype.itemsize,
        logmax=_LOG_MAX[net.dtype.char],
    )


def compiled_plan(net: Any, loss: Loss, n: int) -> tuple[Plan, int, bool] | None:
    """The plan, the loss code and whether the whole pass is compiled (else only what lies
    between the matrix products) when compiled code computes this gradient; else None."""
    choice = _choice.get() or _default[0]  # _current(), inlined: this runs on every gradient
    if choice == "numpy" or (_kernels is None and not _load()):
        return None
    loss_code = LOSS_CODES.get(loss.name)
    if loss_code is None or type(loss) is not LOSSES[loss.name]:
        return None
    entry = _plans.get(net)
    if entry is None or entry.activations != tuple(net.g._values):
        entry = _plan_for(net)
        if entry is None:
            return None
        _plans[net] = entry
    return entry, loss_code, choice == "numba" or n * entry.work <= COMPILED_WORK


def optional_kernels() -> Any:
    """The compiled kernels module when the current backend may use it (numba installed and
    loadable, backend not ``"numpy"``), else None: for callers with a NumPy fallback of their own."""
    if _current() == "numpy" or (_kernels is None and not _load()):
        return None
    return _kernels


def kernels() -> Any:
    """The compiled kernels module (only called when a plan exists, so numba is there)."""
    return _kernels


_blas: list[Any] = []  # threadpoolctl's controller of the BLAS libraries loaded (made on first use)


def compiled_outer_products() -> tuple[Any, contextlib.AbstractContextManager]:
    """The per-sample outer-product kernel and the context to run the whole per-sample gradient
    in; ``(None, nullcontext())`` on the NumPy backend.

    With threadpoolctl, the kernel runs on every core and BLAS on one thread meanwhile, as
    scikit-learn's KMeans limits BLAS around its OpenMP loops: BLAS's idle workers spin for a
    while after each threaded product, on the very cores the kernel's threads need (measured: a
    threaded kernel right after threaded products ran slower than a single-threaded one).
    Without threadpoolctl the kernel runs on one thread.
    """
    if _current() == "numpy" or (_kernels is None and not _load()):
        return None, contextlib.nullcontext()
    if not _blas:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas.append(None)
        else:
            _blas.append(ThreadpoolController())
    if _blas[0] is None:
        return _kernels.outer_products, contextlib.nullcontext()
    return _kernels.outer_products_threaded, _blas[0].limit(limits=1, user_api="blas")
