"""The scikit-learn estimators under scikit-learn's array_api_dispatch: X of another array library
(PyTorch on the CPU, array-api-strict) trains in that library and on its device, and the same
random_state gives the NumPy fit's model to rounding: weights, loss curve, stopping epoch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
array_api_compat = pytest.importorskip("array_api_compat")

from sklearn import config_context  # noqa: E402
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression  # noqa: E402

import chainrule.sklearn as cr_sklearn  # noqa: E402
from chainrule import article  # noqa: E402
from chainrule.errors import ChainruleError  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _libraries() -> list:
    found = []
    for name in ("torch", "array_api_strict"):
        try:
            found.append(pytest.param(__import__(name), id=name))
        except ImportError:
            found.append(pytest.param(None, id=name, marks=pytest.mark.skip(reason=f"{name} is not installed")))
    return found


LIBRARIES = _libraries()


def _data(kind: str, n: int = 90):
    if kind == "binary":
        X, y = make_classification(n, 5, n_informative=3, random_state=0)
    elif kind == "multiclass":
        X, y = make_classification(n, 5, n_informative=3, n_classes=3, random_state=0)
    elif kind == "multilabel":
        X, y = make_multilabel_classification(n, 5, n_classes=3, random_state=0)
        X = X / X.max()
    else:
        X, y = make_regression(n, 5, n_targets=2, noise=1.0, random_state=0)
        y = y / y.std(axis=0)
    return X, y


def _numpy(a):
    """A fitted attribute as NumPy (tensor or array-api-strict array)."""
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.from_dlpack(a)


def _fit(xp, Est, params, X, y, **kwargs):
    with config_context(array_api_dispatch=True):
        return Est(**params).fit(xp.asarray(X), xp.asarray(y), **kwargs)


def _assert_same_fit(model, reference, rtol=1e-10):
    for ours, theirs in zip(model.coefs_ + model.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_allclose(_numpy(ours), theirs, rtol=rtol, atol=rtol * np.abs(theirs).max())
    assert model.n_iter_ == reference.n_iter_
    if hasattr(reference, "loss_curve_"):
        np.testing.assert_allclose(model.loss_curve_, reference.loss_curve_, rtol=rtol)
        assert all(type(v) is float for v in model.loss_curve_)
        if reference.best_loss_ is None:
            assert model.best_loss_ is None
        else:
            np.testing.assert_allclose(model.best_loss_, reference.best_loss_, rtol=rtol)
    np.testing.assert_allclose(model.loss_, reference.loss_, rtol=rtol)


SOLVERS = [
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    dict(solver="sgd", momentum=0.8, nesterovs_momentum=False, learning_rate="invscaling", power_t=0.3),
    dict(solver="sgd", momentum=0.0, learning_rate="adaptive", tol=0.5),
    dict(solver="adam"),
    dict(solver="lbfgs"),
]


@pytest.mark.parametrize("xp", LIBRARIES)
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("solver", SOLVERS, ids=lambda p: "-".join(f"{v}" for v in p.values()))
def test_training_in_another_library_gives_the_numpy_model(xp, kind, solver):
    X, y = _data(kind)
    Est = MLPRegressor if kind == "regression" else MLPClassifier
    params = dict(hidden_layer_sizes=(6, 4), max_iter=25, random_state=0, batch_size=20, alpha=0.01)
    params.update(learning_rate_init=0.02, **solver)
    reference = Est(**params).fit(X, y)
    model = _fit(xp, Est, params, X, y)
    _assert_same_fit(model, reference, rtol=1e-9 if solver["solver"] == "lbfgs" else 1e-10)
    namespace = array_api_compat.array_namespace(*model.coefs_, *model.intercepts_)
    assert namespace is array_api_compat.array_namespace(xp.asarray(X))
    assert {str(array_api_compat.device(c)) for c in model.coefs_} == {str(array_api_compat.device(xp.asarray(X)))}
    assert model.network_.library == xp.__name__


@pytest.mark.parametrize("xp", LIBRARIES)
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_early_stopping_with_sample_weight_scores_in_the_other_library(xp, kind, solver):
    X, y = _data(kind, n=120)
    Est = MLPRegressor if kind == "regression" else MLPClassifier
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=40, random_state=1, batch_size=16)
    params.update(early_stopping=True, n_iter_no_change=4, learning_rate_init=0.03, validation_fraction=0.25)
    w = np.random.RandomState(0).uniform(0.2, 2.0, len(X))
    reference = Est(**params).fit(X, y, sample_weight=w)
    with config_context(array_api_dispatch=True):
        model = Est(**params).fit(xp.asarray(X), xp.asarray(y), sample_weight=xp.asarray(w))
    _assert_same_fit(model, reference)
    np.testing.assert_allclose(model.validation_scores_, reference.validation_scores_, rtol=1e-12)
    assert all(type(v) is float for v in model.validation_scores_)
    assert model.best_validation_score_ == pytest.approx(reference.best_validation_score_, rel=1e-12)


@pytest.mark.parametrize("xp", LIBRARIES)
def test_partial_fit_and_warm_start_continue_in_the_other_library(xp):
    X, y = _data("multiclass")
    params = dict(hidden_layer_sizes=(5,), random_state=0, solver="sgd", learning_rate_init=0.05, batch_size=30)
    reference = MLPClassifier(**params)
    with config_context(array_api_dispatch=True):
        model = MLPClassifier(**params)
        for _ in range(3):
            reference.partial_fit(X, y, classes=[0, 1, 2])
            model.partial_fit(xp.asarray(X), xp.asarray(y), classes=[0, 1, 2])
        assert array_api_compat.array_namespace(model._optimizer.velocity) is array_api_compat.array_namespace(
            xp.asarray(X)
        )
    _assert_same_fit(model, reference)
    assert model.t_ == reference.t_ == 3 * len(X)
    # NumPy X moves the model, and its solver's state, back to NumPy; the next fit follows X again
    reference.partial_fit(X, y)
    model.partial_fit(X, y)
    assert isinstance(model.coefs_[0], np.ndarray) and isinstance(model._optimizer.velocity, np.ndarray)
    _assert_same_fit(model, reference)
    warm = dict(params, warm_start=True, max_iter=5)
    reference = MLPClassifier(**warm).fit(X, y).fit(X, y)
    with config_context(array_api_dispatch=True):
        model = MLPClassifier(**warm).fit(xp.asarray(X), xp.asarray(y)).fit(xp.asarray(X), xp.asarray(y))
    _assert_same_fit(model, reference)


@pytest.mark.parametrize("xp", LIBRARIES)
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_float32_trains_in_float32(xp, solver):
    X, y = _data("multiclass")
    X32 = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=15, random_state=0, learning_rate_init=0.01)
    reference = MLPClassifier(**params).fit(X32, y)
    model = _fit(xp, MLPClassifier, params, X32, y)
    assert all(c.dtype == xp.float32 for c in model.coefs_ + model.intercepts_)
    for ours, theirs in zip(model.coefs_, reference.coefs_):
        np.testing.assert_allclose(_numpy(ours), theirs, rtol=1e-4, atol=1e-5)
    with config_context(array_api_dispatch=True):
        proba = model.predict_proba(xp.asarray(X32))
    assert proba.dtype == xp.float32
    np.testing.assert_allclose(_numpy(proba), reference.predict_proba(X32), atol=1e-4)


@pytest.mark.parametrize("xp", LIBRARIES)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_training_runs_in_the_other_library_not_on_numpy(xp, solver, monkeypatch):
    """NumPy's engine is never asked for a gradient: every one is the article's, on X's arrays."""
    calls: list = []
    gradients = article.gradients

    def spy(Ws, bs, gs, X, Y, *args, **kwargs):
        calls.append(array_api_compat.array_namespace(X, *Ws))
        return gradients(Ws, bs, gs, X, Y, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("NumPy's engine computed a gradient")

    monkeypatch.setattr(article, "gradients", spy)
    monkeypatch.setattr(cr_sklearn, "_gradients", refuse)
    X, y = _data("binary")
    params = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=3, random_state=0, batch_size=30)
    model = _fit(xp, MLPClassifier, params, X, y)
    namespace = array_api_compat.array_namespace(xp.asarray(X))
    assert calls and all(ns is namespace for ns in calls)
    if solver != "lbfgs":
        assert len(calls) == 3 * 3  # 3 epochs of 3 batches
    assert model.network_.library == xp.__name__


@pytest.mark.parametrize("xp", LIBRARIES)
def test_divergence_is_caught_in_the_other_library(xp):
    X, y = _data("regression")
    params = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=1e6, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ChainruleError, match="Training diverged"):
            _fit(xp, MLPRegressor, params, X * 1e3, y)


def test_an_array_library_that_cannot_be_written_in_place_is_a_clear_error():
    jnp = pytest.importorskip("jax.numpy")
    X, y = _data("binary")
    with config_context(array_api_dispatch=True):
        with pytest.raises(ChainruleError, match=r"X: a jax.* array under scikit-learn's array_api_dispatch"):
            MLPClassifier(hidden_layer_sizes=(3,), max_iter=2).fit(jnp.asarray(X), jnp.asarray(y))
