"""scikit-learn estimators backed by chainrule, and weights to and from scikit-learn (extra ``sklearn``).

:class:`MLPClassifier` and :class:`MLPRegressor` follow scikit-learn's estimator API (and pass its
``check_estimator``): hyper-parameters in the constructor, ``fit`` / ``partial_fit`` /
``predict`` / ``score``, learned attributes with a trailing underscore. ``coefs_[i]`` and
``intercepts_[i]`` are laid out as scikit-learn's (``coefs_[i]`` is ``(n_in, n_out)``, the
transpose of chainrule's ``W[i + 1]``); ``network_`` is the chainrule :class:`~chainrule.Network`,
and ``explain(X, y, layer, j, k)`` explains any of its weights. (To bring a network trained by
scikit-learn itself into chainrule, see :func:`chainrule.interop.from_sklearn`.)

Loss scales. scikit-learn's MLPRegressor minimises half the mean over samples *and* outputs,
``(1 / (2 n n_L)) sum_i sum_j (a_ij - y_ij)^2`` (plus ``alpha ||W||^2 / (2 n)``); the article's
``squared_error`` cost is ``(1 / n) sum_i sum_j (a_ij - y_ij)^2``, so its gradients are
``2 n_L`` times scikit-learn's (2 for one output), and chainrule's ``mse`` (mean over outputs)
gives gradients exactly twice scikit-learn's. For classifiers both use the cross-entropy averaged
over samples, so the gradients agree (scikit-learn's binary classifier has one logistic output
where :class:`MLPClassifier` has a softmax over two).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError("chainrule.sklearn needs scikit-learn: pip install 'chainrule[sklearn]'") from exc

from ._validation import as_bool, as_float, as_int, as_seed
from .activations import ACTIVATIONS
from .errors import ChainruleError, shown, unknown_name
from .explain import Explanation, explain
from .losses import LOSSES
from .network import Network
from .optim import SGD, Adam, Optimizer
from .train import Callback, _verbose, fit

__all__ = ["InputTypeError", "MLPClassifier", "MLPRegressor"]

from .interop import SKLEARN_ACTIVATIONS as _SKLEARN_ACTIVATIONS


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


class _NoImprovement(Callback):
    """scikit-learn's stopping rule: stop when the monitored loss has not improved by ``tol``
    for ``n_iter_no_change`` consecutive epochs."""

    def __init__(self, tol: float, patience: int, monitor: str) -> None:
        self.tol, self.patience, self.monitor = tol, patience, monitor
        self.best, self.wait = np.inf, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        from .train import StopTraining

        value = logs[self.monitor]
        if value > self.best - self.tol:
            self.wait += 1
        else:
            self.wait = 0
        self.best = min(self.best, value)
        if self.wait >= self.patience:
            raise StopTraining(f"no improvement of {self.monitor} by tol={self.tol} for {self.patience} epochs")


class _BaseMLP(BaseEstimator):
    """Shared machinery of the two estimators."""

    _loss: str
    _output: str

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        loss: str | None = None,
        solver: str = "adam",
        learning_rate_init: float = 0.001,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        max_iter: int = 200,
        shuffle: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    def _check_params(self) -> None:
        """Every hyper-parameter checked before any work, as scikit-learn's estimators do in ``fit``;
        a bad one raises ChainruleError (a ValueError) naming it, what it must be and what it is."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, (bool, np.bool_)):
            sizes = [sizes]
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
            raise ChainruleError(
                f"hidden_layer_sizes must be a whole number or a sequence of them, e.g. (100,); "
                f"got {shown(self.hidden_layer_sizes)} ({type(self.hidden_layer_sizes).__name__})"
            )
        self._sizes = [as_int("hidden_layer_sizes[i]", n, low=1, high=100_000) for n in list(sizes)]
        names = set(_SKLEARN_ACTIVATIONS) | set(ACTIVATIONS)
        if not isinstance(self.activation, str) or self.activation not in names:
            raise unknown_name("activation", self.activation, names)
        if self.loss is not None and (not isinstance(self.loss, str) or self.loss not in LOSSES):
            raise unknown_name("loss", self.loss, LOSSES)
        if not isinstance(self.solver, str) or self.solver not in ("adam", "sgd"):
            raise unknown_name("solver", self.solver, ("adam", "sgd"))
        as_float("learning_rate_init", self.learning_rate_init, low=0, low_open=True)
        as_float("momentum", self.momentum, low=0, high=1, high_open=True)
        as_bool("nesterovs_momentum", self.nesterovs_momentum)
        as_float("beta_1", self.beta_1, low=0, high=1, high_open=True)
        as_float("beta_2", self.beta_2, low=0, high=1, high_open=True)
        as_float("epsilon", self.epsilon, low=0, low_open=True)
        as_float("alpha", self.alpha, low=0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            as_int("batch_size ('auto' or a whole number)", self.batch_size, low=1)
        as_int("max_iter", self.max_iter, low=1)
        as_bool("shuffle", self.shuffle)
        as_bool("early_stopping", self.early_stopping)
        as_float("validation_fraction", self.validation_fraction, low=0, high=1, low_open=True, high_open=True)
        as_int("n_iter_no_change", self.n_iter_no_change, low=1)
        as_float("tol", self.tol, low=0)
        _verbose(self.verbose)
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):  # scikit-learn's own kind: draw a seed from it, as its estimators do
            self._seed: Any = int(rs.randint(np.iinfo(np.int32).max))
        else:
            self._seed = rs
            as_seed("random_state", rs)  # None, an int >= 0 or a numpy Generator

    def _optimizer(self) -> Optimizer:
        if self.solver == "adam":
            return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon, weight_decay=self.alpha)
        if self.solver == "sgd":
            return SGD(
                self.learning_rate_init,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum and self.momentum > 0,
                weight_decay=self.alpha,
            )
        raise unknown_name("solver", self.solver, ("adam", "sgd"))

    def _new_network(self, n_in: int, n_out: int) -> Network:
        return Network(
            [n_in, *self._sizes, n_out],
            activation=_SKLEARN_ACTIVATIONS.get(self.activation, self.activation),
            output_activation=self._output,
            seed=self._seed,
        )

    def _train(self, X: np.ndarray, Y: np.ndarray, epochs: int, fresh: bool) -> None:
        n = X.shape[0]
        bs = min(200, n) if self.batch_size == "auto" else int(self.batch_size)
        use_val = fresh and self.early_stopping and n >= 10
        stopper = _NoImprovement(self.tol, self.n_iter_no_change, "val_loss" if use_val else "loss")
        if fresh or not hasattr(self, "_optimizer_state"):
            self._optimizer_state = self._optimizer()
        history = fit(
            self.network_,
            X,
            Y,
            loss=self.loss or self._loss,
            epochs=epochs,
            batch_size=min(bs, n),
            optimizer=self._optimizer_state,
            shuffle=self.shuffle,
            seed=self._seed if fresh else None,
            validation_fraction=self.validation_fraction if use_val else None,
            restore_best=use_val,
            callbacks=[stopper] if fresh else [],
            verbose=self.verbose,
        )
        if history.stopped and history.stopped.startswith(("diverged", "interrupted")):
            raise ChainruleError(f"training {history.stopped}")
        self.loss_curve_ = ([] if fresh else list(getattr(self, "loss_curve_", []))) + list(history.loss)
        self.n_iter_ = (0 if fresh else getattr(self, "n_iter_", 0)) + history.epochs
        self.loss_ = self.loss_curve_[-1]
        self.history_ = history

    @property
    def coefs_(self) -> list[np.ndarray]:
        """scikit-learn's layout: ``coefs_[i]`` is ``(n_in, n_out)``, the transpose of ``network_.W[i + 1]``."""
        check_is_fitted(self, "network_")
        return [W.T.copy() for W in self.network_.W]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "network_")
        return [b.copy() for b in self.network_.b]  # type: ignore[union-attr]

    @property
    def n_layers_(self) -> int:
        check_is_fitted(self, "network_")
        return self.network_.L + 1

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = _validate(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.network_.predict(X)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier trained by chainrule: softmax output, cross-entropy.

    Hyper-parameters follow scikit-learn's ``MLPClassifier``. Labels of any type are encoded
    to ``classes_``; the network has one softmax output per class (two for a binary problem).

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95, clf.coefs_[0].shape, clf.network_.W[1].shape
    (True, (4, 16), (16, 4))
    """

    _loss = "cross_entropy"
    _output = "softmax"

    def _targets(self, y: Any, first: bool, classes: Any = None) -> np.ndarray:
        try:
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
        except ValueError as exc:  # y of several columns, continuous values, ...
            raise ChainruleError(str(exc)) from None
        if first:
            self._encoder = LabelEncoder().fit(y if classes is None else classes)
            self.classes_ = self._encoder.classes_
            if self.classes_.size < 2:
                raise ChainruleError(
                    f"a classifier needs samples of at least two classes; y holds one class only: {self.classes_[0]!r}"
                )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ChainruleError(
                f"y holds labels {shown(unseen.tolist())} that are not in classes_ {shown(self.classes_.tolist())}"
            )
        return self._encoder.transform(y)

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train a new network on ``X`` (samples in rows) and the labels ``y``."""
        self._check_params()
        X, y = _validate(self, X, y, dtype=[np.float64, np.float32], y_numeric=False, multi_output=False)
        labels = self._targets(y, first=True)
        self.network_ = self._new_network(X.shape[1], self.classes_.size)
        self._train(X, labels, self.max_iter, fresh=True)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One more epoch on ``X, y``; the first call needs ``classes`` (every label that will occur)."""
        self._check_params()
        first = not hasattr(self, "network_")
        if first and classes is None:
            raise ChainruleError("the first call to partial_fit needs classes=, every label that will occur")
        X, y = _validate(self, X, y, dtype=[np.float64, np.float32], reset=first, multi_output=False)
        labels = self._targets(y, first=first, classes=classes)
        if first:
            self.network_ = self._new_network(X.shape[1], self.classes_.size)
        self._train(X, labels, 1, fresh=first)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)`` in the order of ``classes_``."""
        return self._outputs(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def explain(self, X: Any, y: Any, layer: int, j: int, k: int | None = None, **kwargs: Any) -> Explanation:
        """:func:`chainrule.explain` for a weight (or bias) of the fitted network, on labels ``y``."""
        check_is_fitted(self, "network_")
        X = _validate(self, X, reset=False, dtype=[np.float64, np.float32])
        labels = self._targets(y, first=False)
        return explain(self.network_, X, labels, layer, j, k, loss=self.loss or self._loss, **kwargs)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor trained by chainrule: identity output, ``mse`` loss
    (the mean over outputs of the squared error; see the module docstring for the scale).

    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, n_features=3, noise=0.1, random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=500, random_state=0)
    >>> reg.fit(X, y / y.std()).score(X, y / y.std()) > 0.95
    True
    """

    _loss = "mse"
    _output = "identity"

    def _targets(self, y: Any) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Train a new network on ``X`` and the targets ``y`` (one column or several)."""
        self._check_params()
        X, y = _validate(self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True)
        Y = self._targets(y)
        self.network_ = self._new_network(X.shape[1], Y.shape[1])
        self._train(X, Y, self.max_iter, fresh=True)
        return self

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One more epoch on ``X, y``."""
        self._check_params()
        first = not hasattr(self, "network_")
        X, y = _validate(self, X, y, dtype=[np.float64, np.float32], reset=first, multi_output=True, y_numeric=True)
        Y = self._targets(y)
        if first:
            self.network_ = self._new_network(X.shape[1], Y.shape[1])
        self._train(X, Y, 1, fresh=first)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The network's output for each sample (1-D when trained on a 1-D ``y``)."""
        out = self._outputs(X)
        return out[:, 0] if self._y_1d else out

    def explain(self, X: Any, y: Any, layer: int, j: int, k: int | None = None, **kwargs: Any) -> Explanation:
        """:func:`chainrule.explain` for a weight (or bias) of the fitted network."""
        check_is_fitted(self, "network_")
        X = _validate(self, X, reset=False, dtype=[np.float64, np.float32])
        return explain(
            self.network_, X, np.asarray(y, dtype=np.float64), layer, j, k, loss=self.loss or self._loss, **kwargs
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
