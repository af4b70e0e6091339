"""chainrule's estimators side by side with scikit-learn's: the same random_state gives the same
model, epoch for epoch, and every behaviour the issue lists (penalty scaling, stopping epoch,
partial_fit, live coefs_, solvers, outputs, sparse and float32 input, sample weights, verbose)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sklearn = pytest.importorskip("sklearn")

import scipy.sparse  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_digits,
    make_classification,
    make_multilabel_classification,
    make_regression,  # noqa: E402
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkRegressor  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(kind: str, n: int = 120, seed: int = 0):
    if kind == "multiclass":
        X, y = make_classification(n, 6, n_informative=4, n_classes=3, random_state=seed)
    elif kind == "binary":
        X, y = make_classification(n, 6, n_informative=4, random_state=seed)
    elif kind == "multilabel":
        X, y = make_multilabel_classification(n, 6, n_classes=3, random_state=seed)
        X = X / X.max()
    elif kind == "regression":
        X, y = make_regression(n, 6, noise=1.0, random_state=seed)
        y = y / y.std()
    else:  # several outputs
        X, y = make_regression(n, 6, n_targets=3, noise=1.0, random_state=seed)
        y = y / y.std(axis=0)
    return X, y


def _pair(kind: str, **params):
    ours, theirs = (MLPRegressor, SkRegressor) if kind.startswith("regression") else (MLPClassifier, SkClassifier)
    return ours(**params), theirs(**params)


def _assert_same_model(a, b, rtol=1e-9, atol=1e-12):
    assert len(a.coefs_) == len(b.coefs_)
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    "kind,params",
    [
        ("multiclass", dict(solver="adam", alpha=1e-2, batch_size=16)),
        ("binary", dict(solver="sgd", learning_rate_init=0.05, batch_size=32, activation="tanh")),
        ("multilabel", dict(solver="sgd", nesterovs_momentum=False, activation="logistic", batch_size=25)),
        ("regression", dict(solver="sgd", learning_rate="invscaling", power_t=0.25, learning_rate_init=0.05)),
        ("regression", dict(solver="adam", shuffle=False, activation="identity", alpha=0.5, batch_size=50)),
        ("multiclass", dict(solver="sgd", momentum=0.0, batch_size=7, learning_rate="adaptive", tol=0.5)),
    ],
)
def test_the_same_random_state_gives_scikit_learns_model(kind, params):
    """Same initial weights, sample order and steps: the weights agree to rounding after 8 epochs,
    and so do loss_curve_, n_iter_, t_ and the attributes scikit-learn sets."""
    X, y = _data(kind)
    ours, theirs = _pair(kind, hidden_layer_sizes=(7, 5), max_iter=8, random_state=3, **params)
    ours.fit(X, y)
    theirs.fit(X, y)
    _assert_same_model(ours, theirs, rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.out_activation_ == theirs.out_activation_
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "best_loss_", "n_features_in_", "loss_"):
        assert getattr(ours, name) == pytest.approx(getattr(theirs, name), rel=1e-9), name
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    np.testing.assert_allclose(
        ours.predict_proba(X) if kind != "regression" else ours.predict(X),
        theirs.predict_proba(X) if kind != "regression" else theirs.predict(X),
        rtol=1e-7,
    )


def test_lbfgs_reaches_scikit_learns_optimum():
    X, y = _data("multiclass")
    ours, theirs = _pair("multiclass", solver="lbfgs", hidden_layer_sizes=(8,), max_iter=60, random_state=0)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-3, abs=1e-6)
    assert ours.n_iter_ <= 60 and ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=0.02)
    assert not hasattr(ours, "loss_curve_")  # as in scikit-learn: lbfgs keeps no curve


def test_lbfgs_max_fun_limits_function_evaluations_and_warns():
    X, y = _data("regression")
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        reg = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(8,), max_fun=5, tol=0, random_state=0).fit(X, y)
    assert reg.n_iter_ <= 5


def test_alpha_is_scaled_as_scikit_learn_scales_it():
    """The issue's case: digits, alpha=1, batch 90, SGD. Dividing the penalty by the batch's
    sample count (not once per batch) keeps the weights from collapsing."""
    X, y = load_digits(return_X_y=True)
    X = X / 16
    params = dict(alpha=1.0, batch_size=90, solver="sgd", learning_rate_init=0.05, max_iter=20, random_state=0)
    ours, theirs = MLPClassifier(**params).fit(X, y), SkClassifier(**params).fit(X, y)
    assert ours.score(X, y) > 0.9 and ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=0.01)
    _assert_same_model(ours, theirs, rtol=1e-6, atol=1e-9)


def test_stopping_epoch_matches_scikit_learn():
    """n_iter_no_change counts as scikit-learn counts (stop after n_iter_no_change + 1 epochs
    without improvement by tol), on the training loss and, with early stopping, on the
    validation score: same epoch, same validation scores, the best epoch's weights restored."""
    X, y = _data("multiclass", n=200)
    for params in (dict(tol=1e-3, n_iter_no_change=3), dict(early_stopping=True, tol=1e-2, n_iter_no_change=4)):
        ours, theirs = _pair("multiclass", hidden_layer_sizes=(6,), max_iter=400, random_state=1, **params)
        ours.fit(X, y)
        theirs.fit(X, y)
        assert ours.n_iter_ == theirs.n_iter_ < 400
        assert ours._no_improvement_count == theirs._no_improvement_count
        if ours.early_stopping:
            np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
            assert ours.best_validation_score_ == theirs.best_validation_score_ and ours.best_loss_ is None
        _assert_same_model(ours, theirs, rtol=1e-7, atol=1e-10)


def test_partial_fit_is_reproducible_and_matches_scikit_learn():
    X, y = _data("multiclass")
    models = [MLPClassifier(hidden_layer_sizes=(5,), random_state=0, batch_size=20) for _ in range(2)]
    theirs = SkClassifier(hidden_layer_sizes=(5,), random_state=0, batch_size=20)
    for _ in range(4):
        for m in (*models, theirs):
            m.partial_fit(X, y, classes=[0, 1, 2])
    _assert_same_model(models[0], models[1], rtol=0, atol=0)
    _assert_same_model(models[0], theirs)
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        models[0].partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        models[0].partial_fit(X, y + 5)
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


def test_coefs_and_intercepts_are_the_models_own_arrays():
    X, y = _data("multiclass")
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    assert np.shares_memory(clf.coefs_[0], clf.network_.W[1]) and clf.coefs_[0].shape == (6, 5)
    clf.coefs_[1][:] = 0  # in place
    clf.intercepts_[1][:] = [0.0, 1.0, 0.0]
    np.testing.assert_allclose(clf.predict_proba(X), np.tile(np.exp([0, 1, 0]) / np.exp([0, 1, 0]).sum(), (120, 1)))
    clf.coefs_[0] = np.zeros((6, 5))  # a new array in the list
    clf.coefs_[1] = np.ones((5, 3))
    clf.intercepts_ = [np.zeros(5), np.array([0.0, 0.0, 2.0])]  # a new list
    np.testing.assert_allclose(clf.predict_proba(X)[0], np.exp([0, 0, 2]) / np.exp([0, 0, 2]).sum())
    assert np.shares_memory(clf.coefs_[0], clf.network_.W[1])  # adopted: views again
    assert not np.allclose(before, clf.predict_proba(X))
    clf.coefs_[0] = np.zeros((4, 5))
    with pytest.raises(cr.ChainruleError, match="coefs_ make a network of 4 inputs; this estimator was fitted on 6"):
        clf.predict(X)


def test_coefs_assigned_before_partial_fit_are_trained():
    """scikit-learn's own worked example (its test_fit) in brief: hand-set weights, one SGD step."""
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    params = dict(
        solver="sgd",
        learning_rate_init=0.1,
        alpha=0.1,
        activation="logistic",
        hidden_layer_sizes=2,
        momentum=0,
        random_state=1,
    )
    models = [MLPClassifier(**params), SkClassifier(**params)]
    for m in models:
        m.coefs_ = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]]), np.array([[0.1], [0.2]])]
        m.intercepts_ = [np.array([0.1, 0.1]), np.array([1.0])]
        m.n_outputs_, m.n_layers_, m.out_activation_, m.n_iter_, m.t_ = 1, 3, "logistic", 0, 0
        m.n_features_in_, m.best_loss_, m.loss_curve_, m._no_improvement_count = 3, np.inf, [], 0
        m.partial_fit(X, y, classes=[0, 1])
    _assert_same_model(*models, rtol=1e-12)


def test_binary_has_one_logistic_output_and_multilabel_one_per_label():
    X, y = _data("binary")
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    assert clf.coefs_[-1].shape == (4, 1) and clf.out_activation_ == "logistic"
    assert clf.network_.g[2].name == "sigmoid"
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2) and np.allclose(proba.sum(1), 1)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    X, Y = _data("multilabel")
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, Y)
    assert clf.coefs_[-1].shape == (4, 3) and clf.predict(X).shape == Y.shape
    assert set(np.unique(clf.predict(X))) <= {0, 1}


def test_sparse_input_gives_the_dense_result_without_densifying(monkeypatch):
    X, y = _data("multiclass")
    X[np.abs(X) < 0.8] = 0
    dense = MLPClassifier(hidden_layer_sizes=(5, 4), max_iter=6, random_state=0, batch_size=30).fit(X, y)
    for container in (scipy.sparse.csr_matrix, scipy.sparse.csc_array):
        Xs = container(X)
        monkeypatch.setattr(type(Xs), "toarray", lambda *a, **k: pytest.fail("densified"))
        sparse = MLPClassifier(hidden_layer_sizes=(5, 4), max_iter=6, random_state=0, batch_size=30).fit(Xs, y)
        _assert_same_model(dense, sparse, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), rtol=1e-10)
        monkeypatch.undo()
    lbfgs = [
        MLPRegressor(solver="lbfgs", hidden_layer_sizes=(3,), max_iter=20, random_state=0).fit(Z, y)
        for Z in (X, scipy.sparse.csr_matrix(X))
    ]
    _assert_same_model(*lbfgs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_float32_trains_and_predicts_in_float32(solver):
    X, y = _data("regression")
    reg32 = MLPRegressor(solver=solver, hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(
        X.astype(np.float32), y
    )
    reg64 = MLPRegressor(solver=solver, hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(X, y)
    assert all(a.dtype == np.float32 for a in reg32.coefs_ + reg32.intercepts_)
    assert reg32.predict(X.astype(np.float32)).dtype == np.float32
    assert reg32.score(X, y) == pytest.approx(reg64.score(X, y), abs=0.02)


def test_sample_weight_equals_repeating_samples():
    """Full-batch L-BFGS: weight 2 is the sample twice, penalty included (it divides by the weights' sum)."""
    X, y = _data("multiclass", n=40)
    w = np.arange(40) % 3
    keep = np.repeat(np.arange(40), w)
    params = dict(solver="lbfgs", hidden_layer_sizes=(4,), max_iter=30, random_state=0, alpha=0.1)
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(**params).fit(X[keep], y[keep])
    _assert_same_model(weighted, repeated, rtol=1e-6, atol=1e-8)
    sk = SkClassifier(**params).fit(X, y, sample_weight=w)
    assert weighted.loss_ == pytest.approx(sk.loss_, rel=1e-4)


def test_verbose_prints_scikit_learns_lines(capsys):
    X, y = _data("binary", n=40)
    kw = dict(solver="sgd", max_iter=3, verbose=True, hidden_layer_sizes=(3,), random_state=0, early_stopping=True)
    MLPClassifier(**kw).fit(X, y)
    ours = capsys.readouterr().out
    SkClassifier(**kw).fit(X, y)
    theirs = capsys.readouterr().out
    assert ours.splitlines()[0].startswith("Iteration 1, loss = ") and "Validation score: " in ours
    assert [line.split("=")[0] for line in ours.splitlines()] == [line.split("=")[0] for line in theirs.splitlines()]
    MLPRegressor(solver="lbfgs", max_iter=2, verbose=1, hidden_layer_sizes=(3,), random_state=0).fit(X, y)
    assert capsys.readouterr().out.startswith("Iteration 1, loss = ")


def test_divergence_keeps_finite_weights_and_says_so():
    X, y = _data("regression")
    reg = MLPRegressor(solver="sgd", learning_rate_init=10.0, activation="identity", max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights.*Training diverged"):
            reg.fit(X * 1e3, y)
    assert all(np.isfinite(c).all() for c in reg.coefs_ + reg.intercepts_)
    assert np.isnan(reg.loss_curve_[-1]) and np.isfinite(reg.predict(X)).all()


def test_multi_output_gradient_is_the_gradient_of_the_loss():
    """scikit-learn issue #8349: its training gradient for n_L outputs is n_L times its loss's.
    chainrule follows the mathematics: the gradient it trains with is the loss's own (central
    differences of the loss), which is 1/n_L of scikit-learn's, and exactly half the article's
    squared_error gradient divided by n_L."""
    X, Y = _data("regression3", n=30)
    sk = SkRegressor(hidden_layer_sizes=(4,), activation="tanh", alpha=0.0, max_iter=3, random_state=0).fit(X, Y)
    ours = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", alpha=0.0, max_iter=3, random_state=0).fit(X, Y)
    _assert_same_model(ours, ours)  # fitted
    net = ours.network_
    for c, s in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        c[...] = s  # the same point
    from chainrule.sklearn import _Objective

    objective = _Objective(net, cr.get_loss("half_mse"), 0.0)
    C, grad = objective(X, Y, None, float(len(X)))
    grad = grad.copy()
    assert C == pytest.approx(((Y - ours.predict(X)) ** 2).mean() / 2, rel=1e-12)
    h, p = 1e-6, net._flat
    for i in (0, 5, 17, p.size - 1):
        old = p[i]
        p[i] = old + h
        up = objective(X, Y, None, float(len(X)))[0]
        p[i] = old - h
        down = objective(X, Y, None, float(len(X)))[0]
        p[i] = old
        assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-6)
    article = cr.gradients(net, X, Y, loss="squared_error")
    np.testing.assert_allclose(grad, article.flat() / (2 * Y.shape[1]), rtol=1e-12)
    theirs = _sklearn_gradient(sk, X, Y)  # scikit-learn's own training gradient, in chainrule's layout
    np.testing.assert_allclose(theirs, article.flat() / 2, rtol=1e-10)  # exactly half the article's


def _sklearn_gradient(sk, X, Y):
    """scikit-learn's training gradient from its private _backprop, laid out as chainrule's vector."""
    n = len(sk.coefs_)
    acts = [X] + [None] * n
    deltas = [None] * n
    cg = [np.empty_like(c) for c in sk.coefs_]
    ig = [np.empty_like(b) for b in sk.intercepts_]
    _, cg, ig = sk._backprop(X, Y, None, acts, deltas, cg, ig)
    return np.concatenate([np.concatenate([c.T.ravel(), b]) for c, b in zip(cg, ig)])


def test_explain_and_per_sample_gradients_on_a_fitted_estimator():
    X, y = _data("multiclass", n=30)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0).fit(X, y)
    e = clf.explain(X[:1], y[:1], layer=1, j=2, k=3)
    g = clf.gradients(X, y, per_sample=True)
    assert g.dW[1].shape == (30, 5, 6) and e.mean == pytest.approx(g.dW[1][0, 2, 3], rel=1e-12)
    np.testing.assert_allclose(g.dW[1].mean(0), clf.gradients(X, y).dW[1], rtol=1e-10, atol=1e-14)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["multiclass", "binary", "multilabel", "regression"]),
    solver=st.sampled_from(["adam", "sgd"]),
    activation=st.sampled_from(["identity", "logistic", "tanh", "relu"]),
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
    batch_size=st.sampled_from(["auto", 1, 7, 50]),
    alpha=st.sampled_from([0.0, 1e-4, 0.3]),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    nesterov=st.booleans(),
    learning_rate=st.sampled_from(["constant", "invscaling", "adaptive"]),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_any_stochastic_configuration_matches_scikit_learn(
    kind, solver, activation, hidden, batch_size, alpha, momentum, nesterov, learning_rate, shuffle, seed
):
    X, y = _data(kind, n=40, seed=seed % 7)
    params = dict(
        hidden_layer_sizes=hidden,
        activation=activation,
        solver=solver,
        batch_size=batch_size,
        alpha=alpha,
        momentum=momentum,
        nesterovs_momentum=nesterov,
        learning_rate=learning_rate,
        shuffle=shuffle,
        random_state=seed,
        max_iter=3,
        learning_rate_init=0.01,
    )
    ours, theirs = _pair(kind, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X, y)
        theirs.fit(X, y)
    _assert_same_model(ours, theirs, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_the_numpy_solver_steps_agree_with_the_compiled_ones(solver):
    """Without numba the solvers step with NumPy operations; the compiled pass gives the same model."""
    X, y = _data("multiclass")
    params = dict(hidden_layer_sizes=(6,), solver=solver, alpha=0.01, max_iter=5, random_state=0, batch_size=16)
    compiled = MLPClassifier(**params).fit(X, y)
    with cr.backend("numpy"):
        plain = MLPClassifier(**params).fit(X, y)
    _assert_same_model(compiled, plain, rtol=1e-9, atol=1e-12)


def test_array_api_dispatch_everything_follows_X():
    """With scikit-learn's array_api_dispatch, a model fitted on PyTorch tensors keeps its network,
    coefs_ and intercepts_ as tensors (live views, on X's device) and predicts tensors; another
    library's X is refused as scikit-learn's check_same_namespace does; partial_fit continues."""
    torch = pytest.importorskip("torch")
    from sklearn import config_context

    X, y = _data("multiclass")
    numpy_model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    with config_context(array_api_dispatch=True):
        model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(
            torch.tensor(X), torch.tensor(y)
        )
        assert model.network_.library == "torch" and all(isinstance(c, torch.Tensor) for c in model.coefs_)
        proba = model.predict_proba(torch.tensor(X))
        assert isinstance(proba, torch.Tensor) and isinstance(model.predict(torch.tensor(X)), torch.Tensor)
        np.testing.assert_allclose(proba.numpy(), numpy_model.predict_proba(X), rtol=1e-10)
        model.coefs_[1][:] = 0  # live views: the model computes with them
        model.intercepts_[1][:] = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
        expected = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).softmax(0)
        torch.testing.assert_close(model.predict_proba(torch.tensor(X)), expected.expand(len(X), 3))
        with pytest.raises(ValueError, match=r"MLPClassifier.predict\(\): X must use the same namespace"):
            model.predict(X)
        model.partial_fit(torch.tensor(X), torch.tensor(y))
        assert model.network_.library == "torch" and model.t_ == 21 * len(X)


def test_partial_fit_after_new_coefs_of_another_shape_starts_a_fresh_solver():
    X, y = _data("binary", n=40)
    model = MLPClassifier((4,), random_state=0, solver="sgd").partial_fit(X, y, classes=[0, 1])
    model.hidden_layer_sizes = (6,)
    model.coefs_, model.intercepts_ = [np.zeros((6, 6)), np.zeros((6, 1))], [np.zeros(6), np.zeros(1)]
    model.partial_fit(X, y)
    assert model._optimizer.size == model.network_.n_params == 6 * 6 + 6 + 6 + 1
