"""Network construction, initialisation, forward pass, dtype and the trace's layer numbers."""

import numpy as np
import pytest
from conftest import ref_g

import chainrule as cr


def test_shapes_follow_the_article():
    net = cr.Network([4, 5, 3, 2], seed=0)
    assert net.L == 3
    for l in range(1, 4):
        assert net.W[l].shape == (net.sizes[l], net.sizes[l - 1])  # W[l][j, k]: to j, from k
        assert net.b[l].shape == (net.sizes[l],)
    assert list(net.W.layers()) == [1, 2, 3]
    assert net.n_params == 4 * 5 + 5 + 5 * 3 + 3 + 3 * 2 + 2


def test_forward_matches_the_sums_and_keeps_z_and_a():
    rng = np.random.default_rng(0)
    net = cr.Network([3, 4, 2], activation=["tanh", "sigmoid"], seed=1)
    net.b[1] = rng.normal(size=4)
    X = rng.normal(size=(5, 3))
    t = net.forward(X)
    np.testing.assert_array_equal(t.a[0], X)
    for l in (1, 2):
        # z_j^(l) = sum_k w_jk^(l) a_k^(l-1) + b_j^(l), one sample and node at a time
        for i in range(5):
            for j in range(net.sizes[l]):
                z = sum(net.W[l][j, k] * t.a[l - 1][i, k] for k in range(net.sizes[l - 1])) + net.b[l][j]
                assert t.z[l][i, j] == pytest.approx(z, rel=1e-12)
        np.testing.assert_allclose(t.a[l], ref_g(net.g[l].name, t.z[l]), rtol=1e-14)
    np.testing.assert_array_equal(net.predict(X), t.output)


def test_one_sample_as_a_vector():
    net = cr.Network([3, 2], seed=0)
    assert net.predict([1.0, 2.0, 3.0]).shape == (1, 2)
    single = cr.Network([1, 2], seed=0)
    assert single.predict([1.0, 2.0, 3.0]).shape == (3, 2)  # n_0 = 1: one value per sample


def test_seed_reproduces_and_generator_is_accepted():
    a = cr.Network([3, 4, 2], seed=7)
    b = cr.Network([3, 4, 2], seed=7)
    c = cr.Network([3, 4, 2], seed=8)
    for l in (1, 2):
        np.testing.assert_array_equal(a.W[l], b.W[l])
    assert not np.array_equal(a.W[1], c.W[1])
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(cr.Network([3, 2], seed=g1).W[1], cr.Network([3, 2], seed=g2).W[1])


def test_initialisation_scales():
    big = 400
    glorot = cr.Network([big, big], activation="tanh", seed=0).W[1]
    r = np.sqrt(6 / (2 * big))
    assert np.abs(glorot).max() <= r
    assert glorot.std() == pytest.approx(r / np.sqrt(3), rel=0.02)  # uniform(-r, r)
    he = cr.Network([big, big], activation="relu", seed=0).W[1]
    assert he.std() == pytest.approx(np.sqrt(2 / big), rel=0.02)
    assert (cr.Network([3, 4], seed=0).b[1] == 0).all()


def test_bias_false_is_the_article_network():
    net = cr.Network([3, 4, 2], bias=False, seed=0)
    assert net.b is None and not net.bias
    g = cr.gradients(net, np.ones((2, 3)), np.zeros((2, 2)))
    assert g.db is None


def test_from_weights_copies_and_never_mutates_callers_arrays():
    W1 = np.array([[0.5, -0.2], [0.1, 0.3]])
    W2 = np.array([[1.0, -1.0]])
    b1 = np.array([0.1, 0.2])
    before = [W1.copy(), W2.copy(), b1.copy()]
    net = cr.Network.from_weights([W1, W2], [b1, np.zeros(1)], activation="tanh")
    net.W[1][0, 0] = 99.0
    net.b[1] += 1
    cr.gradients(net, np.ones((3, 2)), np.zeros((3, 1)))
    for arr, orig in zip([W1, W2, b1], before):
        np.testing.assert_array_equal(arr, orig)
    assert net.W[1] is not W1


def test_from_weights_infers_float32_and_takes_lists():
    net = cr.Network.from_weights([np.ones((2, 3), dtype=np.float32)])
    assert net.dtype == np.float32
    assert cr.Network.from_weights([[[1, 2, 3]]]).dtype == np.float64
    assert cr.Network.from_weights([np.ones((2, 3), dtype=np.float32)], dtype="float64").W[1].dtype == np.float64


def test_weight_assignment_copies_into_the_network_dtype():
    net = cr.Network([2, 2], dtype=np.float32, seed=0)
    new = np.eye(2)
    net.W[1] = new
    assert net.W[1].dtype == np.float32 and net.W[1] is not new


def test_output_activation_and_per_layer_activations():
    net = cr.Network([3, 4, 4, 2], activation="relu", output_activation="softmax", seed=0)
    assert [g.name for g in net.g] == ["relu", "relu", "softmax"]
    net = cr.Network([3, 4, 2], activation=["tanh", "identity"], seed=0)
    assert [g.name for g in net.g] == ["tanh", "identity"]
    assert "activation=['tanh', 'identity']" in repr(net)


def test_copy_is_independent():
    net = cr.Network([3, 4, 2], activation="tanh", seed=0)
    dup = net.copy()
    dup.W[1][0, 0] += 1
    assert dup.W[1][0, 0] != net.W[1][0, 0]
    assert net.copy(np.float32).W[2].dtype == np.float32


@pytest.mark.parametrize(
    "loss,out",
    [("squared_error", "tanh"), ("mse", "identity"), ("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")],
)
@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("fused", [False, True])
def test_float32_stays_float32_end_to_end(loss, out, per_sample, fused):
    net = cr.Network([3, 5, 2], activation="sigmoid", output_activation=out, dtype="float32", seed=0)
    X = np.random.default_rng(0).normal(size=(4, 3))  # float64 data is cast to the network's dtype
    g = cr.gradients(net, X, [0, 1, 1, 0], loss=loss, per_sample=per_sample, fused=fused)
    arrays = [*g.dW, *g.db, *g.dC0_da, *g.delta, *g.trace.a, *g.trace.z, g.C0]
    if not fused:  # the fused path keeps no g_prime (reading it says to use fused=False)
        arrays += list(g.g_prime)
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}
    w = cr.gradients(net, X, [0, 1, 1, 0], loss=loss, sample_weight=[1, 2, 3, 4]) if not per_sample else g
    assert {a.dtype for a in [*w.dW, *w.db]} == {np.dtype(np.float32)}
    assert net.predict(X).dtype == np.float32


def test_float32_gradients_agree_with_float64():
    net64 = cr.Network([6, 8, 3], activation="tanh", seed=0)
    net32 = net64.copy(np.float32)
    X, Y = np.random.default_rng(1).normal(size=(10, 6)), np.random.default_rng(2).normal(size=(10, 3))
    g64, g32 = cr.gradients(net64, X, Y), cr.gradients(net32, X, Y)
    for l in (1, 2):
        np.testing.assert_allclose(g32.dW[l], g64.dW[l], rtol=1e-4, atol=1e-6)


def test_parameters_are_c_contiguous_whatever_comes_in():
    W1 = np.asfortranarray(np.arange(6.0).reshape(3, 2))
    net = cr.Network.from_weights([W1, np.ones((2, 3)).T.T], [np.zeros(3), np.zeros(2)], activation="tanh")
    assert all(p.flags["C_CONTIGUOUS"] for _, _, p in net.parameters())
    net.W[2] = np.asfortranarray(np.ones((2, 3)))
    assert net.W[2].flags["C_CONTIGUOUS"]
    X, Y = np.random.default_rng(0).normal(size=(4, 2)), np.zeros((4, 2))
    assert cr.gradcheck(net, X, Y).ok


def test_parameters_are_views_of_one_vector_also_after_pickling():
    import pickle

    net = cr.Network([3, 4, 2], activation="tanh", seed=0)
    net._flat[:] = np.arange(net.n_params)
    assert net.W[1][0, 1] == 1 and net.b[1][0] == 12 and net.W[2][0, 0] == 16
    back = pickle.loads(pickle.dumps(net))
    back._flat += 1
    assert back.W[2][0, 0] == 17 and back.b[2][1] == net.b[2][1] + 1
    np.testing.assert_array_equal(back.predict(np.ones((1, 3))), back.copy().predict(np.ones((1, 3))))
    net.W[1] = np.zeros((4, 3))  # assignment copies into the same view
    assert net._flat[:12].sum() == 0 and np.shares_memory(net.W[1], net._flat)
