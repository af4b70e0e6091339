"""gradients(): fused and unfused paths agree, results are fresh, per-sample and weighted means."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.losses import CrossEntropy

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on each computational path

PAIRS = [
    ("relu", "softmax", "cross_entropy"),
    ("tanh", "sigmoid", "binary_cross_entropy"),
    ("sigmoid", "sigmoid", "squared_error"),
    ("softplus", "softmax", "mse"),
    ("leaky_relu", "identity", "squared_error"),
    ("tanh", "exp", "poisson"),
    ("exp", "identity", "squared_error"),
]


def _problem(hidden, out, loss, n=9, seed=0):
    rng = np.random.default_rng(seed)
    net = cr.Network([5, 6, 4, 3], activation=hidden, output_activation=out, seed=seed)
    X = rng.normal(size=(n, 5))
    Y = rng.integers(0, 3, size=n)
    return net, X, Y


@pytest.mark.parametrize("hidden,out,loss", PAIRS)
def test_fused_and_unfused_agree(hidden, out, loss):
    net, X, Y = _problem(hidden, out, loss)
    fast = cr.gradients(net, X, Y, loss=loss, fused=True)
    slow = cr.gradients(net, X, Y, loss=loss, fused=False)
    assert slow.g_prime is not None and not hasattr(fast, "g_prime")
    with pytest.raises(
        cr.ChainruleError, match=r"g_prime is only kept with fused=False: call gradients\(\.\.\., fused=False\)"
    ):
        _ = fast.g_prime
    for l in range(1, 4):
        np.testing.assert_allclose(fast.delta[l], slow.delta[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fast.dW[l], slow.dW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fast.db[l], slow.db[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fast.dC0_da[l], slow.dC0_da[l], rtol=1e-12, atol=1e-15)


def test_unfused_factors_multiply_to_delta_and_gradient():
    net, X, Y = _problem("tanh", "sigmoid", "squared_error")
    g = cr.gradients(net, X, Y, fused=False)
    for l in range(1, 4):
        # delta = (term 1) * (term 2); dC/dw_jk = mean_i delta_ij * (term 3)_ik
        np.testing.assert_allclose(g.delta[l], g.dC0_da[l] * g.g_prime[l], rtol=1e-15)
        three_terms = g.dC0_da[l][:, :, None] * g.g_prime[l][:, :, None] * g.trace.a[l - 1][:, None, :]
        np.testing.assert_allclose(g.dW[l], three_terms.mean(axis=0), rtol=1e-12, atol=1e-16)


def test_softmax_unfused_path_uses_the_full_jacobian():
    net, X, Y = _problem("tanh", "softmax", "squared_error")
    g = cr.gradients(net, X, Y, fused=False)
    assert g.g_prime[3].shape == (9, 3, 3)
    np.testing.assert_allclose(g.delta[3], np.einsum("nm,nmj->nj", g.dC0_da[3], g.g_prime[3]), rtol=1e-14)


def test_cross_entropy_shortcut_is_a_minus_y_for_one_hot():
    net, X, Y = _problem("relu", "softmax", "cross_entropy")
    g = cr.gradients(net, X, Y, loss="cross_entropy")
    np.testing.assert_allclose(g.delta[3], g.trace.a[3] - np.eye(3)[Y], rtol=1e-15)


def test_cross_entropy_fused_is_stable_when_softmax_saturates():
    # z so large that a_j underflows to 0 for the true class: -y/a is inf, the fused a - y is exact
    net = cr.Network.from_weights([np.array([[800.0], [-800.0]])], np.zeros((1, 2)), activation="softmax")
    g = cr.gradients(net, [[1.0]], [1], loss="cross_entropy")
    assert np.isfinite(g.C) and g.C == pytest.approx(1600.0)
    np.testing.assert_allclose(g.dW[1], [[1.0], [-1.0]])
    assert np.isinf(g.dC0_da[1][0, 1])  # the unfused first term, shown as it is


def test_binary_cross_entropy_is_stable_when_sigmoid_saturates():
    net = cr.Network.from_weights([np.array([[100.0]])], activation="sigmoid")
    g = cr.gradients(net, [[1.0]], [0.0], loss="binary_cross_entropy")
    assert g.C == pytest.approx(100.0)
    np.testing.assert_allclose(g.dW[1], [[1.0]])


def test_soft_targets_for_cross_entropy():
    """Targets that are not one-hot: delta = a * sum(y) - y, checked against finite differences."""
    net = cr.Network([2, 3], activation="softmax", seed=1)
    X, Y = np.array([[0.3, -0.7], [1.0, 0.2]]), np.array([[0.2, 0.5, 0.3], [0.0, 0.4, 0.4]])
    res = cr.gradcheck(net, X, Y, loss="cross_entropy", tol=1e-7)
    assert res.ok, str(res)
    g = cr.gradients(net, X, Y, loss="cross_entropy")
    a = g.trace.a[1]
    np.testing.assert_allclose(g.delta[1], a * Y.sum(axis=1, keepdims=True) - Y, rtol=1e-14)
    assert CrossEntropy().fused_delta(cr.get_activation("sigmoid"), a, Y) is None


def test_results_are_fresh_on_every_call():
    net, X, Y = _problem("sigmoid", "sigmoid", "squared_error")
    g1 = cr.gradients(net, X, Y)
    saved = [d.copy() for d in g1.dW]
    g2 = cr.gradients(net, X, Y)
    for l in range(1, 4):
        assert g2.dW[l] is not g1.dW[l]
        assert not np.shares_memory(g2.dW[l], g1.dW[l])
        np.testing.assert_array_equal(g1.dW[l], saved[l - 1])  # not accumulated into
        np.testing.assert_array_equal(g2.dW[l], saved[l - 1])


def test_inputs_are_not_mutated():
    net, X, Y = _problem("relu", "softmax", "cross_entropy")
    X0, W0 = X.copy(), [W.copy() for W in net.W]
    cr.gradients(net, X, Y, loss="cross_entropy", per_sample=True)
    cr.gradients(net, X, Y, loss="cross_entropy", fused=False)
    np.testing.assert_array_equal(X, X0)
    for W, W_0 in zip(net.W, W0):
        np.testing.assert_array_equal(W, W_0)


def test_per_sample_shapes_and_mean():
    net, X, Y = _problem("tanh", "softmax", "cross_entropy", n=7)
    ps = cr.gradients(net, X, Y, loss="cross_entropy", per_sample=True)
    mean = cr.gradients(net, X, Y, loss="cross_entropy")
    for l in range(1, 4):
        assert ps.dW[l].shape == (7, *net.W[l].shape)
        assert ps.db[l].shape == (7, net.sizes[l])
        np.testing.assert_allclose(ps.dW[l].mean(axis=0), mean.dW[l], rtol=1e-12, atol=1e-16)
    assert ps.flat().shape == (7, net.n_params)
    np.testing.assert_allclose(ps.flat().mean(axis=0), mean.flat(), rtol=1e-12, atol=1e-16)
    assert ps.C == pytest.approx(mean.C)


def test_per_sample_allocates_no_more_than_its_result():
    tracemalloc = pytest.importorskip("tracemalloc")
    net = cr.Network([50, 40, 10], seed=0)
    X, Y = np.random.default_rng(0).normal(size=(200, 50)), np.zeros((200, 10))
    result_bytes = 200 * (50 * 40 + 40 + 40 * 10 + 10) * 8
    tracemalloc.start()
    g = cr.gradients(net, X, Y, per_sample=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sum(d.nbytes for d in g.dW) + sum(d.nbytes for d in g.db) == result_bytes
    assert peak < 1.3 * result_bytes  # the result, the trace and small change: no (n, j, k) temporaries


def test_cost_function_matches_gradients_C():
    net, X, Y = _problem("sigmoid", "softmax", "cross_entropy")
    assert cr.cost(net, X, Y, loss="cross_entropy") == pytest.approx(
        cr.gradients(net, X, Y, loss="cross_entropy").C, rel=1e-14
    )
    w = np.arange(1, 10)
    assert cr.cost(net, X, Y, "cross_entropy", sample_weight=w) == pytest.approx(
        cr.gradients(net, X, Y, "cross_entropy", sample_weight=w).C, rel=1e-14
    )


def test_labels_accepted_as_column_and_as_float():
    net, X, Y = _problem("sigmoid", "softmax", "cross_entropy")
    ref = cr.gradients(net, X, Y, loss="cross_entropy")
    for variant in (Y[:, None], Y.astype(float), np.eye(3)[Y]):
        np.testing.assert_allclose(cr.gradients(net, X, variant, loss="cross_entropy").dW[1], ref.dW[1], rtol=1e-15)
