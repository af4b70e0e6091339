"""scikit-learn's MLP estimators, computed by chainrule (extra ``sklearn``).

:class:`MLPClassifier` and :class:`MLPRegressor` are drop-in replacements for
``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor``: the same constructor (every
parameter, its default and its meaning), the same methods, the same fitted attributes, the same
training. They draw the initial weights, shuffle the samples, split off the early-stopping
validation set and step the solvers exactly as scikit-learn does, so the same ``random_state``
gives the same model (to rounding). What differs is underneath: every gradient is chainrule's
backpropagation (compiled with numba when it is installed), the solvers step all parameters as
one vector, and a fitted estimator can explain any of its weights in the article's three terms
(:meth:`~MLPClassifier.explain`) and give per-sample gradients (:meth:`~MLPClassifier.gradients`).

What is trained, as in scikit-learn (``n`` samples of a batch, ``w_i`` their weights, all 1
without ``sample_weight``):

* the classifiers: the cross-entropy of a softmax output (several classes), of one logistic
  output (two classes: ``coefs_[-1]`` has one column) or of one logistic output per label
  (multilabel ``y``, an indicator matrix), averaged over the samples;
* the regressor: half the squared error averaged over the samples and the outputs,
  ``(1 / (2 n n_L)) sum_i sum_j (a_ij - y_ij)^2`` (``loss="squared_error"``), or half the Poisson
  deviance of an exponential output summed over the outputs (``loss="poisson"``);
* plus the L2 penalty ``alpha ||W||^2 / (2 sum_i w_i)`` over the weights of the batch (not the
  biases): scikit-learn's scaling, which is weaker the larger the batch.

Loss scales against the article. The article's ``squared_error`` cost,
``(1 / n) sum_i sum_j (a_ij - y_ij)^2``, has ``2 n_L`` times the gradient of the regressor's loss.
One difference from scikit-learn, on purpose: for several outputs scikit-learn's training gradient
is ``n_L`` times the gradient of its own loss (scikit-learn issue #8349; it is half the article's
gradient for any ``n_L``), while here the gradient is the loss's own. With one output the two
agree; with ``n_L`` outputs SGD here takes ``n_L`` times smaller steps for the same
``learning_rate_init`` (Adam's steps barely change: it divides by the gradient's size).

Sparse ``X`` (SciPy CSR or CSC) stays sparse: the first layer's products ``X W^T`` and
``delta^T X`` are sparse products, the other layers dense. ``float32`` ``X`` trains and predicts in
float32. ``coefs_[i]`` is ``(n_in, n_out)``, the transpose of chainrule's ``W[i + 1]``; it is a view
of the network's own parameters, so editing it in place, or assigning new arrays to
``coefs_[i]``, ``intercepts_[i]`` or the lists themselves, changes what the model computes.
``network_`` is the :class:`~chainrule.Network` behind them. To bring a network trained by
scikit-learn itself into chainrule, see :func:`chainrule.interop.from_sklearn`.

Under scikit-learn's ``array_api_dispatch`` (``sklearn.config_context(array_api_dispatch=True)``),
a dense ``X`` of another array library (a PyTorch tensor on any device, array-api-strict, ...)
trains in that library and on its device: ``X`` and ``y`` are checked (and the labels encoded)
with NumPy, the weights are drawn and the samples shuffled by the same NumPy ``RandomState``,
then every batch is taken on the device, its gradient is the article's algorithm there
(:func:`chainrule.article.gradients`) and the solver steps the network's parameter vector there
(L-BFGS: SciPy's optimizer steps a NumPy copy, the loss and gradient are computed on the device).
The same ``random_state`` gives the NumPy fit's model, to rounding; ``coefs_``, ``intercepts_``,
``network_`` (a :class:`chainrule.arrays.ArrayNetwork`) and predictions are in ``X``'s library
and device, and predicting needs arrays of that library and device.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device

try:
    import scipy.optimize
    import scipy.sparse
    from sklearn import get_config as sklearn_config
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError("chainrule.sklearn needs scikit-learn: pip install 'chainrule[sklearn]'") from exc

from . import article
from ._sklearn_solvers import AdamSolver, SGDSolver, _penalize, _placed
from ._validation import as_bool, as_float, as_int, as_sample_weight
from .activations import ACTIVATIONS
from .arrays import _to_numpy
from .backprop import Gradients, gradients
from .engine.paths import _gradients, workspace
from .errors import ChainruleError, shown, unknown_name
from .explain import Explanation, explain
from .interop import SKLEARN_ACTIVATIONS as _SKLEARN_ACTIVATIONS
from .losses import Loss, get_loss
from .network import Network, parameter_views
from .train import _clone, _finite, _verbose

__all__ = ["InputTypeError", "MLPClassifier", "MLPRegressor"]

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_SOLVERS = ("lbfgs", "sgd", "adam")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_REGRESSION_LOSSES = ("squared_error", "poisson")
#: scikit-learn's output activations -> chainrule's
_OUTPUTS = {"softmax": "softmax", "logistic": "sigmoid", "identity": "identity", "exp": "exp"}
_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and need to be preprocessed."
)


class InputTypeError(ChainruleError, TypeError):
    """``X`` or ``y`` of a type scikit-learn's validation refuses with a TypeError (a ``np.matrix``, a
    string where an array belongs): a ChainruleError that is still the TypeError its conventions expect."""


def _validate(estimator: Any, *args: Any, **kwargs: Any) -> Any:
    """scikit-learn's ``validate_data``, with what it refuses raised as a ChainruleError (its
    message kept, cut to a few lines), so one ``except ChainruleError`` serves every public call."""
    try:
        return validate_data(estimator, *args, **kwargs)
    except ChainruleError:
        raise
    except (ValueError, TypeError) as exc:
        text = " ".join(str(exc).split())
        if len(text) > 400:
            text = text[:300] + " ... " + text[-80:]
        raise (InputTypeError if isinstance(exc, TypeError) else ChainruleError)(text) from None


def _other_library(X: Any) -> bool:
    """Whether ``X`` is another array library's array (a tensor, ...) under scikit-learn's
    ``array_api_dispatch``; without dispatch, scikit-learn's validation makes it NumPy."""
    if isinstance(X, np.ndarray) or scipy.sparse.issparse(X) or not sklearn_config()["array_api_dispatch"]:
        return False
    from array_api_compat import is_array_api_obj

    return is_array_api_obj(X)


def _params(net: Network) -> Any:
    """The network's parameter vector: NumPy's ``_flat``, or an ArrayNetwork's ``_vector`` in its library."""
    return net._flat if net._flat is not None else net._vector  # type: ignore[attr-defined]


def _holds(values: Any, views: tuple[np.ndarray, ...]) -> bool:
    """Whether the list ``values`` still holds exactly the arrays ``views`` (not copies, not others)."""
    return isinstance(values, list) and len(values) == len(views) and all(a is b for a, b in zip(values, views))


def _tail(net: Network) -> Network:
    """Layers ``2..L`` of ``net`` as a network of their own, sharing ``net``'s parameter memory
    (its parameters are the end of ``net``'s vector): the dense part of a pass on sparse ``X``."""
    tail = Network._unfilled(net.sizes[1:], net.g.to_list()[1:], net.bias, net.dtype)
    start = net.sizes[0] * net.sizes[1] + (net.sizes[1] if net.bias else 0)
    tail._flat = net._flat[start:]
    Ws, bs = parameter_views(tail._flat, tail.sizes, net.bias)
    for l, (W, b) in enumerate(zip(Ws, bs or [None] * len(Ws)), start=1):
        tail.W._values[l - 1] = W
        if b is not None:
            tail.b._values[l - 1] = b  # type: ignore[union-attr]
    return tail


_SCIPY_BLAS: list[Any] = []  # [a threadpoolctl selection of SciPy's own BLAS, or None], made once


def _scipy_blas_one_thread() -> Any:
    """SciPy's own BLAS (a separate OpenBLAS in SciPy's wheels) limited to one thread.

    L-BFGS-B's linear algebra works on vectors and ``m x m`` matrices (``m = 10``): threads cannot
    help it, and their start-up and spinning cost about 5 ms per iteration on a 2-core machine (7 ms
    against 0.2 ms on a 4,810-parameter problem), more than a gradient of digits. NumPy's BLAS,
    which computes the gradients' matrix products, keeps its threads.
    """
    if not _SCIPY_BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            controller = ThreadpoolController()
            # SciPy's wheels bring libscipy_openblas in scipy.libs; NumPy's (libscipy_openblas64_ too) is in numpy.libs
            own = [
                c.filepath
                for c in controller.lib_controllers
                if c.user_api == "blas" and "scipy" in c.filepath and "numpy" not in c.filepath
            ]
            _SCIPY_BLAS.append(controller.select(filepath=own) if own else None)
        except Exception:  # noqa: BLE001 - threadpoolctl missing or unable to read a library: leave threads as they are
            _SCIPY_BLAS.append(None)
    selection = _SCIPY_BLAS[0]
    return contextlib.nullcontext() if selection is None else selection.limit(limits=1)


class _Objective:
    """scikit-learn's training loss of one batch and its gradient, by chainrule's backpropagation.

    The data term is the (weighted) mean over the batch of the chainrule loss; the penalty
    is ``alpha ||W||^2 / (2 sum w)`` over the weights (``mask`` is 1 on them, 0 on the biases).
    :meth:`data` gives the data term and its gradient (the stochastic solvers fold the penalty
    into their step); calling the objective gives the whole loss and gradient (L-BFGS). The
    gradient is one vector in the layout of the parameter vector (``net._flat``), valid until the
    next call. Sparse ``X`` takes the first layer by sparse products and layers ``2..L`` by the engine.

    A network of another array library (:class:`~chainrule.arrays.ArrayNetwork`, trained under
    scikit-learn's ``array_api_dispatch``) takes the article's algorithm
    (:func:`chainrule.article.gradients`) in that library and on its device: ``X``, ``Y`` and ``w``
    are arrays there, and the loss comes back as a 0-d array there (no wait for the device).
    """

    def __init__(self, net: Network, loss: Loss, alpha: float) -> None:
        self.net, self.loss, self.alpha = net, loss, alpha
        self.spaces: dict[int, Any] = {}
        self.params = _params(net)
        mask = np.zeros(net.n_params, dtype=net.dtype)
        for W in parameter_views(mask, net.sizes, net.bias)[0]:
            W[...] = 1
        self.on_host = net._flat is not None
        if self.on_host:
            self.mask, self.tmp = mask, np.empty_like(net._flat)
        else:
            self.mask, self.tmp = net.xp.asarray(mask, device=net.device), None
            self.article = (net.W.to_list(), None if net.b is None else net.b.to_list(), net.g.to_list())
        self.tail: Network | None = None
        self.sparse_grad: np.ndarray | None = None

    def data(self, X: Any, Y: Any, w: Any) -> tuple[Any, Any]:
        """The data term of the loss on this batch and its gradient (NaN and inf pass through)."""
        if not self.on_host:
            g = article.gradients(*self.article, X, Y, self.loss, sample_weight=w)
            return g.C, self.net.flat_gradient(g.dW, g.db)  # type: ignore[attr-defined]
        if scipy.sparse.issparse(X):
            C, grad = self._sparse(X, Y, w)
        else:
            space = self.spaces.get(X.shape[0])
            if space is None:
                space = self.spaces[X.shape[0]] = workspace(self.net, X.shape[0])
            g = _gradients(self.net, X, Y, self.loss, per_sample=False, w=w, out=space, teach=False)
            C, grad = g.C, space.flat
        return C, grad

    def __call__(self, X: Any, Y: Any, w: Any, w_sum: float) -> tuple[Any, Any]:
        """The whole loss on this batch, penalty included, and its gradient."""
        C, grad = self.data(X, Y, w)
        c = self.alpha / w_sum
        xp = np if self.on_host else self.net.xp  # type: ignore[attr-defined]
        return C + 0.5 * c * _penalize(self.params, grad, c, self.mask, self.tmp, xp), grad

    def _sparse(self, X: Any, Y: np.ndarray, w: np.ndarray | None) -> tuple[float, np.ndarray]:
        """Layer 1 by sparse products (``z = X W^T + b``; ``dC/dW = (s delta)^T X``), the rest by the engine."""
        net = self.net
        if self.tail is None:
            self.tail = _tail(net)
            self.sparse_grad = np.empty_like(net._flat)
        tail, grad = self.tail, self.sparse_grad
        W1, g1 = net.W[1], net.g[1]
        z1 = np.asarray(X @ W1.T)
        if net.b is not None:
            z1 += net.b[1]
        a1 = g1.g(z1)
        gt = _gradients(tail, a1, Y, self.loss, per_sample=False, w=w)
        da1 = gt.delta[1] @ tail.W[1]  # dC0/da^(1) = sum_j w_jk^(2) delta_j^(2)
        d1 = g1.backward(z1, a1, da1)
        d1 *= (1.0 / X.shape[0]) if w is None else (w / w.sum())[:, None]
        dW, db = parameter_views(grad, net.sizes, net.bias)
        np.copyto(dW[0], np.asarray(X.T @ d1).T)
        start = dW[0].size
        if net.b is not None:
            np.add.reduce(d1, axis=0, out=db[0])
            start += db[0].size
        grad[start:] = gt.flat()
        return gt.C, grad


class _Batches:
    """An epoch's minibatches in a given order: ``(X, Y, w, sum of the weights)``, the dense ones
    gathered into buffers made once (contiguous, no allocation per step), sparse ones by row
    indexing. A batch whose weights are all 0 counts for nothing and is skipped."""

    def __init__(self, X: Any, Y: Any, w_raw: np.ndarray | None, w: Any, batch_size: int) -> None:
        self.X, self.Y, self.w_raw, self.w, self.size = X, Y, w_raw, w, batch_size
        self.dense = not scipy.sparse.issparse(X)
        self.buffers: dict[int, tuple[Any, ...]] = {}

    def plan(self, order: np.ndarray | None) -> Any:
        """Each batch to take: ``(slice of the epoch, its rows of X, the sum of its raw weights)``;
        the rows are the slice itself without ``order``. All on the host (no device is waited for)."""
        n, w_raw = self.X.shape[0], self.w_raw
        for start in range(0, n, self.size):  # sklearn.utils.gen_batches, without its checks on every call
            batch = slice(start, min(start + self.size, n))
            idx: Any = batch if order is None else order[batch]
            if w_raw is None:
                yield batch, idx, float(batch.stop - batch.start)
            else:
                w_sum = float(w_raw[idx].sum())
                if w_sum > 0:
                    yield batch, idx, w_sum

    def epoch(self, order: np.ndarray | None) -> Any:
        X, Y, w = self.X, self.Y, self.w
        for batch, idx, w_sum in self.plan(order):
            if order is None:
                Xb, Yb = X[batch], Y[batch]
            elif self.dense:
                count = batch.stop - batch.start
                bufs = self.buffers.get(count)
                if bufs is None:
                    bufs = self.buffers[count] = (
                        np.empty((count, X.shape[1]), X.dtype),
                        np.empty((count, Y.shape[1]), Y.dtype),
                    )
                Xb, Yb = np.take(X, idx, axis=0, out=bufs[0]), np.take(Y, idx, axis=0, out=bufs[1])
            else:
                Xb, Yb = X[idx], Y[idx]
            yield Xb, Yb, None if w is None else w[idx], w_sum


class _DeviceBatches(_Batches):
    """:class:`_Batches` of another array library's ``X``, ``Y`` (and engine weights ``w``), taken on
    their device: the epoch's order (drawn on the host) goes there once, each batch is a slice
    or a ``take`` of it; the weights' sums come from the raw weights on the host."""

    def __init__(self, X: Any, Y: Any, w_raw: np.ndarray | None, w: Any, batch_size: int, xp: Any) -> None:
        super().__init__(X, Y, w_raw, w, batch_size)
        self.xp = xp

    def epoch(self, order: np.ndarray | None) -> Any:
        xp, X, Y, w = self.xp, self.X, self.Y, self.w
        rows = None if order is None else xp.asarray(order, device=device(X))
        for batch, _, w_sum in self.plan(order):
            if rows is None:
                Xb, Yb, wb = X[batch, ...], Y[batch, ...], None if w is None else w[batch]
            else:
                sel = rows[batch]
                Xb, Yb = xp.take(X, sel, axis=0), xp.take(Y, sel, axis=0)
                wb = None if w is None else xp.take(w, sel, axis=0)
            yield Xb, Yb, wb, w_sum


class _BaseMLP(BaseEstimator):
    """What the two estimators share: hyper-parameters, the network, the solvers."""

    _hidden_name_map = _SKLEARN_ACTIVATIONS

    # ---------------------------------------------------------------- hyper-parameters
    def _keep(self, params: dict[str, Any]) -> None:
        """Store the constructor's arguments as they are, as scikit-learn's estimators do (each
        ``__init__`` passes its ``locals()``; checking them waits for ``fit``)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _check_params(self) -> None:
        """Every hyper-parameter checked before any work, as scikit-learn's estimators do in ``fit``;
        a bad one raises ChainruleError (a ValueError) naming it, what it must be and what it is."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (numbers.Integral, np.integer)) and not isinstance(sizes, (bool, np.bool_)):
            sizes = [sizes]
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Iterable, np.ndarray)):
            raise ChainruleError(
                f"hidden_layer_sizes must be a whole number or a sequence of them, e.g. (100,); "
                f"got {shown(self.hidden_layer_sizes)} ({type(self.hidden_layer_sizes).__name__})"
            )
        self._sizes = [as_int("hidden_layer_sizes[i]", n, low=1, high=100_000) for n in list(sizes)]
        names = set(_SKLEARN_ACTIVATIONS) | set(ACTIVATIONS)
        if not isinstance(self.activation, str) or self.activation not in names:
            raise unknown_name("activation", self.activation, names)
        if not isinstance(self.solver, str) or self.solver not in _SOLVERS:
            raise unknown_name("solver", self.solver, _SOLVERS)
        if not isinstance(self.learning_rate, str) or self.learning_rate not in _LEARNING_RATES:
            raise unknown_name("learning_rate", self.learning_rate, _LEARNING_RATES)
        as_float("alpha", self.alpha, low=0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            as_int("batch_size ('auto' or a whole number)", self.batch_size, low=1)
        as_float("learning_rate_init", self.learning_rate_init, low=0, low_open=True)
        as_float("power_t", self.power_t, low=0)
        as_int("max_iter", self.max_iter, low=1)
        as_bool("shuffle", self.shuffle)
        as_float("tol", self.tol, low=0)
        _verbose(self.verbose)
        as_bool("warm_start", self.warm_start)
        as_float("momentum", self.momentum, low=0, high=1)
        as_bool("nesterovs_momentum", self.nesterovs_momentum)
        as_bool("early_stopping", self.early_stopping)
        as_float("validation_fraction", self.validation_fraction, low=0, high=1, high_open=True)
        as_float("beta_1", self.beta_1, low=0, high=1, high_open=True)
        as_float("beta_2", self.beta_2, low=0, high=1, high_open=True)
        as_float("epsilon", self.epsilon, low=0, low_open=True)
        if not (isinstance(self.n_iter_no_change, float) and self.n_iter_no_change == math.inf):
            as_int("n_iter_no_change", self.n_iter_no_change, low=1)  # or numpy.inf: never stop early
        as_int("max_fun", self.max_fun, low=1)
        rs = self.random_state
        if isinstance(rs, np.random.Generator):  # chainrule's kind of seed: one RandomState drawn from it
            rs = np.random.RandomState(int(rs.integers(2**31 - 1)))
        elif not (rs is None or isinstance(rs, np.random.RandomState)):
            if isinstance(rs, (bool, np.bool_)) or not isinstance(rs, numbers.Integral) or not 0 <= rs < 2**32:
                raise ChainruleError(
                    "random_state must be None, a whole number in [0, 2**32), a numpy RandomState or Generator; "
                    f"got {shown(rs)} ({type(rs).__name__})"
                )
        self._random_state_arg = rs
        self._check_loss()

    def _check_loss(self) -> None:
        pass

    # ---------------------------------------------------------------- the network behind coefs_
    def _net(self) -> Network:
        """The network whose parameters ``coefs_`` and ``intercepts_`` are (transposed views for
        ``coefs_``); built anew from them when they were assigned other arrays."""
        cache = self.__dict__.get("_network_cache")
        out = getattr(self, "out_activation_", None)
        if (
            cache is not None
            and cache[3] == (self.activation, out)
            and _holds(self.coefs_, cache[1])
            and _holds(self.intercepts_, cache[2])
        ):
            return cache[0]
        return self._adopt(self._from_attributes())

    def _from_attributes(self) -> Network:
        """A network from ``coefs_``, ``intercepts_``, ``activation`` and ``out_activation_`` as they are."""
        coefs, intercepts = getattr(self, "coefs_", None), getattr(self, "intercepts_", None)
        if not isinstance(coefs, (list, tuple)) or not isinstance(intercepts, (list, tuple)) or not coefs:
            raise ChainruleError(
                "coefs_ and intercepts_ must be lists of arrays, one per layer; got "
                f"{type(coefs).__name__} and {type(intercepts).__name__}"
            )
        if len(coefs) != len(intercepts):
            raise ChainruleError(
                f"coefs_ has {len(coefs)} arrays and intercepts_ {len(intercepts)}; they need one each per layer"
            )
        arrays = [np.asarray(c) for c in coefs]
        dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
        out = getattr(self, "out_activation_", None)
        if out not in _OUTPUTS:
            raise unknown_name("out_activation_", out, _OUTPUTS)
        hidden = self._hidden_name_map.get(self.activation, self.activation)
        acts = [hidden] * (len(arrays) - 1) + [_OUTPUTS[out]]
        try:
            net = Network.from_weights([a.T for a in arrays], list(intercepts), activation=acts, dtype=dtype)
        except ChainruleError as exc:
            raise ChainruleError(f"coefs_ and intercepts_ do not make a network: {exc}") from None
        for what, size, attribute in (
            ("inputs", net.sizes[0], "n_features_in_"),
            ("outputs", net.sizes[-1], "n_outputs_"),
        ):
            fitted = getattr(self, attribute, size)
            if size != fitted:
                raise ChainruleError(
                    f"coefs_ make a network of {size} {what}; this estimator was fitted on {fitted} ({attribute})"
                )
        return net

    def _adopt(self, net: Network) -> Network:
        """Make ``coefs_`` and ``intercepts_`` views of ``net``'s parameters (the same list objects
        when they are lists) and remember them."""
        coef_views = tuple(W.T for W in net.W)
        intercept_views = tuple(net.b) if net.b is not None else ()
        for name, views in (("coefs_", coef_views), ("intercepts_", intercept_views)):
            current = self.__dict__.get(name)
            if isinstance(current, list):
                current[:] = views
            else:
                setattr(self, name, list(views))
        self._network_cache = (net, coef_views, intercept_views, (self.activation, self.out_activation_))
        return net

    @property
    def network_(self) -> Network:
        """The :class:`~chainrule.Network` the estimator computes with (``W[l]`` is ``coefs_[l - 1].T``)."""
        check_is_fitted(self, "coefs_")
        return self._net()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_network_cache", None)  # the network is rebuilt from coefs_ and intercepts_
        return state

    # ---------------------------------------------------------------- initialisation
    def _initialize(self, Y: np.ndarray, layer_units: list[int], dtype: np.dtype) -> None:
        """scikit-learn's first-fit state, and Glorot-uniform weights drawn as scikit-learn draws them."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        hidden = self._hidden_name_map.get(self.activation, self.activation)
        acts = [hidden] * (len(layer_units) - 2) + [_OUTPUTS[self.out_activation_]]
        net = Network._unfilled(layer_units, acts, True, dtype)
        factor = 2.0 if self.activation == "logistic" else 6.0
        for l in range(1, len(layer_units)):
            fan_in, fan_out = layer_units[l - 1], layer_units[l]
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            np.copyto(net.W[l], coef.T, casting="unsafe")
            np.copyto(net.b[l], intercept, casting="unsafe")  # type: ignore[index]
        self.coefs_: list[np.ndarray] = []
        self.intercepts_: list[np.ndarray] = []
        self._adopt(net)
        self._best_parameters = net._flat.copy()
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.best_validation_score_: float | None = -np.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # ---------------------------------------------------------------- training
    def _fit(self, X: Any, y: Any, sample_weight: Any = None, incremental: bool = False) -> _BaseMLP:
        self._check_params()
        # scikit-learn's array API dispatch: X of another library is checked (and y encoded) with
        # NumPy, then the model moves to X's library and device and trains there (_Objective's
        # article path); coefs_, intercepts_ and predictions stay there
        like = X if _other_library(X) else None
        if like is not None:
            X, y = _to_numpy(X), _to_numpy(y)
            sample_weight = None if sample_weight is None else _to_numpy(sample_weight)
        else:
            self._back_to_numpy()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        w_raw = None if sample_weight is None else self._sample_weight(sample_weight, X.shape[0])
        layer_units = [X.shape[1], *self._sizes, Y.shape[1]]
        self._random_state = check_random_state(self._random_state_arg)
        if first_pass:
            self._initialize(Y, layer_units, X.dtype)
        self.n_outputs_ = Y.shape[1]
        net = self._net()
        if list(net.sizes) != layer_units:
            raise ChainruleError(
                f"the network has layers {list(net.sizes)} but this fit needs {layer_units} "
                "(hidden_layer_sizes, or the number of outputs, changed since the weights were made); "
                "fit afresh with warm_start=False"
            )
        X = X.astype(net.dtype, copy=False)
        Y = np.asarray(Y, dtype=net.dtype)
        if like is not None:
            net = self._follow(like)
        objective = _Objective(net, get_loss(self._chainrule_loss()), float(self.alpha))
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(net, objective, X, Y, w_raw, incremental)
        else:
            self._fit_lbfgs(net, objective, X, Y, w_raw)
        return self

    def _follow(self, like: Any) -> Network:
        """Move the model to ``like``'s array library and device (array API dispatch), unless it is
        there already; returns its network."""
        net = self._net()
        if net._flat is None and array_namespace(like) is net.xp and device(like) == net.device:  # type: ignore[attr-defined]
            return net
        try:
            moved = net.to(like)
        except (TypeError, ChainruleError) as exc:  # JAX's arrays, say: immutable, while training writes in place
            raise InputTypeError(
                f"X: a {type(like).__module__}.{type(like).__name__} array under scikit-learn's array_api_dispatch "
                "trains in its own library, which writes the model's parameters in place, and these arrays do not "
                f"allow that ({' '.join(str(exc).split())[:160]}); pass NumPy arrays or another library's "
                "(PyTorch, CuPy, array-api-strict)"
            ) from None
        net = self._adopt(moved)
        if getattr(self, "_best_parameters", None) is not None:
            self._best_parameters = _placed(self._best_parameters, _params(net))
        return net

    def _back_to_numpy(self) -> None:
        """A model that followed another library's X trains on NumPy again (partial_fit, warm_start)."""
        cache = self.__dict__.get("_network_cache")
        if cache is not None and cache[0]._flat is None and _holds(self.coefs_, cache[1]):
            self._adopt(cache[0].to(np))
            if getattr(self, "_best_parameters", None) is not None:
                self._best_parameters = _to_numpy(self._best_parameters)

    @staticmethod
    def _sample_weight(sample_weight: Any, n: int) -> np.ndarray:
        """Validated weights in float64, as given (the L2 penalty divides by their sum)."""
        if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, (bool, np.bool_)):
            sample_weight = np.full(n, sample_weight, dtype=np.float64)  # one weight for all, as scikit-learn allows
        as_sample_weight(sample_weight, n, np.float64)  # numbers, shape, finite, >= 0, a positive sum
        return np.asarray(sample_weight, dtype=np.float64)

    @staticmethod
    def _on_device(net: Network, *arrays: np.ndarray | None) -> list[Any]:
        """NumPy arrays (None stays None) as arrays of ``net``'s library on its device, in its float
        dtype: what an ArrayNetwork trains on. A NumPy network takes them as they are."""
        if net._flat is not None:
            return list(arrays)
        xp, dtype = net.xp, net.xp_dtype(net.dtype)  # type: ignore[attr-defined]
        return [None if a is None else xp.asarray(a, dtype=dtype, device=net.device) for a in arrays]  # type: ignore[attr-defined]

    def _fit_stochastic(
        self, net: Network, objective: _Objective, X: Any, Y: np.ndarray, w_raw: np.ndarray | None, incremental: bool
    ) -> None:
        """scikit-learn's epochs of minibatch SGD or Adam. ``X``, ``Y`` and ``w_raw`` are NumPy's; a
        network of another library trains on their copies on its device (batches taken there, the
        solver stepping its vector there), waiting for the device once or twice per epoch (the
        epoch's loss, finite weights, the validation score), not per batch."""
        p = _params(net)
        on_host = objective.on_host
        optimizer = getattr(self, "_optimizer", None)
        if not incremental or optimizer is None or optimizer.size != net.n_params:
            if self.solver == "sgd":
                self._optimizer: SGDSolver | AdamSolver = SGDSolver(
                    net.n_params,
                    net.dtype,
                    self.learning_rate_init,
                    self.learning_rate,
                    self.momentum,
                    self.nesterovs_momentum,
                    self.power_t,
                )
            else:
                self._optimizer = AdamSolver(
                    net.n_params, net.dtype, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon
                )
        self._optimizer.place(p)
        if self.early_stopping and incremental:
            raise ChainruleError("partial_fit does not support early_stopping=True")
        for name in ("loss_curve_", "validation_scores_"):  # set by a hand-made or older estimator
            if not hasattr(self, name):
                setattr(self, name, [] if name == "loss_curve_" or self.early_stopping else None)
        if not hasattr(self, "_no_improvement_count"):
            self._no_improvement_count = 0
        if not hasattr(self, "best_loss_"):
            self.best_loss_ = None if self.early_stopping else np.inf
        if self.early_stopping and getattr(self, "best_validation_score_", None) is None:
            self.best_validation_score_ = -np.inf
        best = getattr(self, "_best_parameters", None)
        if best is None or tuple(best.shape) != tuple(p.shape):
            self._best_parameters = _clone(p)
        else:
            self._best_parameters = _placed(best, p)
        early_stopping = self.early_stopping
        X_val = y_val = w_val = None
        if early_stopping:
            # stratified for one output, on the 0/1 labels as scikit-learn has them (its messages name True)
            stratify = Y.astype(bool) if (is_classifier(self) and self.n_outputs_ == 1) else None
            parts = [X, Y] + ([] if w_raw is None else [w_raw])
            try:
                split = train_test_split(
                    *parts, random_state=self._random_state, test_size=self.validation_fraction, stratify=stratify
                )
            except ValueError as exc:
                raise ChainruleError(f"early_stopping: {' '.join(str(exc).split())}") from None
            X, X_val, Y, Y_val = split[:4]
            if w_raw is not None:
                w_raw, w_val = split[4], split[5]
            if X_val.shape[0] < 2:
                raise ChainruleError(
                    "The validation set is too small. Increase 'validation_fraction' or the size of your dataset "
                    f"(early_stopping set aside {X_val.shape[0]} of {X_val.shape[0] + X.shape[0]} samples)."
                )
            X_val, Y_val, w_val = self._on_device(net, X_val, Y_val, w_val)
            y_val = self._validation_targets(Y_val)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped", stacklevel=3
                )
            batch_size = int(np.clip(self.batch_size, 1, n))
        w_engine = None if w_raw is None else as_sample_weight(w_raw, n, net.dtype) if w_raw.any() else None
        if on_host:
            batches = _Batches(X, Y, w_raw, w_engine, batch_size)
        else:
            X, Y, w_engine = self._on_device(net, X, Y, w_engine)
            batches = _DeviceBatches(X, Y, w_raw, w_engine, batch_size, net.xp)  # type: ignore[attr-defined]
        sample_idx = np.arange(n)
        # the weights before the last step (NumPy checks each batch's loss) or before the epoch (on a
        # device, checked once per epoch): kept when training diverges
        previous = _clone(p)
        diverged = ""
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:  # sklearn.utils.shuffle(sample_idx, random_state=...), without its overhead
                    order = np.arange(n)
                    self._random_state.shuffle(order)
                    sample_idx = sample_idx[order]
                if not on_host:
                    previous[...] = p
                accumulated: Any = 0.0
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught here
                    for Xb, Yb, wb, w_sum in batches.epoch(sample_idx if self.shuffle else None):
                        C, grad = objective.data(Xb, Yb, wb)
                        if on_host:
                            if not math.isfinite(C):
                                diverged = f"the loss became {C} at epoch {self.n_iter_ + 1}"
                                break
                            np.copyto(previous, p)
                        c = objective.alpha / w_sum
                        C = C + 0.5 * c * self._optimizer.update(p, grad, c, objective.mask)
                        accumulated += C * Xb.shape[0]
                loss = float(accumulated) / n  # on a device: the wait of the epoch
                if not diverged and not on_host and not math.isfinite(loss):
                    diverged = f"the loss became {loss} in epoch {self.n_iter_ + 1}"
                if not diverged and not _finite(p):
                    diverged = f"a weight became NaN or inf in epoch {self.n_iter_ + 1}"
                self.n_iter_ += 1
                self.loss_ = math.nan if diverged else loss
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                if diverged:
                    p[...] = previous
                    if early_stopping:
                        self.validation_scores_.append(math.nan)  # type: ignore[union-attr]
                    break
                self._update_no_improvement_count(early_stopping, X_val, y_val, w_val)
                self._optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            f"Validation score did not improve more than tol={self.tol:f} "
                            f"for {self.n_iter_no_change} consecutive epochs."
                        )
                    else:
                        msg = (
                            f"Training loss did not improve more than tol={self.tol:f} "
                            f"for {self.n_iter_no_change} consecutive epochs."
                        )
                    if self._optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                        "hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=3,
                    )
        except KeyboardInterrupt:
            if not _finite(p):
                p[...] = previous
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if early_stopping:
            p[...] = self._best_parameters  # the best validation epoch's weights
        if diverged:
            if early_stopping:
                warnings.warn(
                    f"Training diverged: {diverged}; the weights of the best validation epoch are kept "
                    f"(validation score {self.best_validation_score_}). Try a smaller learning_rate_init.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            else:
                kept = "last step with a finite loss" if on_host else "epoch before"
                raise ChainruleError(
                    f"{_NON_FINITE} Training diverged: {diverged}; the weights of the {kept} are kept "
                    "(try a smaller learning_rate_init, or scale X)."
                )

    def _validation_targets(self, Y: Any) -> Any:
        """What early stopping scores the predictions against, from the encoded targets ``Y`` of the
        validation rows: the targets themselves (the regressor)."""
        return Y

    def _validation_predict(self, X: Any) -> Any:
        """The predictions early stopping scores (as :meth:`_validation_targets` has the truth)."""
        return self._predict(X, check_input=False)

    def _update_no_improvement_count(self, early_stopping: bool, X: Any, y: Any, sample_weight: Any) -> None:
        """scikit-learn's stopping rule: count the epochs whose validation score (with
        ``early_stopping``) or training loss did not improve on the best by ``tol``."""
        if early_stopping:
            score = self._score(X, y, sample_weight)
            self.validation_scores_.append(score)  # type: ignore[union-attr]
            if self.verbose:
                print(f"Validation score: {score:f}")
            best = self.best_validation_score_
            if score < best + self.tol:  # type: ignore[operator]
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > best:  # type: ignore[operator]
                self.best_validation_score_ = score
                self._best_parameters[...] = _params(self._net())
        else:
            last = self.loss_curve_[-1]
            if last > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last < self.best_loss_:
                self.best_loss_ = last

    def _fit_lbfgs(self, net: Network, objective: _Objective, X: Any, Y: np.ndarray, w_raw: np.ndarray | None) -> None:
        """SciPy's L-BFGS-B on the parameter vector, with chainrule's gradient of the whole set.
        SciPy steps a NumPy vector: a network of another library computes each loss and gradient
        on its device (``X`` and ``Y`` copied there once) and takes the vector there and back."""
        p = _params(net)
        w = None if w_raw is None else as_sample_weight(w_raw, X.shape[0], net.dtype)
        w_sum = float(X.shape[0] if w_raw is None else w_raw.sum())
        X, Y, w = self._on_device(net, X, Y, w)
        on_host = objective.on_host
        last = [math.nan]

        def loss_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
            if on_host:
                np.copyto(p, x, casting="unsafe")
            else:
                p[...] = self._on_device(net, x)[0]
            C, grad = objective(X, Y, w, w_sum)
            last[0] = C = float(C)
            return C, np.array(_to_numpy(grad), dtype=np.float64)  # a copy: SciPy keeps it while the buffer is reused

        iteration = [0]

        def report(xk: np.ndarray) -> None:
            iteration[0] += 1
            print(f"Iteration {iteration[0]}, loss = {last[0]:.8f}")

        with _scipy_blas_one_thread():
            result = scipy.optimize.minimize(
                loss_and_gradient,
                np.array(_to_numpy(p), dtype=np.float64),
                method="L-BFGS-B",
                jac=True,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
                callback=report if self.verbose else None,
            )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        if result.status != 0:
            message = result.message.decode() if isinstance(result.message, bytes) else str(result.message)
            text = f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n{message}\n"
            if self.n_iter_ == self.max_iter:
                text += f"\nIncrease the number of iterations to improve the convergence (max_iter={self.max_iter})."
            text += "\nYou might also want to scale the data as shown in:\n    https://scikit-learn.org/stable/modules/preprocessing.html"
            warnings.warn(text, ConvergenceWarning, stacklevel=3)
        self.loss_ = float(result.fun)
        if on_host:
            np.copyto(p, result.x, casting="unsafe")
        else:
            p[...] = self._on_device(net, result.x)[0]
        if not _finite(p):
            raise ChainruleError(_NON_FINITE)

    # ---------------------------------------------------------------- prediction
    def _same_namespace(self, X: Any, method: str) -> None:
        """``X`` of the array library and device the model was fitted on (as scikit-learn's
        ``check_same_namespace``), else a ValueError that says so."""
        net = self._net()
        if net._flat is not None and not _other_library(X):
            return
        if net._flat is None and _other_library(X):
            if array_namespace(X) is net.xp and device(X) == net.device:
                return
        fitted = "NumPy arrays" if net._flat is not None else f"{net.library} arrays on {net.device}"
        raise ChainruleError(
            f"{type(self).__name__}.{method}(): X must use the same namespace as the data the model was fitted "
            f"on ({fitted}); got {type(X).__module__}.{type(X).__name__} (fit and predict under the same "
            "scikit-learn array_api_dispatch setting, with arrays of one library and device)"
        )

    def _forward(self, X: Any) -> Any:
        """``a^(L)`` for validated ``X`` (dense or sparse), in the network's array library."""
        net = self._net()
        if net._flat is None:  # the model followed another library's X: compute there
            return net.predict(X)
        X = X.astype(net.dtype, copy=False)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if scipy.sparse.issparse(X):
                z1 = np.asarray(X @ net.W[1].T)
                if net.b is not None:
                    z1 += net.b[1]
                a1 = net.g[1].g(z1)
                return a1 if net.L == 1 else net._output(a1, start=2)[1]
            return net._output(X)[1]

    def _check_input(self, X: Any, method: str) -> Any:
        check_is_fitted(self, "coefs_")
        self._same_namespace(X, method)
        dtype = None if _other_library(X) else [np.float64, np.float32]  # another library's X keeps its float dtype
        return _validate(self, X, accept_sparse=["csr", "csc"], reset=False, dtype=dtype)

    def _score_with_function(self, X: Any, y: Any, sample_weight: Any, score_function: Any) -> float:
        """Early stopping's validation score (NaN for non-finite predictions); in the model's array
        library when it trains on another's (scikit-learn's scorers take those arrays under dispatch)."""
        y_pred = self._validation_predict(X)
        if isinstance(y_pred, np.ndarray):
            if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
                return math.nan
        else:
            xp = array_namespace(y_pred)
            if xp.isdtype(y_pred.dtype, "real floating") and not bool(xp.all(xp.isfinite(y_pred))):
                return math.nan
        return float(score_function(y, y_pred, sample_weight=sample_weight))

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic."
            )
        return True

    # ---------------------------------------------------------------- beyond scikit-learn
    def _targets_for(self, y: Any) -> np.ndarray:
        raise NotImplementedError

    def gradients(self, X: Any, y: Any, *, per_sample: bool = False) -> Gradients:
        """:func:`chainrule.gradients` of the training loss's data term (without the L2 penalty)
        at the fitted weights: the mean over ``X``'s rows, or each row's own with ``per_sample=True``.

        The loss is the one the estimator trains with, by its chainrule name: ``cross_entropy``
        (softmax), ``binary_cross_entropy`` (logistic outputs), ``half_mse`` (the regressor's
        ``"squared_error"``), ``poisson``, or the regressor's own chainrule Loss.
        """
        X = self._check_input(X, "gradients")
        if scipy.sparse.issparse(X):
            X = X.toarray()
        return gradients(self._net(), X, self._targets_for(y), self._chainrule_loss(), per_sample=per_sample)

    def explain(self, X: Any, y: Any, layer: int, j: int, k: int | None = None, **kwargs: Any) -> Explanation:
        """:func:`chainrule.explain` for weight ``w_jk^(layer)`` (or bias ``b_j^(layer)`` with
        ``k=None``) of the fitted network: the article's three terms with ``X``'s numbers."""
        X = self._check_input(X, "explain")
        if scipy.sparse.issparse(X):
            X = X.toarray()
        return explain(self._net(), X, self._targets_for(y), layer, j, k, loss=self._chainrule_loss(), **kwargs)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, computed by chainrule.

    Every parameter has scikit-learn's meaning and default (see its documentation). Several
    classes: a softmax output with the cross-entropy; two classes: one logistic output; an
    indicator matrix ``y`` (multilabel): one logistic output per label. Solvers ``"adam"``,
    ``"sgd"`` (with ``learning_rate`` ``"constant"``, ``"invscaling"`` or ``"adaptive"``) and
    ``"lbfgs"``.

    The same ``random_state`` gives scikit-learn's model, to rounding:

    >>> import numpy as np, sklearn.neural_network
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=500, random_state=0)
    >>> clf = MLPClassifier(**params).fit(X, y)
    >>> theirs = sklearn.neural_network.MLPClassifier(**params).fit(X, y)
    >>> clf.score(X, y), clf.n_iter_ == theirs.n_iter_, np.allclose(clf.predict_proba(X), theirs.predict_proba(X))
    (0.98, True, True)
    >>> clf.coefs_[0].shape, clf.network_.W[1].shape
    ((4, 16), (16, 4))
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
    ) -> None:
        self._keep(locals())

    def _output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _chainrule_loss(self) -> str:
        return "binary_cross_entropy" if self.out_activation_ == "logistic" else "cross_entropy"

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        X, y = _validate(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, dtype=(np.float64, np.float32), reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise ChainruleError(str(exc)) from None
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ChainruleError(
                f"y is {kind}: a classifier takes one label per sample, or an indicator matrix of 0/1 "
                "columns (multilabel); for several labelled outputs use sklearn.multioutput.MultiOutputClassifier"
            )
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ChainruleError(
                        "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                        f"Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ChainruleError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X, self._label_binarizer.transform(y).astype(X.dtype)

    def _codes(self, Y: Any) -> Any:
        """Each row's class index (several classes: the largest entry) or 0/1 codes (one logistic
        output, or each label of a multilabel model: above 0.5) from outputs or encoded targets
        ``Y`` in their own array library: the labels' positions, as LabelBinarizer decodes them."""
        xp = array_namespace(Y)
        if self._label_binarizer.y_type_ == "multiclass":
            return xp.argmax(Y, axis=1)
        codes = xp.astype(Y > 0.5, xp.int64)
        return codes[:, 0] if self.n_outputs_ == 1 else codes

    def _validation_targets(self, Y: Any) -> Any:
        """The validation rows' labels (their class codes on another array library's device)."""
        if isinstance(Y, np.ndarray):
            return self._label_binarizer.inverse_transform(Y)
        return self._codes(Y)

    def _validation_predict(self, X: Any) -> Any:
        """The predicted labels (their class codes, computed on the device, for another library's ``X``)."""
        if isinstance(X, np.ndarray) or scipy.sparse.issparse(X):
            return self._predict(X, check_input=False)
        return self._codes(self._forward(X))

    def _targets_for(self, y: Any) -> np.ndarray:
        check_is_fitted(self, "coefs_")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        unseen = np.setdiff1d(unique_labels(y), self.classes_)
        if unseen.size:
            raise ChainruleError(
                f"y holds labels {shown(unseen.tolist())} that are not in classes_ {shown(self.classes_.tolist())}"
            )
        try:
            return self._label_binarizer.transform(y).astype(np.float64)
        except ValueError as exc:  # a 2-D y for a model fitted on labels, or the other way round
            raise ChainruleError(f"y: {exc}") from None

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Fit the model to ``X`` (samples in rows, dense or sparse) and the labels ``y``
        (or an indicator matrix for multilabel), optionally with ``sample_weight``."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)  # type: ignore[return-value]

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``; the first call needs ``classes`` (every label that will occur).
        Only for the stochastic solvers, as in scikit-learn."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ChainruleError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ChainruleError(
                f"`classes={shown(list(classes))}` is not the same as on last call to partial_fit, was: "
                f"{shown(list(self.classes_))}"
            )
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)  # type: ignore[return-value]

    def _predict(self, X: Any, check_input: bool = True) -> np.ndarray:
        if check_input:
            X = self._check_input(X, "predict")
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel() if isinstance(y_pred, np.ndarray) else y_pred[:, 0]
        if isinstance(y_pred, np.ndarray):
            return self._label_binarizer.inverse_transform(y_pred)
        labels = self._label_binarizer.inverse_transform(_to_numpy(y_pred))  # back in the model's library
        net = self._net()
        return net.xp.asarray(labels, device=net.device) if labels.dtype.kind in "biuf" else labels

    def predict(self, X: Any) -> np.ndarray:
        """The predicted class of each sample (an indicator matrix for multilabel)."""
        return self._predict(X)

    def _score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)`` in the order of ``classes_``."""
        y_pred = self._forward(self._check_input(X, "predict_proba"))
        if self.n_outputs_ != 1:
            return y_pred
        if isinstance(y_pred, np.ndarray):
            y_pred = y_pred.ravel()
            return np.vstack([1 - y_pred, y_pred]).T
        xp = self._net().xp
        return xp.concat([1 - y_pred, y_pred], axis=1)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        check_is_fitted(self, "coefs_")
        self._same_namespace(X, "predict_log_proba")
        y_prob = self.predict_proba(X)
        if not isinstance(y_prob, np.ndarray):
            return self._net().xp.log(y_prob)
        with np.errstate(divide="ignore"):
            return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, computed by chainrule.

    ``loss="squared_error"`` (half the squared error averaged over samples and outputs, identity
    output) or ``"poisson"`` (half the Poisson deviance, exponential output), as in scikit-learn;
    or any chainrule :class:`~chainrule.losses.Loss` for an identity output, such as the article's
    own ``chainrule.losses.SquaredError()``. Every other parameter has scikit-learn's meaning.

    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, n_features=3, noise=0.1, random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=500, random_state=0)
    >>> reg.fit(X, y / y.std()).score(X, y / y.std()) > 0.95
    True
    """

    def __init__(
        self,
        loss: str | Loss = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
    ) -> None:
        self._keep(locals())

    def _check_loss(self) -> None:
        if isinstance(self.loss, Loss):
            get_loss(self.loss).check_output(ACTIVATIONS["identity"]())
        elif not isinstance(self.loss, str) or self.loss not in _REGRESSION_LOSSES:
            raise unknown_name("loss", self.loss, _REGRESSION_LOSSES)

    def _output_activation(self) -> str:
        return "exp" if isinstance(self.loss, str) and self.loss == "poisson" else "identity"

    def _chainrule_loss(self) -> str | Loss:
        if isinstance(self.loss, Loss):
            return self.loss
        return "poisson" if self.loss == "poisson" else "half_mse"

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        X, y = _validate(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if isinstance(self.loss, str) and self.loss == "poisson" and (y < 0).any():
            raise ChainruleError("loss='poisson' needs targets y >= 0; y holds negative values")
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y)

    def _targets_for(self, y: Any) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Fit the model to ``X`` (samples in rows, dense or sparse) and the targets ``y`` (one
        column or several), optionally with ``sample_weight``."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)  # type: ignore[return-value]

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X, y`` (stochastic solvers only, as in scikit-learn)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)  # type: ignore[return-value]

    def _predict(self, X: Any, check_input: bool = True) -> np.ndarray:
        if check_input:
            X = self._check_input(X, "predict")
        y_pred = self._forward(X)
        if y_pred.shape[1] != 1:
            return y_pred
        return y_pred.ravel() if isinstance(y_pred, np.ndarray) else y_pred[:, 0]

    def predict(self, X: Any) -> np.ndarray:
        """The network's output for each sample (1-D for one output)."""
        return self._predict(X)

    def _score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        return self._score_with_function(X, y, sample_weight, r2_score)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
