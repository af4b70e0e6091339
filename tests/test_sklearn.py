"""scikit-learn's own estimator checks, pipelines and grid search, and weights to and from
scikit-learn and PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

sklearn = pytest.importorskip("sklearn")
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)  # scikit-learn's own short fits

from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.interop import from_sklearn, from_torch, to_torch  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


# Every check runs. check_array_api_input skips itself unless SCIPY_ARRAY_API=1 is set; chainrule
# computes with NumPy alone and does not claim array-API support (its tag says so).
@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_and_grid_search_on_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__learning_rate_init": [1e-3, 3e-3]}, cv=2)
    grid.fit(X_train, y_train)
    assert grid.score(X_test, y_test) > 0.95
    clf = grid.best_estimator_[-1]
    assert clf.coefs_[0].shape == (64, 64) and clf.intercepts_[1].shape == (10,)
    assert clf.n_features_in_ == 64 and clf.n_iter_ >= 1 and len(clf.loss_curve_) == clf.n_iter_
    assert list(clf.classes_) == list(range(10))


def test_learned_attributes_follow_sklearn_layout():
    X, y = make_classification(n_samples=80, n_features=5, n_informative=3, n_classes=3, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(7, 4), max_iter=20, random_state=0).fit(X, np.array(["a", "b", "c"])[y])
    assert [c.shape for c in clf.coefs_] == [(5, 7), (7, 4), (4, 3)]
    for i, c in enumerate(clf.coefs_, start=1):
        np.testing.assert_array_equal(c, clf.network_.W[i].T)
    assert list(clf.classes_) == ["a", "b", "c"] and set(clf.predict(X)) <= {"a", "b", "c"}
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_partial_fit_continues_training():
    X, y = make_classification(n_samples=100, n_features=4, random_state=1)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match=r"classes must be passed on the first call to partial_fit"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1])
    first = clf.loss_curve_[-1]
    for _ in range(20):
        clf.partial_fit(X, y)
    # as in scikit-learn: n_iter_ counts the epochs of the last call, t_ and loss_curve_ all of them
    assert clf.n_iter_ == 1 and clf.t_ == 21 * 100 and len(clf.loss_curve_) == 21 and clf.loss_curve_[-1] < first


def test_explain_method_matches_chainrule_explain():
    X, y = make_classification(n_samples=30, n_features=4, random_state=2)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=30, random_state=0).fit(X, y)
    e = clf.explain(X, y, layer=1, j=2, k=3)
    ref = cr.explain(clf.network_, X, y, layer=1, j=2, k=3, loss="binary_cross_entropy")  # one logistic output
    assert e.mean == ref.mean and e.mean == pytest.approx(e.finite_difference, rel=1e-5)
    reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=30, random_state=0).fit(X, X[:, 0])
    assert reg.explain(X, X[:, 0], layer=2, j=0, k=1).loss.name == "half_mse"


@pytest.mark.parametrize("n_classes", [2, 3])
def test_from_sklearn_classifier_reproduces_predict_proba(n_classes):
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=n_classes, random_state=0)
    sk = SkMLPClassifier(hidden_layer_sizes=(10, 7), activation="tanh", max_iter=50, random_state=0).fit(X, y)
    net = from_sklearn(sk)
    proba = sk.predict_proba(X)
    ours = net.predict(X)
    np.testing.assert_allclose(ours, proba if n_classes > 2 else proba[:, 1:], rtol=1e-12, atol=1e-15)
    assert (net.predict_classes(X) == sk.predict(X)).all()


def test_from_sklearn_regressor_and_explain_a_weight_trained_by_sklearn():
    X, y = make_regression(n_samples=60, n_features=4, n_targets=2, random_state=0)
    sk = SkMLPRegressor(hidden_layer_sizes=(6,), activation="relu", max_iter=30, random_state=0).fit(X, y)
    net = from_sklearn(sk)
    np.testing.assert_allclose(net.predict(X), sk.predict(X), rtol=1e-12, atol=1e-12)
    e = cr.explain(net, X, y, layer=1, j=3, k=2)
    assert e.mean == pytest.approx(e.finite_difference, rel=1e-5, abs=1e-9)


def test_from_sklearn_poisson_regressor_reproduces_its_loss_and_gradient():
    """MLPRegressor(loss="poisson") has an exp output and half the Poisson deviance: chainrule's
    cost is scikit-learn's poisson_loss of its predictions, and the gradient (alpha=0, no L2 term)
    is the finite difference of that loss in scikit-learn's own coefs_."""
    from sklearn.neural_network._base import poisson_loss

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = rng.poisson(np.exp(0.4 * X[:, 0] - 0.2 * X[:, 2]), size=(2, 60)).T.astype(float)
    sk = SkMLPRegressor(hidden_layer_sizes=(5,), loss="poisson", alpha=0.0, max_iter=20, random_state=0).fit(X, y)
    assert sk.out_activation_ == "exp"
    net = from_sklearn(sk)
    assert net.g[2].name == "exp"
    np.testing.assert_allclose(net.predict(X), sk.predict(X), rtol=1e-13)
    ours = cr.gradients(net, X, y, loss="poisson")
    assert ours.C == pytest.approx(poisson_loss(y, sk.predict(X)), rel=1e-12)
    h = 1e-6
    for i, (j, k) in [(0, (1, 2)), (0, (4, 0)), (1, (0, 3)), (1, (1, 1))]:  # coefs_[i][k, j] is w_jk^(i+1)
        old = sk.coefs_[i][k, j]
        sk.coefs_[i][k, j] = old + h
        up = poisson_loss(y, sk.predict(X))
        sk.coefs_[i][k, j] = old - h
        down = poisson_loss(y, sk.predict(X))
        sk.coefs_[i][k, j] = old
        assert ours.dW[i + 1][j, k] == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_loss_scale_factor_against_sklearn():
    """The article's squared_error gradient is 2 n_L times the gradient of scikit-learn's squared
    loss, ``((y - predict(X)) ** 2).mean() / 2`` (no L2 term with alpha=0), by finite differences
    of scikit-learn's own predictions."""
    X, y = make_regression(n_samples=40, n_features=3, n_targets=2, random_state=1)
    y = y / y.std()
    sk = SkMLPRegressor(hidden_layer_sizes=(4,), activation="tanh", alpha=0.0, max_iter=5, random_state=0).fit(X, y)
    ours = cr.gradients(from_sklearn(sk), X, y, loss="squared_error")
    n_L, h = y.shape[1], 1e-6
    for i, (j, k) in [(0, (1, 2)), (0, (3, 0)), (1, (0, 1))]:  # coefs_[i][k, j] is w_jk^(i+1)
        old = sk.coefs_[i][k, j]
        sk.coefs_[i][k, j] = old + h
        up = ((y - sk.predict(X)) ** 2).mean() / 2
        sk.coefs_[i][k, j] = old - h
        down = ((y - sk.predict(X)) ** 2).mean() / 2
        sk.coefs_[i][k, j] = old
        assert ours.dW[i + 1][j, k] == pytest.approx(2 * n_L * (up - down) / (2 * h), rel=1e-6)


@pytest.mark.parametrize(
    "acts",
    [
        ["sigmoid", "softmax"],
        ["tanh", "identity"],
        ["relu", "sigmoid"],
        [{"name": "leaky_relu", "alpha": 0.1}, "softplus"],
    ],
)
@pytest.mark.parametrize("bias", [True, False])
def test_torch_export_and_import_keep_outputs_and_gradients(acts, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    net = cr.Network([4, 6, 3], activation=acts, bias=bias, seed=0)
    if bias:
        net.b[1] = rng.normal(size=6)
    X, Y = rng.normal(size=(5, 4)), rng.uniform(size=(5, 3))
    module = to_torch(net)
    out = module(torch.tensor(X))
    np.testing.assert_allclose(out.detach().numpy(), net.predict(X), rtol=1e-12)
    C = ((out - torch.tensor(Y)) ** 2).sum() / 5
    C.backward()
    linears = [m for m in module if isinstance(m, torch.nn.Linear)]
    g = cr.gradients(net, X, Y)
    for l, lin in enumerate(linears, start=1):
        np.testing.assert_allclose(lin.weight.grad.numpy(), g.dW[l], rtol=1e-10, atol=1e-14)
    back = from_torch(module)
    assert list(back.g) == list(net.g) and back.bias == bias
    for l in (1, 2):
        np.testing.assert_array_equal(back.W[l], net.W[l])
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_from_torch_errors():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with pytest.raises(cr.ChainruleError, match=r"takes an nn.Sequential"):
        from_torch(nn.Linear(2, 2))
    with pytest.raises(cr.ChainruleError, match=r"has no chainrule activation"):
        from_torch(nn.Sequential(nn.Linear(2, 2), nn.GELU()))
    with pytest.raises(cr.ChainruleError, match=r"must follow a Linear layer"):
        from_torch(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))
    with pytest.raises(cr.ChainruleError, match=r"either every Linear layer has a bias or none does"):
        from_torch(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2, bias=False)))
    with pytest.raises(cr.ChainruleError, match=r"is not a fitted scikit-learn MLP"):
        from_sklearn(SkMLPClassifier())


@pytest.mark.slow
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=5),
    acts=st.lists(
        st.sampled_from(["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]), min_size=4, max_size=4
    ),
    bias=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_torch_round_trip_on_random_architectures(sizes, acts, bias, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    net = cr.Network(sizes, activation=acts[: len(sizes) - 1], bias=bias, seed=seed)
    X, Y = rng.normal(size=(3, sizes[0])), rng.normal(size=(3, sizes[-1]))
    module = to_torch(net)
    out = module(torch.tensor(X))
    np.testing.assert_allclose(out.detach().numpy(), net.predict(X), rtol=1e-12, atol=1e-14)
    (((out - torch.tensor(Y)) ** 2).sum() / 3).backward()
    g = cr.gradients(net, X, Y)
    for l, lin in enumerate([m for m in module if isinstance(m, torch.nn.Linear)], start=1):
        np.testing.assert_allclose(lin.weight.grad.numpy(), g.dW[l], rtol=1e-10, atol=1e-13)
    back = from_torch(module)
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


@pytest.mark.parametrize(
    "params,message",
    [
        ({"hidden_layer_sizes": "adam"}, "hidden_layer_sizes must be a whole number or a sequence"),
        ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes[i] must be a whole number >= 1"),
        ({"hidden_layer_sizes": object()}, "hidden_layer_sizes must be a whole number or a sequence"),
        ({"activation": {"a": 1}}, "unknown activation"),
        ({"solver": 1}, "unknown solver 1"),
        ({"solver": "lbfgz"}, "unknown solver 'lbfgz'"),
        ({"learning_rate_init": 0}, "learning_rate_init must be a finite number > 0"),
        ({"momentum": 1.5}, "momentum must be a finite number >= 0 and <= 1"),
        ({"beta_2": "x"}, "beta_2 must be a finite number"),
        ({"batch_size": "big"}, "batch_size ('auto' or a whole number) must be a whole number"),
        ({"batch_size": set()}, "batch_size ('auto' or a whole number) must be a whole number"),
        ({"max_iter": 0}, "max_iter must be a whole number >= 1"),
        ({"early_stopping": np.array([1, 2])}, "early_stopping must be True or False"),
        ({"validation_fraction": 1.0}, "validation_fraction must be a finite number >= 0 and < 1"),
        ({"n_iter_no_change": [3]}, "n_iter_no_change must be a whole number >= 1"),
        ({"tol": float("nan")}, "tol must be a finite number >= 0"),
        ({"random_state": "abc"}, "random_state must be None, a whole number in [0, 2**32)"),
    ],
)
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_bad_hyper_parameters_are_named_before_any_work(Estimator, params, message):
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    with pytest.raises(cr.ChainruleError) as info:
        Estimator(**params).fit(X, y)
    assert message in str(info.value) and len(str(info.value)) < 400


def test_a_random_state_instance_seeds_reproducibly():
    X, y = np.random.default_rng(0).normal(size=(30, 3)), np.arange(30) % 2
    a = MLPClassifier((4,), max_iter=3, random_state=np.random.RandomState(7)).fit(X, y)
    b = MLPClassifier((4,), max_iter=3, random_state=np.random.RandomState(7)).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


@pytest.mark.parametrize(
    "X,y,kind",
    [
        (np.ones(5), np.arange(5) % 2, cr.ChainruleError),  # 1-D X
        ("relu", np.arange(5) % 2, cr.ChainruleError),
        (np.ones((5, 2)) + 1j, np.arange(5) % 2, cr.ChainruleError),
        (np.ones((5, 2)), np.arange(15).reshape(5, 3), cr.ChainruleError),  # several columns of several classes
        (np.ones((5, 2)), np.linspace(0, 1, 5), cr.ChainruleError),  # continuous labels
        (np.ones((5, 2)), np.arange(3), cr.ChainruleError),  # lengths differ
    ],
)
def test_bad_inputs_to_the_classifier_are_chainrule_errors(X, y, kind):
    with pytest.raises(cr.ChainruleError) as info:
        MLPClassifier((3,), max_iter=2).fit(X, y)
    assert isinstance(info.value, kind) and len(str(info.value)) < 420 and "\n" not in str(info.value)


def test_a_type_scikit_learn_refuses_stays_a_type_error():
    from chainrule.sklearn import InputTypeError

    with pytest.raises(InputTypeError) as info:  # both a ChainruleError and a TypeError
        MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(np.ones((5, 2)), "numpy")
    assert isinstance(info.value, TypeError) and isinstance(info.value, cr.ChainruleError)


def test_explain_on_a_fitted_classifier_checks_its_labels():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    clf = MLPClassifier((3,), max_iter=2).fit(X, y)
    with pytest.raises(cr.ChainruleError, match=r"y holds labels \[5\] that are not in classes_"):
        clf.explain(X, [5] * 20, layer=1, j=0, k=0)
    with pytest.raises(cr.ChainruleError, match="not fitted with multilabel input"):
        clf.explain(X, [[0, 1]] * 20, layer=1, j=0, k=0)
