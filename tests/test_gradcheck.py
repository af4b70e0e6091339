"""gradcheck() as a user's tool: it passes correct gradients and catches wrong ones."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import Tanh

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on each computational path


def test_passes_on_correct_gradients_and_reports_every_array():
    net = cr.Network([4, 6, 5, 3], activation="tanh", output_activation="softmax", seed=0)
    X, y = np.random.default_rng(0).normal(size=(8, 4)), np.arange(8) % 3
    res = cr.gradcheck(net, X, y, loss="cross_entropy")
    assert res.ok and bool(res)
    assert [r.name for r in res.rows] == ["W[1]", "b[1]", "W[2]", "b[2]", "W[3]", "b[3]"]
    assert all(r.checked == r.total for r in res.rows)
    assert res.max_rel_error < 1e-6
    assert set(res.by_layer()) == {1, 2, 3}
    text = str(res)
    assert "W[2]" in text and "30/30" in text and "OK" in text


class _WrongTanh(Tanh):
    """A planted bug: the derivative is off by a factor of 2."""

    name = "tanh"

    def g_prime(self, z, a):
        return 2 * super().g_prime(z, a)

    def backward(self, z, a, dC0_da, out=None):
        return np.multiply(dC0_da, self.g_prime(z, a), out=out)


def test_catches_a_wrong_derivative_and_names_the_layers():
    net = cr.Network([3, 4, 2], activation=[_WrongTanh(), "identity"], seed=0)
    X, Y = np.random.default_rng(1).normal(size=(5, 3)), np.random.default_rng(2).normal(size=(5, 2))
    res = cr.gradcheck(net, X, Y)
    assert not res.ok
    by_layer = res.by_layer()
    assert by_layer[1] > 0.1  # the layer behind the wrong g' is off
    assert by_layer[2] < 1e-6  # the output layer is not affected
    assert "FAILED" in str(res)


def test_random_subset_for_large_layers_is_seeded():
    net = cr.Network([30, 40, 2], seed=0)
    X, Y = np.random.default_rng(0).normal(size=(3, 30)), np.zeros((3, 2))
    a = cr.gradcheck(net, X, Y, max_checks=25, seed=3)
    b = cr.gradcheck(net, X, Y, max_checks=25, seed=3)
    assert a.rows[0].checked == 25 and a.rows[0].total == 1200
    assert a.rows[1].checked == 25 and a.rows[3].checked == 2
    assert a == b and a.ok


def test_float32_network_is_checked_in_float64():
    net = cr.Network([3, 4, 2], activation="sigmoid", dtype="float32", seed=0)
    res = cr.gradcheck(net, np.ones((2, 3)), np.zeros((2, 2)))
    assert res.ok and res.max_rel_error < 1e-6
    assert net.W[1].dtype == np.float32  # the user's network is untouched


def test_gradcheck_leaves_the_network_unchanged():
    net = cr.Network([3, 4, 2], seed=0)
    before = [p.copy() for _, _, p in net.parameters()]
    cr.gradcheck(net, np.ones((2, 3)), np.zeros((2, 2)))
    for (_, _, p), q in zip(net.parameters(), before):
        np.testing.assert_array_equal(p, q)


def test_sample_weight_is_honoured():
    net = cr.Network([2, 3, 1], activation="tanh", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(4, 2)), np.random.default_rng(1).normal(size=4)
    assert cr.gradcheck(net, X, Y, sample_weight=[1, 0, 2, 5]).ok


def test_central_difference_perturbs_fortran_ordered_weights_too():
    from chainrule.gradcheck import central_difference
    from chainrule.losses import get_loss

    net = cr.Network([3, 4, 2], activation="tanh", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(5, 3)), np.random.default_rng(1).normal(size=(5, 2))
    g = cr.gradients(net, X, Y)
    net.W._values[0] = np.asfortranarray(net.W[1])  # bypasses the network's own C-order copy on purpose
    fd = central_difference(net, X, Y, get_loss("squared_error"), None, "W", 1, 1 * 3 + 2)
    assert fd == pytest.approx(g.dW[1][1, 2], rel=1e-6)
